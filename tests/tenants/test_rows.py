"""tenants.rows reads and writes exactly what the ORM would: the same values, of the same
types (exact Decimals, JSON, bytes, auto_now dates), in the workspace's schema."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import DataError, IntegrityError, connection, transaction
from django.db.models import FloatField
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bots.models import Bot, BotEvent, Order
from exchanges.actions import do_create_connection
from exchanges.models import PaperBalance
from tenants import rows
from tenants.schemas import in_schema

LONG_AGO = datetime(2001, 2, 3, 4, 5, 6, 789000, tzinfo=UTC)

# A bot with every kind of value the hot paths store: nested JSON with unicode, floats,
# nulls, a string that looks like JSON and an integer past 64 bits; a Decimal with all
# twelve places; bytes with a zero byte; an aware datetime.
RICH_BOT = {
    "name": "Grid € 1",
    "strategy": "grid",
    "symbols": ["BTC/USDT", "ETH/USDT"],
    "params": {"lower_price": "59000", "grid_count": 5, "ratio": 0.25, "flags": [True, False, None],
               "nested": {"é": "ü", "empty": {}, "list": []}, "looks_like_json": '{"a": 1}',
               "big": 12345678901234567890},
    "risk": {"max_loss": "100.5"},
    "memory": {"levels": [{"price": "60000.5", "side": "buy"}], "count": 3},
    "revision": 4,
    "state": Bot.State.RUNNING,
    "state_changed_at": datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC),
    "intent_seq": 2**40,
    "backoff_until": 1700000000.5,
    "last_tick_at": 1700000000.125,
    "last_price": Decimal("60123.456789012345"),
    "needs_reconcile": False,
    "webhook_token_hash": "ab" * 32,
    "webhook_sealed": b"\x00\x01sealed\xff",
    "webhook_key_id": "test2",
}


def typed(value):
    """A value with the types of everything in it, so 1 != 1.0 != True, Decimal("1.5") !=
    Decimal("1.50"), and {"a": 1} != '{"a": 1}'. A bytea column's memoryview counts as bytes."""
    if isinstance(value, memoryview):
        value = bytes(value)
    if isinstance(value, dict):
        return "dict", tuple(sorted((key, typed(item)) for key, item in value.items()))
    if isinstance(value, list):
        return "list", tuple(typed(item) for item in value)
    if isinstance(value, Decimal):
        return "Decimal", str(value)
    return type(value).__name__, value


def values(obj, leave_out=(), *, by_value=False) -> dict:
    """Every stored field of `obj`, typed. `by_value`, to compare an object in memory with
    its row: a Decimal by its value (0.5 == 0.500000000000, still exactly), a choice as its
    string, a float field's int as a float. JSON stays strictly typed."""
    found = {}
    for field in type(obj)._meta.concrete_fields:
        if field.attname in leave_out:
            continue
        value = getattr(obj, field.attname)
        if by_value and isinstance(value, Decimal):
            found[field.attname] = "Decimal", value
        elif by_value and isinstance(value, str):
            found[field.attname] = typed(str(value))
        elif by_value and isinstance(field, FloatField) and value is not None:
            found[field.attname] = typed(float(value))
        else:
            found[field.attname] = typed(value)
    return found


def orm(obj):
    """The row of `obj` as the ORM reads it now."""
    return type(obj).objects.get(pk=obj.pk)


def update(obj, fields=None):
    batch = rows.Batch()
    batch.update(obj, fields)
    batch.run()


def save(obj):
    batch = rows.Batch()
    batch.save(obj)
    batch.run()


class Failed(Exception):
    """What a block raises to be left by an error."""


def order(bot, number, **fields):
    defaults = {"client_order_id": f"rows-{bot.pk}-{number}", "tag": f"level-{number}", "symbol": "BTC/USDT",
                "side": "buy", "type": "limit", "price": Decimal("60000.5"), "amount": Decimal("0.01")}
    return Order(bot=bot, **{**defaults, **fields})


@pytest.fixture
def paper(acme):
    return do_create_connection(acme.tenant, label="Paper", exchange="paper", actor=acme.owner)


@pytest.fixture
def in_acme(acme, paper):
    """The test runs on Acme's schema, where `paper` and its account are."""
    with in_schema(acme.tenant.schema_name):
        yield


@pytest.fixture
def bot(in_acme, paper):
    return Bot.objects.create(connection=paper, **RICH_BOT)


def test_select_returns_instances_equal_field_by_field_to_the_orms(bot, paper):
    filled = Order.objects.create(bot=bot, client_order_id="full", tag="t", symbol="BTC/USDT", side="sell",
                                  type="limit", price=Decimal("61000.000000000001"), amount=Decimal("0.123456789012"),
                                  filled=Decimal("0.1"), average=Decimal("61000"), fee=Decimal("1E-12"),
                                  reduce_only=True, status=Order.Status.CLOSED, error="partly é")
    market = Order.objects.create(bot=bot, client_order_id="market", tag="t", symbol="BTC/USDT", side="buy",
                                  type="market", price=None, amount=Decimal("2"))
    event = BotEvent.objects.create(bot=bot, kind=BotEvent.Kind.NOTE, message="hello",
                                    data={"price": "60000.5", "n": [1, 2.5, None], "ok": True}, alert=True)
    balance = paper.paper_account.balances.get(asset="USDT")

    for stored in (bot, filled, market, event, balance):
        model = type(stored)
        (found,) = rows.select(model, "id = %s", [stored.pk])
        expected = orm(stored)
        assert type(found) is model
        assert values(found) == values(expected), model.__name__
        assert found._state.adding is False and found._state.db == expected._state.db
    (found,) = rows.select(Bot, "id = %s", [bot.pk])
    assert type(found.webhook_sealed) is type(orm(bot).webhook_sealed)


def test_select_honours_where_params_and_order_by(bot):
    amounts = ["0.3", "0.1", "0.4", "0.2"]
    for number, amount in enumerate(amounts):
        status = Order.Status.CLOSED if number == 2 else Order.Status.OPEN
        order(bot, number, amount=Decimal(amount), status=status).save()
    order(bot, 9, symbol="ETH/USDT", status=Order.Status.OPEN).save()

    found = rows.select(Order, "bot_id = %s AND status = %s AND symbol = %s",
                        [bot.pk, Order.Status.OPEN, "BTC/USDT"], order_by="amount DESC")

    expected = Order.objects.filter(bot=bot, status=Order.Status.OPEN, symbol="BTC/USDT").order_by("-amount")
    assert [o.pk for o in found] == [o.pk for o in expected]
    assert [o.amount for o in found] == [Decimal("0.3"), Decimal("0.2"), Decimal("0.1")]


def test_select_returns_an_empty_list_when_nothing_matches(bot):
    assert rows.select(Order, "bot_id = %s", [bot.pk]) == []


def test_get_returns_the_row_that_matches(bot):
    stored = order(bot, 1)
    stored.save()
    order(bot, 2).save()

    found = rows.get(Order, "client_order_id = %s", [stored.client_order_id])

    assert found.pk == stored.pk
    assert values(found) == values(orm(stored))


def test_get_raises_the_models_does_not_exist_when_nothing_matches(bot):
    order(bot, 1).save()

    with pytest.raises(Order.DoesNotExist):
        rows.get(Order, "client_order_id = %s", ["nowhere"])


def test_get_raises_multiple_objects_returned_when_several_rows_match(bot):
    rows.insert(order(bot, 1), order(bot, 2))

    with pytest.raises(Order.MultipleObjectsReturned):
        rows.get(Order, "bot_id = %s", [bot.pk])


def test_insert_of_several_objects_is_one_statement_and_sets_each_pk_in_order(bot):
    orders = [order(bot, number) for number in range(4)]
    Order.objects.exists()  # the schema's search_path is set before counting

    with CaptureQueriesContext(connection) as queries:
        rows.insert(*orders)

    assert len(queries) == 1
    assert queries[0]["sql"].startswith("INSERT")
    assert all(o.pk is not None and o._state.adding is False for o in orders)
    stored = dict(Order.objects.filter(bot=bot).values_list("pk", "client_order_id"))
    assert {o.pk: o.client_order_id for o in orders} == stored


def test_insert_of_nothing_writes_nothing(bot):
    with CaptureQueriesContext(connection) as queries:
        rows.insert()

    assert len(queries) == 0


def test_insert_sets_auto_now_add_and_auto_now_dates(bot):
    new = order(bot, 1)
    before = timezone.now()

    rows.insert(new)

    after = timezone.now()
    assert before <= new.created_at <= after
    assert before <= new.updated_at <= after
    stored = orm(new)
    assert (stored.created_at, stored.updated_at) == (new.created_at, new.updated_at)


def test_insert_writes_the_row_the_orm_writes(in_acme, paper):
    by_orm = Bot.objects.create(connection=paper, **RICH_BOT)
    by_rows = Bot(connection=paper, **RICH_BOT)

    rows.insert(by_rows)

    volatile = ("id", "created_at", "updated_at")
    assert values(orm(by_rows), volatile) == values(orm(by_orm), volatile)
    # What was written is what is read back: the Decimal to the last place, the JSON as
    # it was (no float for an int, no dict for a string that looks like JSON), the bytes.
    assert values(orm(by_rows), by_value=True) == values(by_rows, by_value=True)


def test_insert_rounds_and_stores_decimals_and_nulls_as_the_orm_does(bot):
    fields = {"price": None, "amount": Decimal("0.1234567890125"), "filled": Decimal("1E-12"),
              "average": Decimal("123456789012345678.123456789012"), "fee": Decimal("3")}
    by_orm = order(bot, 1, **fields)
    by_orm.save()
    by_rows = order(bot, 2, **fields)

    rows.insert(by_rows)

    different = ("id", "client_order_id", "tag", "created_at", "updated_at")
    assert values(orm(by_rows), different) == values(orm(by_orm), different)
    assert orm(by_rows).price is None
    assert str(orm(by_rows).average) == "123456789012345678.123456789012"


def test_insert_of_several_events_round_trips_their_json(bot):
    datas = [{"price": "60000.5", "amounts": [1, 2.5, "3"]}, {}, {"nested": {"deep": [None, True, {"x": "é"}]}},
             {"text": '["not", "a", "list"]'}]
    events = [BotEvent(bot=bot, kind=BotEvent.Kind.NOTE, message=f"event {n}", data=data)
              for n, data in enumerate(datas)]

    rows.insert(*events)

    for event, data in zip(events, datas, strict=True):
        assert typed(orm(event).data) == typed(data)
        assert values(orm(event), by_value=True) == values(event, by_value=True)


def test_update_writes_only_the_named_fields_and_the_auto_now_dates(bot):
    stored = order(bot, 1)
    stored.save()
    Order.objects.filter(pk=stored.pk).update(updated_at=LONG_AGO)
    created_at, price = stored.created_at, stored.price
    stored.status = Order.Status.OPEN
    stored.error = "changed in memory only"
    stored.price = Decimal("1")
    stored.created_at = LONG_AGO  # auto_now_add is not auto_now: not written either

    update(stored, ["status"])

    after = orm(stored)
    assert after.status == Order.Status.OPEN
    assert (after.error, after.price, after.created_at) == ("", price, created_at)
    assert after.updated_at == stored.updated_at > LONG_AGO


def test_update_takes_a_foreign_keys_name_or_its_attname(bot, paper):
    other = Bot.objects.create(connection=paper, name="Other", strategy="grid")
    first, second = order(bot, 1), order(bot, 2)
    rows.insert(first, second)
    first.bot, second.bot_id = other, other.pk

    update(first, ["bot"])
    update(second, ["bot_id"])

    assert (orm(first).bot_id, orm(second).bot_id) == (other.pk, other.pk)


def test_update_refuses_a_field_the_model_does_not_have(bot):
    stored = order(bot, 1)
    rows.insert(stored)

    with pytest.raises(ValueError, match="stauts"):
        update(stored, ["stauts"])


def test_update_of_no_fields_writes_nothing(bot):
    balance = PaperBalance.objects.get(asset="USDT")
    balance.free += 1

    with CaptureQueriesContext(connection) as queries:
        update(balance, [])

    assert len(queries) == 0
    assert PaperBalance.objects.get(pk=balance.pk).free == balance.free - 1


def test_update_with_no_field_list_writes_every_field(bot):
    Bot.objects.filter(pk=bot.pk).update(updated_at=LONG_AGO)
    created_at = bot.created_at
    changed = {"name": "Renamed", "symbols": ["ETH/USDT"], "params": {"grid_count": 7, "ratio": 0.5, "s": "{}"},
               "risk": {}, "memory": {"levels": [], "note": None}, "state": Bot.State.PAUSED,
               "state_reason": "why", "state_changed_at": None, "intent_seq": 2**41, "backoff_until": 0.0,
               "last_tick_at": None, "last_price": Decimal("0.000000000001"), "needs_reconcile": True,
               "webhook_sealed": b"", "webhook_token_hash": "", "created_by_id": 42}
    for name, value in changed.items():
        setattr(bot, name, value)

    update(bot)

    assert values(orm(bot), by_value=True) == values(bot, by_value=True)
    assert bot.updated_at > LONG_AGO
    assert orm(bot).created_at == created_at  # auto_now_add: set on insert only, as Model.save


def test_update_of_a_selected_object_writes_what_the_orm_would(bot):
    (selected,) = rows.select(Bot, "id = %s", [bot.pk])
    twin = Bot.objects.get(pk=bot.pk)
    for obj in (selected, twin):
        obj.memory = {**obj.memory, "count": obj.memory["count"] + 1, "extra": [False, "x"]}
        obj.last_price = Decimal("59999.999999999999")

    update(selected, ["memory", "last_price"])
    from_rows = values(orm(bot), ["updated_at"])
    twin.save(update_fields=["memory", "last_price"])

    assert from_rows == values(orm(bot), ["updated_at"])


def test_save_inserts_a_new_object(in_acme, paper):
    account = paper.paper_account
    balance = PaperBalance(account=account, asset="BTC", free=Decimal("0.5"), used=Decimal("0.25"))

    save(balance)

    assert balance.pk is not None and balance._state.adding is False
    assert values(orm(balance), by_value=True) == values(balance, by_value=True)
    assert account.balances.filter(asset="BTC").count() == 1


def test_save_updates_a_stored_object(in_acme, paper):
    balance = rows.get(PaperBalance, "account_id = %s AND asset = %s", [paper.paper_account.pk, "USDT"])
    pk, count = balance.pk, PaperBalance.objects.count()
    balance.free -= Decimal("100.000000000001")
    balance.used += Decimal("100.000000000001")

    save(balance)

    assert balance.pk == pk
    assert PaperBalance.objects.count() == count
    assert values(orm(balance), by_value=True) == values(balance, by_value=True)
    assert orm(balance).free == Decimal("9899.999999999999")


def test_select_and_get_for_update_end_their_sql_with_for_update(bot):
    first, second = order(bot, 1), order(bot, 2)
    rows.insert(first, second)

    with CaptureQueriesContext(connection) as queries:
        locked = rows.select(Order, "bot_id = %s", [bot.pk], order_by="id", for_update=True)
        got = rows.get(Order, "id = %s", [first.pk], for_update=True)
        plain = rows.select(Order, "id = %s", [first.pk])

    selects = [query["sql"] for query in queries if query["sql"].startswith("SELECT")]
    assert len(selects) == 3
    assert selects[0].endswith("ORDER BY id FOR UPDATE")
    assert selects[1].endswith(" FOR UPDATE")
    assert "FOR UPDATE" not in selects[2]
    assert [o.pk for o in locked] == sorted([first.pk, second.pk])
    assert got.pk == plain[0].pk == first.pk


def test_a_batch_sends_its_statements_in_one_round_trip_and_fills_each_result_in_order(bot):
    stored = order(bot, 1)
    rows.insert(stored)
    batch = rows.Batch()
    fresh = order(bot, 2)
    batch.insert(fresh)
    stored.status = Order.Status.OPEN
    batch.update(stored, ["status"])
    orders = batch.select(Order, "bot_id = %s", [bot.pk], order_by="id")
    counted = batch.fetch("SELECT count(*) FROM bots_order WHERE bot_id = %s", [bot.pk])

    with CaptureQueriesContext(connection) as queries:
        batch.run()

    assert len(queries) == 1
    assert fresh.pk is not None and not fresh._state.adding
    # Each statement sees the ones before it.
    assert [(o.pk, o.status) for o in orders] == [(stored.pk, "open"), (fresh.pk, "pending")]
    assert counted == [(2,)]


def test_a_batch_writes_a_primary_key_set_beforehand(bot):
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence('bots_order', 'id'))")
        taken = cursor.fetchone()[0]
    rows.insert(order(bot, 1, id=taken))

    assert Order.objects.get(client_order_id=f"rows-{bot.pk}-1").pk == taken


def test_a_failing_statement_raises_from_run_and_the_ones_after_it_do_not_run(bot):
    rows.insert(order(bot, 1))
    batch = rows.Batch()
    batch.insert(order(bot, 1))  # the same client order id: unique
    after = order(bot, 2)
    batch.insert(after)

    with pytest.raises(IntegrityError), transaction.atomic():
        batch.run()

    assert after.pk is None
    assert not Order.objects.filter(client_order_id=f"rows-{bot.pk}-2").exists()


def test_running_an_empty_batch_sends_nothing(bot):
    with CaptureQueriesContext(connection) as queries:
        rows.Batch().run()

    assert len(queries) == 0


def test_a_batch_on_a_newly_chosen_schema_carries_the_search_path_in_its_round_trip(acme, paper):
    connection.set_schema_to_public()
    with in_schema(acme.tenant.schema_name), CaptureQueriesContext(connection) as queries:
        found = rows.select(Bot, "true")
        again = rows.select(Bot, "true")

    assert found == again == []  # Acme's bots table: public has none
    assert len(queries) == 2
    assert queries[0]["sql"].startswith(f'SET search_path = "{acme.tenant.schema_name}"')
    assert "search_path" not in queries[1]["sql"]


@pytest.mark.usefixtures("transactional_db")
def test_a_failed_batch_leaves_the_search_path_to_be_set_again(acme, paper):
    connection.set_schema_to_public()
    with in_schema(acme.tenant.schema_name):
        batch = rows.Batch()
        batch.fetch("SELECT 1/0")
        with pytest.raises(DataError), CaptureQueriesContext(connection) as failed:
            batch.run()
        # PostgreSQL undid the SET with the failed statement.
        assert failed[0]["sql"].startswith("SET search_path")
        with CaptureQueriesContext(connection) as queries:
            assert rows.select(Bot, "true") == []

    assert queries[0]["sql"].startswith("SET search_path")


@pytest.mark.usefixtures("transactional_db")
def test_a_batch_run_to_commit_ends_the_outermost_transaction_in_its_own_round_trip(acme, paper):
    with in_schema(acme.tenant.schema_name):
        bot = Bot.objects.create(connection=paper, **RICH_BOT)
        with CaptureQueriesContext(connection) as queries, transaction.atomic():
            batch = rows.Batch()
            batch.insert(order(bot, 1))
            batch.run(commit=True)

        assert queries[-1]["sql"].endswith("COMMIT")
        assert connection.connection.info.transaction_status == 0  # idle: nothing left to commit
        assert Order.objects.filter(client_order_id=f"rows-{bot.pk}-1").exists()


def test_a_batch_run_to_commit_inside_a_callers_transaction_leaves_the_commit_to_it(bot):
    # The test runs in a transaction of its own: this block is nested in it.
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        batch = rows.Batch()
        batch.insert(order(bot, 1))
        batch.run(commit=True)

    assert not any(query["sql"].endswith("COMMIT") for query in queries)
    assert connection.connection.info.transaction_status != 0  # still in the test's transaction


@pytest.mark.usefixtures("transactional_db")
def test_an_own_transaction_sends_begin_with_its_first_batch_and_commit_with_its_last(acme, paper):
    with in_schema(acme.tenant.schema_name):
        bot = Bot.objects.create(connection=paper, **RICH_BOT)
        with CaptureQueriesContext(connection) as queries, rows.atomic():
            locked = rows.select(Bot, "id = %s", [bot.pk], for_update=True)
            batch = rows.Batch()
            batch.insert(order(bot, 1))
            batch.run(commit=True)

        assert len(queries) == 2
        assert queries[0]["sql"].startswith("BEGIN;") and "BEGIN" not in queries[1]["sql"]
        assert queries[1]["sql"].endswith("COMMIT")
        assert locked[0].pk == bot.pk
        assert connection.connection.info.transaction_status == 0  # idle
        assert Order.objects.filter(client_order_id=f"rows-{bot.pk}-1").exists()


@pytest.mark.usefixtures("transactional_db")
def test_an_own_transaction_commits_at_its_end_when_no_batch_did(acme, paper):
    with in_schema(acme.tenant.schema_name):
        bot = Bot.objects.create(connection=paper, **RICH_BOT)
        with rows.atomic():
            rows.insert(order(bot, 1))
        assert connection.connection.info.transaction_status == 0
        assert Order.objects.filter(client_order_id=f"rows-{bot.pk}-1").exists()


@pytest.mark.usefixtures("transactional_db")
def test_an_own_transaction_undoes_everything_when_it_fails(acme, paper):
    with in_schema(acme.tenant.schema_name):
        bot = Bot.objects.create(connection=paper, **RICH_BOT)
        with pytest.raises(Failed), rows.atomic():
            rows.insert(order(bot, 1))
            Order.objects.filter(bot=bot).update(status=Order.Status.OPEN)  # the ORM writes in it too
            raise Failed
        # A unique violation in the batch that was to commit: rolled back, not left aborted.
        rows.insert(order(bot, 2))
        with pytest.raises(IntegrityError), rows.atomic():
            batch = rows.Batch()
            batch.insert(order(bot, 3))
            batch.insert(order(bot, 2))
            batch.run(commit=True)

        assert connection.connection.info.transaction_status == 0
        assert list(Order.objects.filter(bot=bot).values_list("client_order_id", flat=True)) == [f"rows-{bot.pk}-2"]


@pytest.mark.usefixtures("transactional_db")
def test_an_orm_statement_before_any_batch_starts_the_own_transaction(acme, paper):
    with in_schema(acme.tenant.schema_name):
        bot = Bot.objects.create(connection=paper, **RICH_BOT)
        with CaptureQueriesContext(connection) as queries, rows.atomic():
            Order.objects.create(**{field: value for field, value in vars(order(bot, 1)).items()
                                    if field in {"bot_id", "client_order_id", "tag", "symbol", "side", "type",
                                                 "price", "amount"}})
            assert connection.connection.info.transaction_status != 0  # in the transaction
            rows.insert(order(bot, 2))

        assert connection.connection.info.transaction_status == 0
        assert queries[-1]["sql"] == "COMMIT"
        assert Order.objects.filter(bot=bot).count() == 2


@pytest.mark.usefixtures("transactional_db")
def test_an_own_transaction_inside_another_leaves_beginning_and_ending_to_the_outer_one(acme, paper):
    with in_schema(acme.tenant.schema_name):
        bot = Bot.objects.create(connection=paper, **RICH_BOT)
        with pytest.raises(Failed), CaptureQueriesContext(connection) as queries, rows.atomic():
            rows.insert(order(bot, 1))
            with rows.atomic():
                batch = rows.Batch()
                batch.insert(order(bot, 2))
                batch.run(commit=True)
            raise Failed

        ends = [query["sql"] for query in queries
                if any(word in query["sql"] for word in ("BEGIN", "COMMIT", "ROLLBACK"))]
        assert ends == [queries[0]["sql"], "ROLLBACK"]
        assert queries[0]["sql"].startswith("BEGIN;")
        assert not Order.objects.filter(bot=bot).exists()


def test_an_own_transaction_inside_a_callers_is_a_savepoint(bot):
    with pytest.raises(ZeroDivisionError), rows.atomic():
        rows.insert(order(bot, 1))
        1 / 0

    assert not Order.objects.filter(bot=bot).exists()
