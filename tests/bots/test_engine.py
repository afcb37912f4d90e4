"""The trading engine: a shard runner ticking bots on the paper exchange."""

import time
from decimal import Decimal as D

import pytest
from asgiref.sync import sync_to_async
from django_tenants.utils import schema_context

from bots.actions import do_pause_bot, do_resume_bot, do_start_bot, do_stop_bot, do_update_bot_config
from bots.models import Bot, BotEvent, Fill, Order, Position
from exchanges.models import PaperTrade
from tests.bots.conftest import GRID
from tests.bots.engine import RunnerThread, wait_for

pytestmark = pytest.mark.usefixtures("transactional_db")


def orders(acme, bot, **filters):
    with schema_context(acme.tenant.schema_name):
        return sorted((o.tag, o.status) for o in Order.objects.filter(bot=bot, **filters))


def bot_row(acme, bot):
    with schema_context(acme.tenant.schema_name):
        return Bot.objects.get(pk=bot.pk)


def events(acme, bot, kind):
    with schema_context(acme.tenant.schema_name):
        return list(BotEvent.objects.filter(bot=bot, kind=kind).values_list("message", flat=True))


OPENING = [("grid:buy:0", "open"), ("grid:buy:1", "open"), ("grid:buy:2", "open"), ("grid:init", "closed"),
           ("grid:sell:4", "open")]


def test_a_started_grid_bot_places_its_orders(acme, market, make_bot):
    bot = do_start_bot(acme.tenant, make_bot(), actor=acme.owner)
    with RunnerThread():
        wait_for(lambda: orders(acme, bot) == OPENING)
    assert bot_row(acme, bot).last_tick_at is not None
    with schema_context(acme.tenant.schema_name):
        client_ids = sorted(Order.objects.filter(bot=bot).values_list("client_order_id", flat=True))
    # Deterministic: workspace, bot and intent number.
    assert client_ids == sorted(f"av{acme.tenant.pk}b{bot.pk}n{n}" for n in range(1, 6))


def test_a_fill_is_recorded_once_and_the_opposite_order_follows(acme, market, make_bot):
    bot = do_start_bot(acme.tenant, make_bot(), actor=acme.owner)
    with RunnerThread():
        wait_for(lambda: orders(acme, bot) == OPENING)
        market.hold("BTC/USDT", "59900")  # through the buy at 60,000
        wait_for(lambda: ("grid:sell:3", "open") in orders(acme, bot))
    with schema_context(acme.tenant.schema_name):
        fills = list(Fill.objects.filter(bot=bot).order_by("id").values_list("order__tag", "price", "amount", "fee"))
        position = Position.objects.get(bot=bot)
    # The opening market buy at 60,200 (fee 0.1 % = 0.602), then the buy at 60,000 (fee 0.6).
    assert fills == [("grid:init", D("60200"), D("0.01"), D("0.602")), ("grid:buy:2", D("60000"), D("0.01"), D("0.6"))]
    assert (position.amount, position.average_price, position.realized_pnl) == (D("0.02"), D("60100"), D("-1.202"))


def test_fills_that_happened_while_no_runner_watched_are_recorded_exactly_once(acme, market, make_bot):
    bot = do_start_bot(acme.tenant, make_bot(), actor=acme.owner)
    with RunnerThread():
        wait_for(lambda: orders(acme, bot) == OPENING)
    market.hold("BTC/USDT", "59400")  # nobody is running: buys at 60,000 and 59,500 fill meanwhile
    for _ in range(2):  # a takeover, and another one: the second must find nothing new
        with RunnerThread():
            wait_for(lambda: ("grid:sell:2", "open") in orders(acme, bot) and ("grid:sell:3", "open") in orders(acme, bot))
    with schema_context(acme.tenant.schema_name):
        fill_tags = sorted(Fill.objects.filter(bot=bot).values_list("order__tag", flat=True))
        trades = PaperTrade.objects.count()
        client_ids = list(Order.objects.filter(bot=bot).values_list("client_order_id", flat=True))
    assert fill_tags == ["grid:buy:1", "grid:buy:2", "grid:init"]
    assert trades == 3
    assert len(client_ids) == len(set(client_ids))


def test_pausing_stops_new_orders_within_a_tick_and_resuming_carries_on(acme, market, make_bot):
    bot = do_start_bot(acme.tenant, make_bot(), actor=acme.owner)
    with RunnerThread():
        wait_for(lambda: orders(acme, bot) == OPENING)
        do_pause_bot(acme.tenant, bot, actor=acme.owner)
        market.hold("BTC/USDT", "59900")
        # Paused, it still records the fill of its resting buy, but places nothing new.
        wait_for(lambda: ("grid:buy:2", "closed") in orders(acme, bot))
        assert ("grid:sell:3", "open") not in orders(acme, bot)
        do_resume_bot(acme.tenant, bot, actor=acme.owner)
        wait_for(lambda: ("grid:sell:3", "open") in orders(acme, bot))


def test_stopping_cancels_the_open_orders_then_marks_the_bot_stopped(acme, market, make_bot):
    bot = do_start_bot(acme.tenant, make_bot(), actor=acme.owner)
    with RunnerThread():
        wait_for(lambda: orders(acme, bot) == OPENING)
        do_stop_bot(acme.tenant, bot, actor=acme.owner)
        wait_for(lambda: bot_row(acme, bot).state == Bot.State.STOPPED)
    assert orders(acme, bot, status="open") == []
    assert "Stopped; open orders cancelled." in events(acme, bot, BotEvent.Kind.STOPPED)


def test_new_settings_reach_a_running_bot_on_its_next_tick(acme, market, make_bot):
    bot = do_start_bot(acme.tenant, make_bot(), actor=acme.owner)
    with RunnerThread():
        wait_for(lambda: orders(acme, bot) == OPENING)
        do_update_bot_config(acme.tenant, bot, actor=acme.owner, params={**GRID, "lower_price": "58000"})
        wait_for(lambda: ("grid:buy:0", "canceled") in orders(acme, bot))
        wait_for(lambda: ("grid:buy:0", "open") in orders(acme, bot))
    assert bot_row(acme, bot).applied_revision == 2


def test_repeated_order_failures_trip_the_circuit_breaker(acme, market, make_bot):
    # 100 BTC per level cannot be paid for: every placement fails.
    bot = do_start_bot(acme.tenant, make_bot(params={**GRID, "amount_per_level": "100"}, risk={"circuit_breaker": 3}),
                       actor=acme.owner)
    with RunnerThread():
        wait_for(lambda: bot_row(acme, bot).state == Bot.State.PAUSED)
    paused = bot_row(acme, bot)
    assert paused.state_reason.startswith("Circuit breaker: 3 consecutive failures.")
    with schema_context(acme.tenant.schema_name):
        assert BotEvent.objects.filter(bot=bot, kind=BotEvent.Kind.RISK_STOP, alert=True).exists()


def test_the_max_position_value_counts_open_orders_and_skips_what_goes_beyond(acme, market, make_bot):
    # Each level is 0.01 BTC, about 600 USDT: with at most 1,000 USDT of exposure only the
    # first buy fits; the others, and the opening buy, are skipped.
    bot = do_start_bot(acme.tenant, make_bot(risk={"max_position_value": "1000"}), actor=acme.owner)
    with RunnerThread():
        wait_for(lambda: len(events(acme, bot, BotEvent.Kind.RISK_STOP)) >= 3)
    assert orders(acme, bot) == [("grid:buy:0", "open")]
    assert all("beyond the maximum value" in m for m in events(acme, bot, BotEvent.Kind.RISK_STOP))


def test_a_stop_loss_closes_the_position_and_pauses_with_an_alert(acme, market, make_bot):
    bot = do_start_bot(acme.tenant, make_bot(risk={"stop_loss_pct": "1.5"}), actor=acme.owner)
    with RunnerThread():
        wait_for(lambda: orders(acme, bot) == OPENING)
        market.hold("BTC/USDT", "58500")  # all buys fill (average 59,675): 58,500 is 1.97 % down, past the 1.5 % stop
        wait_for(lambda: bot_row(acme, bot).state == Bot.State.PAUSED)
    with schema_context(acme.tenant.schema_name):
        assert Position.objects.get(bot=bot).amount == 0
    assert bot_row(acme, bot).state_reason.startswith("Stop loss")
    assert orders(acme, bot, status="open") == []


def test_a_refused_order_does_not_make_the_strategy_forget_the_fills_it_saw(acme, market, make_bot):
    """DCA sees its base order's fill, remembers the deal, and places safety orders; when
    the first safety order is refused, the deal must still be remembered, or the next
    tick would buy a second base order."""
    params = {"base_order_size": "100", "safety_order_size": "20000", "max_safety_orders": 2,
              "price_deviation": "1", "safety_order_volume_scale": "1", "safety_order_step_scale": "1",
              "take_profit": "1.5", "cooldown": 0}
    bot = do_start_bot(acme.tenant, make_bot(strategy="dca", params=params, risk={"circuit_breaker": 50}),
                       actor=acme.owner)
    with RunnerThread():
        wait_for(lambda: any(status == "failed" for _tag, status in orders(acme, bot)))
        wait_for(lambda: len([t for t, s in orders(acme, bot) if s == "failed"]) >= 2)
    base_orders = [tag for tag, _status in orders(acme, bot) if tag.endswith(":base")]
    assert base_orders == ["dca:1:base"]


def test_a_fill_is_pushed_at_once_not_with_the_next_status_batch(acme, market, make_bot, monkeypatch):
    monkeypatch.setattr("bots.engine.runner.PUSH_EVERY", 600.0)
    pushes = []

    def fills_of(schema_name, bots):
        with schema_context(schema_name):
            return Fill.objects.filter(bot_id__in=bots).count()

    async def record(schema_name, statuses, to_bots=None):
        at = time.time()
        # What the page would render on this news: is the fill committed by now?
        pushes.append((at, to_bots, await sync_to_async(fills_of)(schema_name, to_bots or ())))

    monkeypatch.setattr("bots.live.apush", record)
    bot = do_start_bot(acme.tenant, make_bot(), actor=acme.owner)
    with RunnerThread(tick=0.1):
        wait_for(lambda: orders(acme, bot) == OPENING)
        wait_for(lambda: any(to_bots for _at, to_bots, _filled in pushes))
        moved = time.time()
        market.hold("BTC/USDT", "59900")  # through the buy at 60,000
        wait_for(lambda: any(at > moved and filled == 2 for at, _to_bots, filled in pushes), timeout=3)
    pushed = next(at for at, to_bots, filled in pushes if at > moved and filled == 2)
    assert pushed - moved < 1.0
    assert all(bot.pk in to_bots for at, to_bots, filled in pushes if at > moved and filled == 2)
