"""The Binance fake, driven by real ccxt (async_support.binance): its signing, parsing and
error mapping. No database: nothing here touches Django models."""

import asyncio
import threading
import time
import urllib.error
import urllib.request
from decimal import Decimal

import ccxt.async_support as ccxt
import pytest
from asgiref.sync import async_to_sync

from .binance import FakeBinance

KEY = "test-key"
SECRET = "test-secret"
D = Decimal


@pytest.fixture
def fake():
    with FakeBinance(api_key=KEY, secret=SECRET) as fake:
        fake.set_balance("USDT", D("10000"))
        yield fake


def make_client(fake, *, api_key=KEY, secret=SECRET, timeout=2000):
    ex = ccxt.binance(
        {
            "apiKey": api_key,
            "secret": secret,
            "enableRateLimit": False,
            "timeout": timeout,
            "options": {"fetchCurrencies": False, "defaultType": "spot"},
        }
    )
    ex.urls["api"]["public"] = fake.base_url + "/api/v3"
    ex.urls["api"]["private"] = fake.base_url + "/api/v3"
    ex.set_markets(fake.ccxt_markets())
    # close() otherwise sleeps 250 ms to let TLS connections wind down; there is no TLS here.
    ex.timeout_on_exit = 0
    return ex


def run(fake, scenario, **client_options):
    """Run `scenario(ex)` on a fresh event loop with a fresh client, closed afterwards."""

    async def main():
        ex = make_client(fake, **client_options)
        try:
            return await scenario(ex)
        finally:
            await ex.close()

    return asyncio.run(main())


def raises(fake, scenario, **client_options):
    """The exception `scenario(ex)` raises (it must raise)."""

    async def catching(ex):
        try:
            await scenario(ex)
        except Exception as error:  # the point is to look at it
            return error
        raise AssertionError("no exception raised")

    return run(fake, catching, **client_options)


# ---------------------------------------------------------------------- markets and public data


def test_markets_are_ccxt_structures_matching_the_enforced_filters(fake):
    markets = {m["symbol"]: m for m in fake.ccxt_markets()}
    btc = markets["BTC/USDT"]
    assert (btc["id"], btc["type"], btc["spot"], btc["base"], btc["quote"]) == ("BTCUSDT", "spot", True, "BTC", "USDT")
    assert (btc["taker"], btc["maker"]) == (0.001, 0.001)
    assert btc["precision"]["price"] == 0.01 and btc["precision"]["amount"] == 0.00001
    assert btc["limits"]["amount"]["min"] == 0.00001 and btc["limits"]["cost"]["min"] == 5
    assert btc["info"]["filters"][0]["tickSize"] == "0.01000000"
    assert markets["ETH/USDT"]["precision"]["amount"] == 0.0001

    async def formatting(ex):
        assert ex.precisionMode == ccxt.binance().precisionMode  # TICK_SIZE
        return (
            ex.amount_to_precision("BTC/USDT", 0.123456789),  # truncated to the step
            ex.price_to_precision("BTC/USDT", 50000.126),  # rounded to the tick
            ex.amount_to_precision("ETH/USDT", 1.23456),
            ex.market("BTC/USDT")["id"],
        )

    assert run(fake, formatting) == ("0.12345", "50000.13", "1.2345", "BTCUSDT")

    async def load(ex):
        return await ex.load_markets()

    assert set(run(fake, load)) == {"BTC/USDT", "ETH/USDT"}
    assert fake.requests == []  # set_markets spares load_markets the network


def test_exchange_info_endpoint_parses_to_the_same_markets(fake):
    async def scenario(ex):
        response = await ex.public_get_exchangeinfo()
        # normally filled by fetch_markets from the margin endpoints
        ex.options.update(crossMarginPairsData=[], isolatedMarginPairsData=[])
        return [ex.parse_market(info) for info in response["symbols"]]

    parsed = run(fake, scenario)
    assert [(m["symbol"], m["precision"], m["limits"]) for m in parsed] == [
        (m["symbol"], m["precision"], m["limits"]) for m in fake.ccxt_markets()
    ]


def test_fetch_time_ticker_and_ohlcv(fake):
    fake.set_price("BTC/USDT", D("61234.56"))

    async def scenario(ex):
        return (
            await ex.fetch_time(),
            await ex.fetch_ticker("BTC/USDT"),
            await ex.fetch_ohlcv("BTC/USDT", "1h", limit=5),
            await ex.fetch_ohlcv("BTC/USDT", "1h", limit=5),
            await ex.fetch_ohlcv("BTC/USDT", "1m", since=1_700_000_000_000, limit=3),
        )

    server_time, ticker, candles, again, since_candles = run(fake, scenario)
    assert abs(server_time - time.time() * 1000) < 5000
    assert ticker["symbol"] == "BTC/USDT"
    assert ticker["last"] == ticker["bid"] == ticker["ask"] == 61234.56
    assert ticker["open"] == 60000 and ticker["high"] == 61234.56

    assert candles == again  # deterministic
    assert len(candles) == 5
    assert [b[0] - a[0] for a, b in zip(candles, candles[1:])] == [3_600_000] * 4
    assert candles[-1][4] == 61234.56  # the open candle closes at the current price
    for ts, open_, high, low, close, volume in candles:
        assert low <= min(open_, close) <= max(open_, close) <= high
        assert abs(close / 61234.56 - 1) <= 0.005 and volume > 0
    assert [c[0] for c in since_candles] == [1_700_000_040_000, 1_700_000_100_000, 1_700_000_160_000]


def test_fetch_balance(fake):
    fake.set_balance("BTC", D("0.5"))

    balance = run(fake, lambda ex: ex.fetch_balance())
    assert balance["USDT"] == {"free": 10000, "used": 0, "total": 10000}
    assert balance["BTC"]["free"] == 0.5
    assert balance["ETH"]["total"] == 0


# ---------------------------------------------------------------------- trading


def test_market_buy_fills_at_the_last_price_and_charges_the_fee_in_base(fake):
    async def scenario(ex):
        order = await ex.create_order("BTC/USDT", "market", "buy", 0.01, params={"newClientOrderId": "mkt-1"})
        return order, await ex.fetch_balance(), await ex.fetch_my_trades("BTC/USDT")

    order, balance, trades = run(fake, scenario)
    assert order["status"] == "closed" and order["clientOrderId"] == "mkt-1"
    assert (order["filled"], order["remaining"], order["average"], order["cost"]) == (0.01, 0, 60000, 600)
    assert order["fee"] == {"currency": "BTC", "cost": 0.00001}
    assert order["trades"][0]["price"] == 60000
    assert balance["USDT"]["free"] == 9400 and balance["BTC"]["free"] == 0.00999

    assert fake.balances()["BTC"] == {"free": D("0.00999"), "locked": 0}
    assert fake.balances()["USDT"] == {"free": D("9400"), "locked": 0}
    [trade] = trades
    assert trade["order"] == order["id"] and trade["side"] == "buy" and trade["takerOrMaker"] == "taker"
    assert trade["fee"] == {"currency": "BTC", "cost": 0.00001}


def test_market_sell_charges_the_fee_in_quote(fake):
    fake.set_balance("BTC", D("0.01"))

    order = run(fake, lambda ex: ex.create_order("BTC/USDT", "market", "sell", 0.005))
    assert order["status"] == "closed" and order["fee"] == {"currency": "USDT", "cost": 0.3}
    assert fake.balances()["USDT"]["free"] == D("10000") + D("300") - D("0.3")
    assert fake.balances()["BTC"]["free"] == D("0.005")


def test_limit_order_rests_until_the_price_crosses_it(fake):
    async def place(ex):
        order = await ex.create_order("BTC/USDT", "limit", "buy", 0.01, 59000, params={"clientOrderId": "lim-1"})
        return order, await ex.fetch_open_orders("BTC/USDT")

    order, open_orders = run(fake, place)
    assert order["status"] == "open" and order["clientOrderId"] == "lim-1"
    assert (order["filled"], order["remaining"], order["price"]) == (0, 0.01, 59000)
    assert [o["id"] for o in open_orders] == [order["id"]]
    assert fake.balances()["USDT"] == {"free": D("9410"), "locked": D("590")}

    fake.set_price("BTC/USDT", D("59000.01"))  # not crossed yet
    assert fake.orders()[0]["status"] == "NEW"
    fake.set_price("BTC/USDT", D("58900"))

    async def check(ex):
        return await ex.fetch_order(order["id"], "BTC/USDT"), await ex.fetch_open_orders("BTC/USDT")

    filled, open_orders = run(fake, check)
    assert filled["status"] == "closed" and filled["clientOrderId"] == "lim-1"
    assert (filled["filled"], filled["remaining"], filled["average"]) == (0.01, 0, 59000)  # at its limit
    assert open_orders == []
    assert fake.balances()["USDT"] == {"free": D("9410"), "locked": 0}
    assert fake.balances()["BTC"]["free"] == D("0.00999")
    [trade] = fake.orders()[0]["fills"]
    assert trade["isMaker"] and trade["price"] == D("59000")


def test_sell_limit_reserves_base_and_fills_when_the_price_rises(fake):
    fake.set_balance("BTC", D("0.1"))
    order = run(fake, lambda ex: ex.create_order("BTC/USDT", "limit", "sell", 0.1, 61000))
    assert order["status"] == "open"
    assert fake.balances()["BTC"] == {"free": 0, "locked": D("0.1")}

    fake.set_price("BTC/USDT", D("61500"))
    assert fake.orders()[0]["status"] == "FILLED"
    assert fake.balances()["BTC"] == {"free": 0, "locked": 0}
    assert fake.balances()["USDT"]["free"] == D("10000") + D("6100") - D("6.1")


def test_marketable_limit_order_fills_at_once_at_the_last_price(fake):
    order = run(fake, lambda ex: ex.create_order("BTC/USDT", "limit", "buy", 0.01, 65000))
    assert order["status"] == "closed" and order["average"] == 60000
    assert fake.balances()["USDT"] == {"free": D("9400"), "locked": 0}


def test_cancel_releases_the_reservation(fake):
    async def scenario(ex):
        order = await ex.create_order("BTC/USDT", "limit", "buy", 0.01, 50000, params={"clientOrderId": "c-1"})
        canceled = await ex.cancel_order(order["id"], "BTC/USDT")
        try:
            await ex.cancel_order(order["id"], "BTC/USDT")
        except ccxt.OrderNotFound:
            again = "OrderNotFound"
        return canceled, again, await ex.fetch_order(order["id"], "BTC/USDT"), await ex.fetch_open_orders("BTC/USDT")

    canceled, again, fetched, open_orders = run(fake, scenario)
    assert canceled["status"] == "canceled" and canceled["filled"] == 0
    # Binance answers a cancel with a new clientOrderId for the cancel itself; ccxt reports that one.
    assert canceled["clientOrderId"] != "c-1" and canceled["info"]["origClientOrderId"] == "c-1"
    assert again == "OrderNotFound"
    assert fetched["status"] == "canceled" and fetched["clientOrderId"] == "c-1"
    assert open_orders == []
    assert fake.balances()["USDT"] == {"free": D("10000"), "locked": 0}


def test_fetch_order_by_client_order_id(fake):
    async def scenario(ex):
        placed = await ex.create_order("ETH/USDT", "limit", "buy", 0.5, 2900, params={"newClientOrderId": "eth-7"})
        by_client_id = await ex.fetch_order(None, "ETH/USDT", params={"origClientOrderId": "eth-7"})
        try:
            await ex.fetch_order(None, "ETH/USDT", params={"origClientOrderId": "nope"})
        except ccxt.OrderNotFound as error:
            missing = str(error)
        return placed, by_client_id, missing

    placed, by_client_id, missing = run(fake, scenario)
    assert by_client_id["id"] == placed["id"] and by_client_id["clientOrderId"] == "eth-7"
    assert by_client_id["status"] == "open" and by_client_id["symbol"] == "ETH/USDT"
    assert '"code":-2013' in missing


def test_duplicate_client_order_id_is_rejected_as_invalid_order(fake):
    async def scenario(ex):
        await ex.create_order("BTC/USDT", "limit", "buy", 0.01, 50000, params={"newClientOrderId": "dup-1"})
        await ex.create_order("BTC/USDT", "limit", "buy", 0.01, 50000, params={"newClientOrderId": "dup-1"})

    error = raises(fake, scenario)
    # -2010 "Duplicate order sent." matches no message rule; the code maps to InvalidOrder.
    assert type(error) is ccxt.InvalidOrder
    assert not isinstance(error, (ccxt.DuplicateOrderId, ccxt.InsufficientFunds))
    assert "Duplicate order sent." in str(error)
    assert [o["clientOrderId"] for o in fake.orders()] == ["dup-1"]
    assert fake.balances()["USDT"] == {"free": D("9500"), "locked": D("500")}


def test_insufficient_balance(fake):
    error = raises(fake, lambda ex: ex.create_order("BTC/USDT", "limit", "buy", 1, 50000))
    assert type(error) is ccxt.InsufficientFunds
    assert fake.orders() == []


def test_filter_failures(fake):
    # ccxt rounds prices and truncates amounts to the market's precision before sending, so
    # the raw endpoint (ccxt's implicit API, still signed) is used to send off-grid values.
    def raw_order(**fields):
        request = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"} | fields
        return lambda ex: ex.private_post_order(request)

    off_tick = raises(fake, raw_order(quantity="0.01", price="50000.005"))
    off_step = raises(fake, raw_order(quantity="0.010001", price="50000"))
    below_min_qty = raises(fake, raw_order(quantity="0.000001", price="50000"))
    small = raises(fake, lambda ex: ex.create_order("BTC/USDT", "limit", "buy", 0.00005, 50000))

    assert type(off_tick) is ccxt.InvalidOrder and "PRICE_FILTER" in str(off_tick)
    assert type(off_step) is ccxt.InvalidOrder and "LOT_SIZE" in str(off_step)
    assert type(below_min_qty) is ccxt.InvalidOrder and "LOT_SIZE" in str(below_min_qty)
    # ccxt has no rule for "Filter failure: NOTIONAL"; the code -1013 maps to BadRequest.
    assert type(small) is ccxt.BadRequest and "NOTIONAL" in str(small)
    assert fake.orders() == []


def test_other_binance_errors(fake):
    async def post_only_marketable(ex):
        await ex.create_order("BTC/USDT", "limit", "buy", 0.01, 61000, params={"postOnly": True})

    async def unknown_symbol(ex):
        await ex.public_get_ticker_24hr({"symbol": "DOGEUSDT"})

    async def missing_price(ex):
        await ex.private_post_order({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "1"})

    async def stale_timestamp(ex):
        ex.options["timeDifference"] = 60_000  # ccxt signs with a timestamp a minute old
        await ex.fetch_balance()

    assert type(raises(fake, post_only_marketable)) is ccxt.OrderImmediatelyFillable
    assert type(raises(fake, unknown_symbol)) is ccxt.BadSymbol
    assert type(raises(fake, missing_price)) is ccxt.BadRequest
    assert type(raises(fake, stale_timestamp)) is ccxt.InvalidNonce
    assert fake.orders() == []

    post_only = run(fake, lambda ex: ex.create_order("BTC/USDT", "limit", "buy", 0.01, 59000, params={"postOnly": True}))
    assert post_only["status"] == "open" and post_only["postOnly"]


# ---------------------------------------------------------------------- authentication


def test_bad_secret_and_bad_key_are_authentication_errors(fake):
    bad_signature = raises(fake, lambda ex: ex.fetch_balance(), secret="wrong")
    bad_key = raises(fake, lambda ex: ex.fetch_balance(), api_key="other-key")
    assert type(bad_signature) is ccxt.AuthenticationError and '"code":-1022' in str(bad_signature)
    assert type(bad_key) is ccxt.AuthenticationError and '"code":-2015' in str(bad_key)
    assert run(fake, lambda ex: ex.fetch_ticker("BTC/USDT"), secret="wrong")["last"] == 60000  # public: unsigned


def test_ip_not_whitelisted():
    with FakeBinance(api_key=KEY, secret=SECRET, whitelisted_ips=["10.1.2.3"]) as fake:
        error = raises(fake, lambda ex: ex.fetch_balance())
        assert type(error) is ccxt.AuthenticationError
        assert "request ip: 127.0.0.1" in str(error)
        assert run(fake, lambda ex: ex.fetch_time()) > 0
    with FakeBinance(api_key=KEY, secret=SECRET, whitelisted_ips=["127.0.0.1"]) as fake:
        assert run(fake, lambda ex: ex.fetch_balance())["info"]["canTrade"]


# ---------------------------------------------------------------------- faults


@pytest.mark.parametrize(
    "fault, expected",
    [
        ("http_429", ccxt.DDoSProtection),
        ("http_500", ccxt.ExchangeNotAvailable),
        ("http_502", ccxt.ExchangeNotAvailable),
        ("http_503", ccxt.ExchangeNotAvailable),
        ("auth_error", ccxt.AuthenticationError),
        ("ip_not_whitelisted", ccxt.AuthenticationError),
    ],
)
def test_fault_maps_to_ccxt_exception(fake, fault, expected):
    fake.fail_next("GET /api/v3/account", fault)
    error = raises(fake, lambda ex: ex.fetch_balance())
    assert type(error) is expected
    if fault == "http_429":
        assert not isinstance(error, ccxt.RateLimitExceeded)  # siblings in this ccxt
    assert run(fake, lambda ex: ex.fetch_balance())["USDT"]["free"] == 10000  # one-shot


def test_ip_not_whitelisted_after_a_successful_private_call_is_ddos_protection(fake):
    async def scenario(ex):
        await ex.fetch_balance()  # sets options['hasAlreadyAuthenticatedSuccessfully']
        fake.fail_next("*", "ip_not_whitelisted")
        await ex.fetch_balance()

    assert type(raises(fake, scenario)) is ccxt.DDoSProtection


def test_server_error_on_create_order_creates_nothing(fake):
    fake.fail_next("POST /api/v3/order", "http_503")
    error = raises(fake, lambda ex: ex.create_order("BTC/USDT", "market", "buy", 0.01))
    assert type(error) is ccxt.ExchangeNotAvailable
    assert fake.orders() == [] and fake.balances()["USDT"]["free"] == 10000


def test_malformed_json_is_not_an_exception_in_ccxt(fake):
    # ccxt hands the unparsable text to its parsers, which read None from a str.
    fake.fail_next("*", "malformed_json", count=2)

    async def scenario(ex):
        return await ex.fetch_ticker("BTC/USDT"), await ex.create_order("BTC/USDT", "market", "buy", 0.01)

    ticker, order = run(fake, scenario)
    assert ticker["last"] is None and isinstance(ticker["info"], str)
    assert order["id"] is None and order["status"] is None
    assert fake.orders() == []


def test_timeout_before_processing_changes_nothing(fake):
    fake.fail_next("POST /api/v3/order", "timeout")
    error = raises(fake, lambda ex: ex.create_order("BTC/USDT", "market", "buy", 0.01), timeout=300)
    assert type(error) is ccxt.RequestTimeout
    assert fake.orders() == [] and fake.balances()["USDT"]["free"] == 10000


def test_timeout_after_processing_leaves_the_order_and_a_retry_is_a_duplicate(fake):
    fake.fail_next("POST /api/v3/order", "timeout_after_processing")

    async def scenario(ex):
        async def place():
            return await ex.create_order("BTC/USDT", "limit", "buy", 0.01, 59000, params={"newClientOrderId": "t-1"})

        try:
            await place()
        except ccxt.RequestTimeout:
            first = "RequestTimeout"
        try:
            await place()
        except ccxt.InvalidOrder as error:
            retry = str(error)
        return first, retry, await ex.fetch_order(None, "BTC/USDT", params={"origClientOrderId": "t-1"})

    first, retry, found = run(fake, scenario, timeout=500)
    assert first == "RequestTimeout"
    assert "Duplicate order sent." in retry
    assert found["status"] == "open" and found["clientOrderId"] == "t-1"
    assert [o["clientOrderId"] for o in fake.orders()] == ["t-1"]
    assert fake.balances()["USDT"] == {"free": D("9410"), "locked": D("590")}


def test_fail_next_counts_and_endpoint_faults_come_before_wildcard_ones(fake):
    fake.fail_next("*", "http_502")
    fake.fail_next("GET /api/v3/time", "http_500", count=2)

    async def scenario(ex):
        outcomes = []
        for call in (ex.fetch_time, ex.fetch_time, ex.fetch_time, ex.fetch_time):
            try:
                await call()
                outcomes.append("ok")
            except ccxt.ExchangeNotAvailable as error:
                outcomes.append(str(error).split()[3])  # "binance GET <url> <status> ..."
        return outcomes

    assert run(fake, scenario) == ["500", "500", "502", "ok"]
    with pytest.raises(ValueError):
        fake.fail_next("GET /api/v3/nothing", "http_500")
    with pytest.raises(ValueError):
        fake.fail_next("*", "gremlins")


def fault_pattern(fake, calls=200):
    async def scenario(ex):
        pattern = []
        for _ in range(calls):
            try:
                await ex.fetch_time()
                pattern.append(None)
            except (ccxt.ExchangeNotAvailable, ccxt.DDoSProtection) as error:
                pattern.append(type(error).__name__)
        await ex.fetch_ticker("BTC/USDT")  # outside `endpoints`: never faulted
        return pattern

    return run(fake, scenario)


def test_fault_rate_is_roughly_the_rate_and_reproducible(fake):
    faults = ["http_500", "http_503", "http_429"]
    fake.set_fault_rate(0.25, faults, seed=7, endpoints=["GET /api/v3/time"])
    pattern = fault_pattern(fake)
    rate = sum(p is not None for p in pattern) / len(pattern)
    assert 0.15 <= rate <= 0.35
    assert {"ExchangeNotAvailable", "DDoSProtection"} <= set(pattern)

    with FakeBinance(api_key=KEY, secret=SECRET) as other:
        other.set_fault_rate(0.25, faults, seed=7, endpoints=["GET /api/v3/time"])
        assert fault_pattern(other) == pattern

    fake.set_fault_rate(0, [])
    assert set(fault_pattern(fake, calls=20)) == {None}


# ---------------------------------------------------------------------- plumbing


def test_requests_are_logged_without_the_signature(fake):
    run(fake, lambda ex: ex.create_order("BTC/USDT", "market", "buy", 0.01, params={"newClientOrderId": "log-1"}))
    [request] = [r for r in fake.requests if r.path == "/api/v3/order"]
    method, path, params = request
    assert method == "POST"
    assert params["newClientOrderId"] == "log-1" and params["quantity"] == "0.01"
    assert params["newOrderRespType"] == "FULL" and "timestamp" in params and "recvWindow" in params
    assert "signature" not in params


def test_usable_from_async_to_sync(fake):
    @async_to_sync
    async def fetch_last():
        ex = make_client(fake)
        try:
            return (await ex.fetch_ticker("ETH/USDT"))["last"]
        finally:
            await ex.close()

    assert fetch_last() == 3000


def test_stop_is_quick_with_pending_delayed_responses():
    fake = FakeBinance(api_key=KEY, secret=SECRET, fault_delay=30).start()
    try:
        fake.fail_next("*", "timeout_after_processing", count=2)
        # One delayed answer whose client gave up (ccxt timed out) ...
        error = raises(fake, lambda ex: ex.fetch_balance(), timeout=200)
        assert type(error) is ccxt.RequestTimeout

        # ... and one whose client is still waiting.
        outcome = {}

        def wait_for_answer():
            try:
                urllib.request.urlopen(fake.base_url + "/api/v3/time", timeout=20)
                outcome["result"] = "answered"
            except (urllib.error.URLError, ConnectionError) as error:  # the server went away
                outcome["result"] = type(error).__name__

        waiter = threading.Thread(target=wait_for_answer)
        waiter.start()
        deadline = time.monotonic() + 5
        while len(fake.requests) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(fake.requests) == 2
    finally:
        started = time.monotonic()
        fake.stop()
        elapsed = time.monotonic() - started
    waiter.join(timeout=5)
    assert elapsed < 2
    assert outcome["result"] != "answered"
    fake.stop()  # idempotent
