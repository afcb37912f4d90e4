"""The engine's database work, synchronous (run through sync_to_async), each function
one transaction in one bot's schema.

Two invariants live here. Orders are written as `pending`, with their deterministic
client order id, before the exchange hears of them, and only by the runner that still
holds the shard's lease (the lease row is read FOR SHARE in the same transaction, so a
takeover waits for the write and then sees it). Fills are recorded as increases of an
order's cumulative filled amount, keyed by that amount, so reading the same order
twice, or from two runners, never counts a fill twice.
"""

from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from django.db import IntegrityError, connection as db, transaction
from django.db.models import Sum
from django.utils import timezone

from bots.accounting import Book, apply_fill
from bots.models import Bot, BotEvent, Fill, Order, Position, SeriesPoint
from tenants import rows
from tenants.schemas import in_schema

ZERO = Decimal(0)
STATUS = {"open": Order.Status.OPEN, "closed": Order.Status.CLOSED, "canceled": Order.Status.CANCELED,
          "cancelled": Order.Status.CANCELED, "expired": Order.Status.CANCELED, "rejected": Order.Status.CANCELED}


class LeaseLost(Exception):
    """This runner no longer holds the shard: stop writing for its bots."""


@dataclass(frozen=True)
class Lease:
    shard: int
    owner: str
    generation: int


@dataclass
class Snapshot:
    bot: Bot
    orders: list[Order]  # pending and open
    books: dict[str, Book]
    realized_today: Decimal
    connection: object = None
    events: list = field(default_factory=list)


def load(schema: str, bot_id: int) -> Snapshot | None:
    with in_schema(schema):
        bot = Bot.objects.select_related("connection").filter(pk=bot_id).first()
        if bot is None:
            return None
        orders, books = orders_and_books(schema, bot_id)
        return Snapshot(bot, orders, books, realized_today(bot_id), connection=bot.connection)


def orders_and_books(schema: str, bot_id: int) -> tuple[list[Order], dict[str, Book]]:
    """A bot's pending and open orders, and its position per symbol."""
    with in_schema(schema):
        reads = rows.Batch()
        loaded = read_orders_and_books(reads, "%s", [bot_id])
        reads.run()
        return loaded()


def read_orders_and_books(reads: rows.Batch, bot: str, params: list):
    """Queue orders_and_books' reads on `reads`, the bot's id given as SQL (`bot`, with
    `params`); returns what gives the result once `reads` ran."""
    orders = reads.select(Order, f"bot_id = {bot} AND status IN (%s, %s)",
                          [*params, Order.Status.PENDING, Order.Status.OPEN], order_by="id")
    positions = reads.select(Position, f"bot_id = {bot}", params)
    return lambda: (orders, {p.symbol: Book(p.amount, p.average_price, p.realized_pnl, p.fees) for p in positions})


def realized_today(bot_id: int) -> Decimal:
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    total = Fill.objects.filter(bot_id=bot_id, timestamp__gte=midnight).aggregate(s=Sum("realized_pnl"))["s"]
    return total or ZERO


def begin_order(schema: str, lease: Lease | None, bot_id: int, tenant_id: int, *, tag, symbol, side, type, amount,
                price, reduce_only) -> Order:
    """The pending order, numbered by the bot's intent sequence, in one round trip with
    the lease check. `lease` None: a writer outside the engine (a webhook signal), which
    holds no lease and needs no transaction of its own: the statements travel as one
    query, which PostgreSQL runs as one transaction (inside a caller's transaction, a
    savepoint keeps a refusal from spoiling it)."""
    order = Order(bot_id=bot_id, tag=tag, symbol=symbol, side=side, type=type, amount=amount, price=price,
                  reduce_only=reduce_only)
    protected = lease is not None or db.in_atomic_block
    with in_schema(schema), (transaction.atomic() if protected else nullcontext()):
        table, columns, values = rows.insert_values(order, leave_out=["client_order_id"])
        batch = rows.Batch()
        held = batch.fetch(HOLD_SQL, [lease.shard, lease.owner, lease.generation]) if lease is not None else [True]
        created = batch.fetch(
            "WITH numbered AS (UPDATE bots_bot SET intent_seq = intent_seq + 1 WHERE id = %s RETURNING intent_seq) "
            f"INSERT INTO {table} ({', '.join(columns)}, client_order_id) "
            f"VALUES ({', '.join(['%s'] * len(values))}, %s || (SELECT intent_seq FROM numbered)) "
            "RETURNING id, client_order_id",
            [bot_id, *values, client_order_id(tenant_id, bot_id, "")])
        try:
            batch.run()
        except IntegrityError:
            # No bot row to number the order by: the client order id came out NULL.
            raise LeaseLost(f"bot {bot_id} is gone") from None
        if not held:
            raise LeaseLost(f"shard {lease.shard} is no longer ours")
        (order.pk, order.client_order_id), = created
        order._state.adding = False
        return order


def client_order_id(tenant_id: int, bot_id: int, number: int | str) -> str:
    """Deterministic, unique per workspace, bot and intent; fits every exchange's limit.
    With number "", the prefix the database completes with the bot's next number."""
    return f"av{tenant_id}b{bot_id}n{number}"


HOLD_SQL = ("SELECT 1 FROM public.tenants_shardlease WHERE shard = %s AND owner = %s AND generation = %s "
            "AND expires_at > extract(epoch from clock_timestamp()) FOR SHARE")


def settle(schema: str, order_id: int, reported: dict, quote: str) -> tuple[Order, list[Fill]]:
    """Bring an order in line with what the exchange reports; record new fills once."""
    with in_schema(schema), rows.atomic():
        reads = rows.Batch()
        orders = reads.select(Order, "id = %s", [order_id], for_update=True)
        # The position is locked with the order: the fill, if any, moves it.
        positions = reads.select(Position, "(bot_id, symbol) = (SELECT bot_id, symbol FROM bots_order WHERE id = %s)",
                                 [order_id], for_update=True)
        reads.run()
        order = rows.one(Order, orders)
        writes = rows.Batch()
        fills = []
        filled = _decimal(reported.get("filled")) or ZERO
        if filled > order.filled:
            position = positions[0] if positions else _new_position(order.bot_id, order.symbol)
            fills.append(_record_fill(writes, order, position, reported, filled, quote))
        if reported.get("id"):
            order.exchange_order_id = str(reported["id"])
        status = STATUS.get(str(reported.get("status") or "").lower())
        if status and not (order.status == Order.Status.CLOSED and status != Order.Status.CLOSED):
            order.status = status
        elif order.status == Order.Status.PENDING:
            order.status = Order.Status.OPEN
        writes.update(order)
        writes.run(commit=True)
        return order, fills


def _record_fill(writes: rows.Batch, order: Order, position: Position, reported: dict, filled: Decimal,
                 quote: str) -> Fill:
    average = _decimal(reported.get("average")) or _decimal(reported.get("price")) or order.price
    delta = filled - order.filled
    previous_cost = order.filled * (order.average or ZERO)
    price = ((filled * average - previous_cost) / delta).quantize(Decimal("1e-12"))
    fee_total = _fee_in_quote(reported.get("fee"), order, average, quote)
    fee = max(fee_total - order.fee, ZERO)
    # The order's row lock serialises settling it, and `filled` only grows in the same
    # transaction as its fills: a fill beyond it is new (the unique sequence guards that).
    book, realized = apply_fill(Book(position.amount, position.average_price, position.realized_pnl, position.fees),
                                order.side, delta, price, fee)
    fill = Fill(order=order, sequence=format(filled.normalize(), "f"), bot_id=order.bot_id,
                symbol=order.symbol, side=order.side, price=price, amount=delta, fee=fee,
                realized_pnl=realized, timestamp=_timestamp(reported))
    writes.insert(fill)
    position.amount, position.average_price = book.amount, book.average_price
    position.realized_pnl, position.fees = book.realized_pnl, book.fees
    writes.update(position, ["amount", "average_price", "realized_pnl", "fees"])
    writes.insert(BotEvent(
        bot_id=order.bot_id, kind=BotEvent.Kind.ORDER_FILLED,
        message=f"{order.side.capitalize()} {delta.normalize():f} {order.symbol} at {price.normalize():f} ({order.tag})",
        data={"order": order.client_order_id, "realized_pnl": str(realized)},
    ))
    order.filled, order.average, order.fee = filled, average, fee_total
    return fill


def _new_position(bot_id: int, symbol: str) -> Position:
    """The bot's first position row in `symbol`, empty and locked."""
    with db.cursor() as cursor:
        cursor.execute("INSERT INTO bots_position (bot_id, symbol, amount, average_price, realized_pnl, fees) "
                       "VALUES (%s, %s, 0, 0, 0, 0) ON CONFLICT (bot_id, symbol) DO NOTHING", [bot_id, symbol])
    return rows.get(Position, "bot_id = %s AND symbol = %s", [bot_id, symbol], for_update=True)


def _fee_in_quote(fee, order: Order, price: Decimal, quote: str) -> Decimal:
    if not isinstance(fee, dict) or fee.get("cost") is None:
        return order.fee
    cost = _decimal(fee["cost"]) or ZERO
    currency = fee.get("currency")
    if currency in (None, quote):
        return cost
    if currency == order.symbol.split("/")[0]:
        return (cost * price).quantize(Decimal("1e-12"))
    return order.fee  # paid in a third asset (e.g. BNB): not known in quote here


def fail(schema: str, order_id: int, error: str) -> Order:
    with in_schema(schema), transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.status in (Order.Status.PENDING, Order.Status.OPEN) and not order.filled:
            order.status, order.error = Order.Status.FAILED, error[:500]
            order.save(update_fields=["status", "error", "updated_at"])
            BotEvent.objects.create(bot_id=order.bot_id, kind=BotEvent.Kind.ORDER_FAILED,
                                    message=f"{order.tag}: {error}"[:500], data={"order": order.client_order_id})
        return order


def save_runtime(schema: str, bot_id: int, **fields) -> None:
    with in_schema(schema):
        Bot.objects.filter(pk=bot_id).update(**fields)


def add_events(schema: str, bot_id: int, events: list[tuple[str, str, bool, dict]]) -> None:
    with in_schema(schema):
        rows.insert(*event_rows(bot_id, events))


def event_rows(bot_id: int, events: list[tuple[str, str, bool, dict]]) -> list[BotEvent]:
    return [BotEvent(bot_id=bot_id, kind=kind, message=message[:500], alert=alert, data=data)
            for kind, message, alert, data in events]


def heartbeat(schema: str, beats: dict[int, tuple[float, Decimal | None]], points: list[tuple[int, str, float, Decimal]]) -> None:
    """Last tick time and price of many bots, and their chart points, in two statements."""
    with in_schema(schema), transaction.atomic():
        if beats:
            # One statement for all of them (bulk_update's CASE per row is much slower).
            values = ", ".join(["(%s, %s::double precision, %s::numeric)"] * len(beats))
            params = [value for bot_id, (at, price) in beats.items() for value in (bot_id, at, price)]
            with db.cursor() as cursor:
                cursor.execute(
                    f"UPDATE bots_bot SET last_tick_at = v.at, last_price = v.price "
                    f"FROM (VALUES {values}) AS v(id, at, price) WHERE bots_bot.id = v.id",
                    params,
                )
        SeriesPoint.objects.bulk_create([
            SeriesPoint(bot_id=bot_id, series=series, timestamp=datetime.fromtimestamp(at, UTC), value=value)
            for bot_id, series, at, value in points
        ])


def _decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    return Decimal(str(value))


def _timestamp(reported: dict):
    ms = reported.get("lastTradeTimestamp") or reported.get("timestamp")
    return datetime.fromtimestamp(ms / 1000, UTC) if ms else timezone.now()
