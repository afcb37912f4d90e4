"""The engine on a real ccxt connection (to the local fake Binance) under a high rate
of exchange faults: it keeps running, bots back off, breakers trip where they should,
and once the exchange recovers so do the bots, with never a duplicate order."""

from collections import Counter
from decimal import Decimal as D

import pytest
from django_tenants.utils import schema_context

from bots.actions import do_create_bot, do_resume_bot, do_start_bot
from bots.models import Bot, BotEvent, Order
from exchanges.actions import do_create_connection
from tests.bots.conftest import GRID
from tests.bots.engine import RunnerThread, wait_for
from tests.conftest import FAKE_KEYS

pytestmark = pytest.mark.usefixtures("transactional_db")


def state(acme, bot):
    with schema_context(acme.tenant.schema_name):
        return Bot.objects.get(pk=bot.pk)


def open_tags(acme, bot):
    with schema_context(acme.tenant.schema_name):
        return sorted(Order.objects.filter(bot=bot, status="open").values_list("tag", flat=True))


def test_the_engine_rides_out_a_storm_of_exchange_faults(acme, fake_binance, settings):
    settings.ENGINE_SHARDS = 1
    settings.ENGINE_MAX_BACKOFF_SECONDS = 2
    fake_binance.set_balance("BTC", D("1"))
    binance = do_create_connection(acme.tenant, label="Binance", exchange="binance", credentials=FAKE_KEYS,
                                   actor=acme.owner)
    params = {**GRID, "lower_price": "58800", "upper_price": "60800"}  # the fake trades at 60,000
    sturdy = do_create_bot(acme.tenant, name="sturdy", connection=binance, strategy="grid", symbols=["BTC/USDT"],
                           params=params, risk={"circuit_breaker": 100}, actor=acme.owner)
    fragile = do_create_bot(acme.tenant, name="fragile", connection=binance, strategy="grid", symbols=["BTC/USDT"],
                            params=params, risk={"circuit_breaker": 2}, actor=acme.owner)
    for bot in (sturdy, fragile):
        do_start_bot(acme.tenant, bot, actor=acme.owner)

    # Nine requests in ten fail; the adapter retries each call three times, so about
    # three calls in four still fail and consecutive failures come quickly.
    fake_binance.set_fault_rate(0.9, ["http_503", "http_429", "malformed_json"], seed=7)
    with RunnerThread(tick=0.2) as runner:
        wait_for(lambda: state(acme, fragile).state == Bot.State.PAUSED, timeout=20)
        assert runner.thread.is_alive()
        assert state(acme, fragile).state_reason.startswith("Circuit breaker: 2 consecutive failures.")
        with schema_context(acme.tenant.schema_name):
            assert BotEvent.objects.filter(bot=sturdy, kind=BotEvent.Kind.ERROR).exists()

        fake_binance.set_fault_rate(0, [])
        do_resume_bot(acme.tenant, fragile, actor=acme.owner)
        full_grid = ["grid:buy:0", "grid:buy:1", "grid:buy:2", "grid:sell:4"]
        wait_for(lambda: open_tags(acme, sturdy) == full_grid and open_tags(acme, fragile) == full_grid, timeout=30)
        wait_for(lambda: state(acme, sturdy).consecutive_failures == 0 and state(acme, fragile).consecutive_failures == 0)

    client_ids = Counter(order["clientOrderId"] for order in fake_binance.orders())
    assert client_ids and max(client_ids.values()) == 1
    with schema_context(acme.tenant.schema_name):
        ours = set(Order.objects.exclude(exchange_order_id="").values_list("client_order_id", flat=True))
    assert set(client_ids) == ours
