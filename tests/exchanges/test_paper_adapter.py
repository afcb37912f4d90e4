"""The paper exchange behind the common exchange interface."""

from decimal import Decimal as D

import pytest
from asgiref.sync import async_to_sync

from exchanges.actions import do_create_connection
from exchanges.adapters import adapter_for
from exchanges.adapters.ccxt import CcxtAdapter
from exchanges.adapters.paper import simulated_feed
from exchanges.errors import InvalidOrder, TemporarilyUnavailable
from tests.conftest import FAKE_KEYS
from tests.exchanges.paper import T0, Clock


@pytest.fixture
def simulated(acme):
    connection = do_create_connection(acme.tenant, label="Sim", exchange="paper", actor=acme.owner)
    clock = Clock(T0)
    return adapter_for(connection, acme.tenant.schema_name, clock=clock), clock


def test_the_ticker_is_the_simulated_price_now(simulated):
    adapter, clock = simulated
    ticker = async_to_sync(adapter.fetch_ticker)("ETH/USDT")
    assert ticker["last"] == simulated_feed().price("ETH/USDT", T0)
    assert ticker["bid"] < ticker["last"] < ticker["ask"]
    assert ticker["timestamp"] == int(T0 * 1000)


def test_candles_end_with_the_one_in_progress(simulated):
    adapter, clock = simulated
    clock.t = T0 + 30
    candles = async_to_sync(adapter.fetch_ohlcv)("BTC/USDT", "1m", None, 5)
    assert len(candles) == 5
    assert candles[-1][4] == simulated_feed().price("BTC/USDT", T0 + 30)
    assert [c[0] for c in candles] == [int((T0 - 60 * i) // 60 * 60 * 1000) for i in (4, 3, 2, 1, 0)]


def test_place_order_is_idempotent_by_client_order_id(simulated):
    adapter, _clock = simulated
    place = async_to_sync(adapter.place_order)
    first = place("BTC/USDT", "limit", "buy", D("0.01"), D("1000"), "bot-9-1")
    again = place("BTC/USDT", "limit", "buy", D("0.01"), D("1000"), "bot-9-1")
    assert first == again
    assert len(async_to_sync(adapter.fetch_open_orders)()) == 1


def test_a_limit_order_fills_on_the_simulated_path(simulated):
    adapter, clock = simulated
    feed = simulated_feed()
    low, _high = feed.extremes("BTC/USDT", T0, T0 + 3600)
    order = async_to_sync(adapter.create_order)("BTC/USDT", "limit", "buy", D("0.01"), low + D("1"))
    clock.t = T0 + 3600
    [trade] = async_to_sync(adapter.fetch_my_trades)()
    assert trade["order"] == order["id"] and trade["price"] == low + D("1")
    assert trade["timestamp"] == int(feed.first_cross("BTC/USDT", T0, T0 + 3600, low + D("1"), down=True) * 1000)


def test_unknown_symbols_and_timeframes_are_refused(simulated):
    adapter, _clock = simulated
    with pytest.raises(InvalidOrder):
        async_to_sync(adapter.fetch_ticker)("NOPE/USDT")
    with pytest.raises(InvalidOrder):
        async_to_sync(adapter.fetch_ohlcv)("BTC/USDT", "7m")


def test_live_mode_follows_public_prices_of_a_real_exchange(acme, fake_binance):
    connection = do_create_connection(acme.tenant, label="Live", exchange="paper", actor=acme.owner,
                                      market_data="live", live_price_exchange="binance")
    clock = Clock(T0)

    async def scenario():
        prices = CcxtAdapter("binance", FAKE_KEYS, markets=fake_binance.ccxt_markets())
        prices.client.timeout_on_exit = 0
        adapter = adapter_for(connection, acme.tenant.schema_name, clock=clock, price_client=prices)
        fake_binance.set_price("BTC/USDT", D("60000"))
        order = await adapter.create_order("BTC/USDT", "limit", "buy", D("0.01"), D("59000"))
        clock.t = T0 + 5
        fake_binance.set_price("BTC/USDT", D("58900"))
        filled = await adapter.fetch_order(order["id"])
        await adapter.close()
        return order, filled

    order, filled = async_to_sync(scenario)()
    assert order["status"] == "open"
    assert filled["status"] == "closed" and filled["average"] == D("59000")


def test_live_mode_without_the_network_says_prices_are_unavailable(acme, settings):
    settings.CCXT_CLIENT_OVERRIDES = {"binance": {"api": {"public": "http://127.0.0.1:9/api/v3"}, "options": {
        "fetchMarkets": {"types": ["spot"]}, "fetchMargins": False}}}
    connection = do_create_connection(acme.tenant, label="Live", exchange="paper", actor=acme.owner,
                                      market_data="live", live_price_exchange="binance")
    adapter = adapter_for(connection, acme.tenant.schema_name)
    with pytest.raises(TemporarilyUnavailable):
        async_to_sync(adapter.fetch_ticker)("SOL/USDT")
    async_to_sync(adapter.close)()
