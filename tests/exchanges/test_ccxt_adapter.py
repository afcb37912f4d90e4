"""The ccxt adapter against a local fake Binance: real ccxt signing and parsing, our
error mapping, retries only where they are safe, never two orders for one client id."""

from decimal import Decimal as D

import pytest
from asgiref.sync import async_to_sync

from exchanges import errors
from exchanges.adapters.ccxt import CcxtAdapter
from tests.conftest import FAKE_KEYS


def run(fake, call, *, credentials=FAKE_KEYS, timeout_ms=400):
    """Run `call(adapter)` with a fresh adapter (as the engine or a view would), then close it."""

    async def main():
        adapter = CcxtAdapter("binance", credentials, timeout_ms=timeout_ms, markets=fake.ccxt_markets())
        adapter.client.timeout_on_exit = 0
        try:
            return await call(adapter)
        finally:
            await adapter.close()

    return async_to_sync(main)()


def requests_to(fake, method, path):
    return [r for r in fake.requests if (r.method, r.path) == (method, path)]


def test_balances_and_prices_come_back_as_decimals(fake_binance):
    balance = run(fake_binance, lambda a: a.fetch_balance())
    assert balance == {"USDT": {"free": D("10000"), "used": D("0"), "total": D("10000")}}
    fake_binance.set_price("BTC/USDT", D("61234.56"))
    assert run(fake_binance, lambda a: a.fetch_ticker("BTC/USDT"))["last"] == D("61234.56")


def test_a_limit_order_rests_then_fills_when_the_price_crosses(fake_binance):
    order = run(fake_binance, lambda a: a.create_order("BTC/USDT", "limit", "buy", D("0.01"), D("59000"),
                                                       {"clientOrderId": "bot-1-1"}))
    assert (order["status"], order["clientOrderId"], order["amount"], order["price"]) == ("open", "bot-1-1", D("0.01"), D("59000"))
    fake_binance.set_price("BTC/USDT", D("58999"))
    filled = run(fake_binance, lambda a: a.fetch_order_by_client_id("bot-1-1", "BTC/USDT"))
    assert (filled["status"], filled["filled"]) == ("closed", D("0.01"))


def test_placing_the_same_client_order_id_twice_yields_one_order(fake_binance):
    async def twice(adapter):
        first = await adapter.place_order("BTC/USDT", "limit", "buy", D("0.01"), D("59000"), "bot-1-2")
        second = await adapter.place_order("BTC/USDT", "limit", "buy", D("0.01"), D("59000"), "bot-1-2")
        return first, second

    first, second = run(fake_binance, twice)
    assert first["id"] == second["id"]
    assert len([o for o in fake_binance.orders() if o["clientOrderId"] == "bot-1-2"]) == 1


@pytest.mark.parametrize("fault", ["timeout_after_processing", "timeout", "http_503", "http_429"])
def test_a_failed_placement_is_retried_without_ever_making_two_orders(fake_binance, fault):
    fake_binance.fail_next("POST /api/v3/order", fault)
    order = run(fake_binance, lambda a: a.create_order("BTC/USDT", "limit", "buy", D("0.01"), D("59000"),
                                                       {"clientOrderId": "bot-1-3"}))
    assert order["clientOrderId"] == "bot-1-3"
    assert len([o for o in fake_binance.orders() if o["clientOrderId"] == "bot-1-3"]) == 1


def test_when_the_exchange_stays_down_the_placement_gives_up_within_bounds(fake_binance):
    fake_binance.fail_next("*", "http_503", count=50)
    with pytest.raises(errors.TemporarilyUnavailable):
        run(fake_binance, lambda a: a.create_order("BTC/USDT", "limit", "buy", D("0.01"), D("59000"),
                                                   {"clientOrderId": "bot-1-4"}))
    assert len(requests_to(fake_binance, "POST", "/api/v3/order")) <= 4
    assert fake_binance.orders() == []


def test_a_placement_without_client_order_id_is_never_retried(fake_binance):
    fake_binance.fail_next("POST /api/v3/order", "timeout_after_processing")
    with pytest.raises(errors.TemporarilyUnavailable):
        # ccxt makes up a client id when none is given; ask for none at all.
        run(fake_binance, lambda a: a.create_order("BTC/USDT", "limit", "buy", D("0.01"), D("59000")))
    assert len(requests_to(fake_binance, "POST", "/api/v3/order")) == 1


@pytest.mark.parametrize(
    "fault, ours, attempts",
    [
        ("auth_error", errors.AuthenticationFailed, 1),
        ("http_429", errors.RateLimited, 3),
        ("http_500", errors.TemporarilyUnavailable, 3),
        ("http_502", errors.TemporarilyUnavailable, 3),
        ("http_503", errors.TemporarilyUnavailable, 3),
        ("timeout", errors.TemporarilyUnavailable, 3),
        ("malformed_json", errors.TemporarilyUnavailable, 3),
    ],
)
def test_each_fault_maps_to_our_error_and_only_retryable_ones_are_retried(fake_binance, fault, ours, attempts):
    fake_binance.fail_next("GET /api/v3/account", fault, count=10)
    with pytest.raises(ours):
        run(fake_binance, lambda a: a.fetch_balance())
    assert len(requests_to(fake_binance, "GET", "/api/v3/account")) == attempts


def test_a_read_recovers_after_a_passing_fault(fake_binance):
    fake_binance.fail_next("GET /api/v3/account", "http_503")
    assert run(fake_binance, lambda a: a.fetch_balance())["USDT"]["free"] == D("10000")
    assert len(requests_to(fake_binance, "GET", "/api/v3/account")) == 2


def test_a_malformed_order_response_is_not_taken_for_an_order(fake_binance):
    fake_binance.fail_next("GET /api/v3/order", "malformed_json", count=10)
    with pytest.raises(errors.TemporarilyUnavailable, match="unreadable"):
        run(fake_binance, lambda a: a.fetch_order("1", "BTC/USDT"))


def test_a_wrong_secret_is_an_authentication_failure(fake_binance):
    with pytest.raises(errors.AuthenticationFailed):
        run(fake_binance, lambda a: a.fetch_balance(), credentials={**FAKE_KEYS, "secret": "wrong-secret"})


def test_an_ip_not_whitelisted_says_so(fake_binance):
    fake_binance.fail_next("GET /api/v3/account", "ip_not_whitelisted")
    with pytest.raises(errors.AuthenticationFailed, match="ip"):
        run(fake_binance, lambda a: a.fetch_balance())


def test_order_errors_map_to_ours(fake_binance):
    with pytest.raises(errors.InsufficientFunds):
        run(fake_binance, lambda a: a.create_order("BTC/USDT", "limit", "buy", D("1"), D("59000")))
    with pytest.raises(errors.InvalidOrder):
        run(fake_binance, lambda a: a.create_order("BTC/USDT", "limit", "buy", D("0.00001"), D("59000")))
    with pytest.raises(errors.OrderNotFound):
        run(fake_binance, lambda a: a.cancel_order("999999", "BTC/USDT"))


def test_credentials_never_appear_in_error_messages(fake_binance):
    adapter = CcxtAdapter("binance", FAKE_KEYS)
    leaked = adapter.translate(Exception(f"binance GET https://x/?apiKey={FAKE_KEYS['apiKey']}&s={FAKE_KEYS['secret']}"))
    assert FAKE_KEYS["apiKey"] not in str(leaked) and FAKE_KEYS["secret"] not in str(leaked)
    assert "***" in str(leaked)
    async_to_sync(adapter.close)()
