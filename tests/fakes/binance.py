"""A local fake of the Binance spot REST API: the subset ccxt's `binance` class uses for
tickers, candles, balances and orders, so tests run ccxt's real signing and parsing code
against a loopback server.

    with FakeBinance() as fake:
        fake.set_balance("USDT", Decimal("1000"))
        ex = ccxt.async_support.binance({"apiKey": fake.api_key, "secret": fake.secret,
                                         "enableRateLimit": False, "timeout": 2000,
                                         "options": {"fetchCurrencies": False, "defaultType": "spot"}})
        ex.urls["api"]["public"] = ex.urls["api"]["private"] = fake.base_url + "/api/v3"
        ex.set_markets(fake.ccxt_markets())

The server runs on its own event loop in a background thread, so sync tests can drive
ccxt from `asyncio.run` or `async_to_sync` on any other loop.

The market is a single price per symbol with unlimited liquidity and no spread: market
orders fill at the last price, limit orders that are marketable when placed fill at the
last price as taker, other limit orders rest and fill whole, as maker at their limit price,
when `set_price` crosses them. Fees are 0.1% of what the order receives, charged in that
asset, as Binance does without BNB fee payment.

Faults, and what ccxt 4.5.90 (`ccxt.async_support.binance`) raises for each, as verified
by tests/fakes/test_binance_fake.py:

    fault                      the fake does                                 ccxt raises
    -------------------------  --------------------------------------------  -------------------
    timeout_after_processing   processes the request (orders are created,    RequestTimeout
                               balances reserved), answers after fault_delay
    timeout                    nothing; answers 504 after fault_delay        RequestTimeout
    http_429                   429, Retry-After: 1, {"code": -1003, ...}     DDoSProtection (1)
    http_500 / 502 / 503       an HTML error page                            ExchangeNotAvailable
    malformed_json             200 with a truncated JSON body                nothing at the HTTP
                                                                             layer (2)
    auth_error                 401 {"code": -2014, "msg": "API-key format    AuthenticationError
                               invalid."}
    ip_not_whitelisted         401 {"code": -2015, "msg": "Invalid API-key,  AuthenticationError,
                               IP, or permissions for action, request ip:    but DDoSProtection
                               127.0.0.1"}                                   (3)

Only timeout_after_processing changes state; every other fault replaces the request's
processing. A fault's delayed answer is dropped when the server stops.

(1) binance.handle_errors raises DDoSProtection for any 418/429 before reading the body.
    In this ccxt RateLimitExceeded and DDoSProtection are siblings under NetworkError, so
    `except RateLimitExceeded` does not catch a 429.
(2) ccxt's fetch() gives up on the JSON and hands the raw text to the parser, which reads
    fields off a str. No BadResponse: fetch_ticker, fetch_balance, create_order,
    fetch_order and cancel_order return structures full of None (an order with id None
    and status None), fetch_time returns None, fetch_my_trades and fetch_ohlcv return one
    empty entry per character, and fetch_open_orders raises a plain AttributeError.
    Callers must check what they got.
(3) binance sets options['hasAlreadyAuthenticatedSuccessfully'] after its first successful
    private call, and from then on treats -2015 as a temporary ban: DDoSProtection.
    A fresh client gets AuthenticationError.

Errors the fake returns on its own, like Binance (ccxt exception in brackets):
    missing X-MBX-APIKEY -2014, wrong key or IP not in whitelisted_ips -2015 (401)
        [AuthenticationError, or DDoSProtection after a successful private call, see (3)]
    bad signature -1022 [AuthenticationError], stale timestamp -1021 [InvalidNonce]
    "Filter failure: PRICE_FILTER" / "LOT_SIZE" / "MARKET_LOT_SIZE" -1013 [InvalidOrder,
        by ccxt's body match on PRICE_FILTER / LOT_SIZE]
    "Filter failure: NOTIONAL" -1013 [BadRequest: ccxt maps the bare code -1013 there]
    "Duplicate order sent." -2010 [InvalidOrder, by code; no message rule matches it and
        ccxt never raises DuplicateOrderId for it]
    "Account has insufficient balance for requested action." -2010 [InsufficientFunds]
    "Order would immediately match and take." -2010 (LIMIT_MAKER) [OrderImmediatelyFillable]
    "Order does not exist." -2013 on query, "Unknown order sent." -2011 on cancel
        [OrderNotFound]
    unknown symbol -1121 [BadSymbol], missing parameter -1102 [BadRequest]

A loopback URL does not match binance's per-market-type exception tables (they are keyed
on api.binance.com and friends), only the common ones apply; for the codes above the spot
table has no overrides, so production maps them the same way.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import hmac
import itertools
import json
import random
import re
import threading
import time
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import NamedTuple
from urllib.parse import parse_qsl

from aiohttp import web

from tests.fakes.loopback import LoopbackServer

ZERO = Decimal("0")
FEE_RATE = Decimal("0.001")  # maker and taker alike, Binance's base spot tier
EIGHT_PLACES = Decimal("0.00000001")
FAULTS = frozenset(
    {
        "timeout_after_processing",
        "timeout",
        "http_429",
        "http_500",
        "http_502",
        "http_503",
        "malformed_json",
        "auth_error",
        "ip_not_whitelisted",
    }
)
DEFAULT_FAULT_DELAY = 10.0  # seconds; far beyond any client timeout a test should use


@dataclass(frozen=True)
class SymbolSpec:
    symbol: str  # ccxt's unified symbol
    id: str  # Binance's symbol
    base: str
    quote: str
    tick_size: Decimal
    min_price: Decimal
    max_price: Decimal
    step_size: Decimal
    min_qty: Decimal
    max_qty: Decimal
    market_max_qty: Decimal
    min_notional: Decimal
    max_notional: Decimal
    initial_price: Decimal


D = Decimal
SYMBOLS = (
    SymbolSpec("BTC/USDT", "BTCUSDT", "BTC", "USDT", D("0.01"), D("0.01"), D("1000000"), D("0.00001"),
               D("0.00001"), D("9000"), D("100"), D("5"), D("9000000"), D("60000")),
    SymbolSpec("ETH/USDT", "ETHUSDT", "ETH", "USDT", D("0.01"), D("0.01"), D("1000000"), D("0.0001"),
               D("0.0001"), D("9000"), D("2000"), D("5"), D("9000000"), D("3000")),
)

INTERVAL_MS = {
    "1s": 1_000,
    "1m": 60_000,
    "3m": 180_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "2h": 7_200_000,
    "4h": 14_400_000,
    "6h": 21_600_000,
    "8h": 28_800_000,
    "12h": 43_200_000,
    "1d": 86_400_000,
    "3d": 259_200_000,
    "1w": 604_800_000,
}  # no "1M": calendar months are not worth synthesizing
WEEK_OFFSET_MS = 4 * 86_400_000  # 1970-01-01 was a Thursday; Binance weeks start on Monday

CLIENT_ORDER_ID = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
DECIMAL_PARAM = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")


class LoggedRequest(NamedTuple):
    method: str
    path: str
    params: dict  # query and form parameters, without the signature


class BinanceError(Exception):
    def __init__(self, status: int, code: int, msg: str):
        super().__init__(f"{code} {msg}")
        self.status, self.code, self.msg = status, code, msg


def _mandatory(name: str) -> BinanceError:
    return BinanceError(400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


@dataclass
class _MarketState:
    last: Decimal
    open: Decimal
    high: Decimal
    low: Decimal
    last_qty: Decimal = ZERO
    volume: Decimal = ZERO
    quote_volume: Decimal = ZERO
    count: int = 0
    first_trade_id: int = -1
    last_trade_id: int = -1


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _fmt(value: Decimal) -> str:
    return format(value, ".8f")


def _floor_to(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).to_integral_value(rounding=ROUND_DOWN) * step


def _round_to(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).to_integral_value(rounding=ROUND_HALF_EVEN) * step


def _to_decimal(value) -> Decimal:
    # Floats are refused rather than converted: a binary float in a money path is a bug
    # the caller should see.
    if isinstance(value, float) or isinstance(value, bool):
        raise TypeError(f"use Decimal or str for money, not {type(value).__name__}")
    result = Decimal(value)
    if not result.is_finite():
        raise ValueError(f"not a finite amount: {value!r}")
    return result


def _without_signature(raw: str) -> str:
    return "&".join(part for part in raw.split("&") if not part.startswith("signature="))


def _hash_int(*parts) -> int:
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _json_response(payload, status: int = 200, headers: dict | None = None) -> web.Response:
    return web.Response(
        text=json.dumps(payload, separators=(",", ":")),
        status=status,
        content_type="application/json",
        charset="UTF-8",
        headers=headers,
    )


def _html_response(status: int, reason: str) -> web.Response:
    # What a load balancer in front of the API sends: not JSON, so ccxt can only go by the status.
    body = f"<html><head><title>{status} {reason}</title></head><body><h1>{status} {reason}</h1></body></html>"
    return web.Response(text=body, status=status, content_type="text/html")


def _fault_response(fault: str, remote: str) -> web.Response:
    if fault == "http_429":
        msg = (
            f"Too many requests; current limit of IP({remote}) is 6000 requests per minute. "
            "Please use WebSocket Streams for live updates to avoid polling the API."
        )
        return _json_response({"code": -1003, "msg": msg}, status=429, headers={"Retry-After": "1"})
    if fault == "http_500":
        return _html_response(500, "Internal Server Error")
    if fault == "http_502":
        return _html_response(502, "Bad Gateway")
    if fault == "http_503":
        return _html_response(503, "Service Unavailable")
    if fault == "malformed_json":
        return web.Response(text='{"symbol":"BTCUSDT","lastPrice":"6', content_type="application/json")
    if fault == "auth_error":
        return _json_response({"code": -2014, "msg": "API-key format invalid."}, status=401)
    if fault == "ip_not_whitelisted":
        msg = f"Invalid API-key, IP, or permissions for action, request ip: {remote}"
        return _json_response({"code": -2015, "msg": msg}, status=401)
    raise AssertionError(fault)


class FakeBinance(LoopbackServer):
    def __init__(
        self,
        *,
        api_key: str = "fake-key",
        secret: str = "fake-secret",
        whitelisted_ips=None,
        fault_delay: float = DEFAULT_FAULT_DELAY,
    ):
        super().__init__()
        self.api_key = api_key
        self.secret = secret
        self.whitelisted_ips = None if whitelisted_ips is None else set(whitelisted_ips)
        self.fault_delay = fault_delay
        self.requests: list[LoggedRequest] = []

        # One lock for all market state: the server thread and the test thread both mutate it.
        self._lock = threading.RLock()
        self._specs = {spec.symbol: spec for spec in SYMBOLS}
        self._specs_by_id = {spec.id: spec for spec in SYMBOLS}
        self._markets = {
            spec.id: _MarketState(spec.initial_price, spec.initial_price, spec.initial_price, spec.initial_price)
            for spec in SYMBOLS
        }
        self._balances: dict[str, dict[str, Decimal]] = {
            asset: {"free": ZERO, "locked": ZERO} for spec in SYMBOLS for asset in (spec.base, spec.quote)
        }
        self._orders: dict[int, dict] = {}  # orderId -> order, in placement order
        self._order_ids_by_client_id: dict[str, int] = {}
        self._reservations: dict[int, tuple[str, Decimal]] = {}  # open orderId -> (asset, locked amount)
        self._trades: list[dict] = []
        self._order_ids = itertools.count(1)
        self._trade_ids = itertools.count(1)
        self._client_ids = itertools.count(1)

        self._fault_rate = 0.0
        self._fault_choices: list[str] = []
        self._fault_endpoints: set[str] | None = None
        self._fault_rng = random.Random(0)

        self._routes = {
            "GET /api/v3/ping": (self._ping, False),
            "GET /api/v3/time": (self._time, False),
            "GET /api/v3/exchangeInfo": (self._exchange_info_endpoint, False),
            "GET /api/v3/ticker/24hr": (self._ticker_24hr, False),
            "GET /api/v3/klines": (self._klines, False),
            "GET /api/v3/account": (self._account, True),
            "POST /api/v3/order": (self._new_order, True),
            "POST /api/v3/order/test": (self._test_order, True),
            "GET /api/v3/order": (self._query_order, True),
            "DELETE /api/v3/order": (self._cancel_order, True),
            "GET /api/v3/openOrders": (self._open_orders, True),
            "DELETE /api/v3/openOrders": (self._cancel_open_orders, True),
            "GET /api/v3/allOrders": (self._all_orders, True),
            "GET /api/v3/myTrades": (self._my_trades, True),
        }

        self._ccxt_markets: list[dict] | None = None

    # ----------------------------------------------------------------- market state

    def ccxt_markets(self) -> list[dict]:
        """The markets as ccxt's load_markets would build them from this fake's exchangeInfo:
        ccxt's own binance.parse_market does the conversion, so precision and limits cannot
        drift from the filters the fake enforces."""
        if self._ccxt_markets is None:
            import ccxt  # only needed here; the server itself does not depend on ccxt

            parser = ccxt.binance({"options": {"crossMarginPairsData": [], "isolatedMarginPairsData": []}})
            self._ccxt_markets = [parser.parse_market(info) for info in self.exchange_info()["symbols"]]
        return copy.deepcopy(self._ccxt_markets)

    def exchange_info(self) -> dict:
        return {
            "timezone": "UTC",
            "serverTime": _now_ms(),
            "rateLimits": [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
                {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
                {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
            ],
            "exchangeFilters": [],
            "symbols": [self._symbol_info(spec) for spec in SYMBOLS],
        }

    @staticmethod
    def _symbol_info(spec: SymbolSpec) -> dict:
        return {
            "symbol": spec.id,
            "status": "TRADING",
            "baseAsset": spec.base,
            "baseAssetPrecision": 8,
            "quoteAsset": spec.quote,
            "quotePrecision": 8,
            "quoteAssetPrecision": 8,
            "baseCommissionPrecision": 8,
            "quoteCommissionPrecision": 8,
            # ccxt refuses order types missing here before sending anything
            "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"],
            "icebergAllowed": False,
            "ocoAllowed": False,
            "otoAllowed": False,
            "quoteOrderQtyMarketAllowed": True,
            "allowTrailingStop": False,
            "cancelReplaceAllowed": False,
            "amendAllowed": False,
            "isSpotTradingAllowed": True,
            "isMarginTradingAllowed": False,
            "filters": [
                {
                    "filterType": "PRICE_FILTER",
                    "minPrice": _fmt(spec.min_price),
                    "maxPrice": _fmt(spec.max_price),
                    "tickSize": _fmt(spec.tick_size),
                },
                {
                    "filterType": "LOT_SIZE",
                    "minQty": _fmt(spec.min_qty),
                    "maxQty": _fmt(spec.max_qty),
                    "stepSize": _fmt(spec.step_size),
                },
                {
                    "filterType": "MARKET_LOT_SIZE",
                    "minQty": _fmt(ZERO),
                    "maxQty": _fmt(spec.market_max_qty),
                    "stepSize": _fmt(ZERO),
                },
                {
                    "filterType": "NOTIONAL",
                    "minNotional": _fmt(spec.min_notional),
                    "applyMinToMarket": True,
                    "maxNotional": _fmt(spec.max_notional),
                    "applyMaxToMarket": False,
                    "avgPriceMins": 5,
                },
            ],
            "permissions": [],
            "permissionSets": [["SPOT"]],
            "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
            "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
        }

    def _spec(self, symbol: str) -> SymbolSpec:
        spec = self._specs.get(symbol) or self._specs_by_id.get(symbol)
        if spec is None:
            raise KeyError(f"unknown symbol {symbol!r}; the fake lists {sorted(self._specs)}")
        return spec

    def price(self, symbol: str) -> Decimal:
        with self._lock:
            return self._markets[self._spec(symbol).id].last

    def set_price(self, symbol: str, price: Decimal) -> None:
        """Move the last price; resting limit orders it crosses fill whole at their limit."""
        price = _to_decimal(price)
        if price <= 0:
            raise ValueError("price must be positive")
        with self._lock:
            spec = self._spec(symbol)
            state = self._markets[spec.id]
            state.last = price
            state.high = max(state.high, price)
            state.low = min(state.low, price)
            for order_id in list(self._reservations):
                order = self._orders[order_id]
                if order["symbol"] != spec.id:
                    continue
                crossed = price <= order["price"] if order["side"] == "BUY" else price >= order["price"]
                if crossed:
                    self._fill(order, order["price"], maker=True)

    def set_balance(self, asset: str, free: Decimal) -> None:
        free = _to_decimal(free)
        if free < 0:
            raise ValueError("balance must not be negative")
        with self._lock:
            self._balances.setdefault(asset, {"free": ZERO, "locked": ZERO})["free"] = free

    def balances(self) -> dict[str, dict]:
        with self._lock:
            return copy.deepcopy(self._balances)

    def orders(self) -> list[dict]:
        """Every accepted order in Binance's field names, Decimal amounts, with its fills."""
        with self._lock:
            result = []
            for order in self._orders.values():
                entry = dict(order)
                entry["fills"] = [dict(t) for t in self._trades if t["orderId"] == order["orderId"]]
                result.append(entry)
            return result

    def trades(self) -> list[dict]:
        with self._lock:
            return [dict(t) for t in self._trades]

    # ----------------------------------------------------------------- faults

    def fail_next(self, endpoint: str, fault: str, count: int = 1) -> None:
        """Answer the next `count` requests to `endpoint` ("POST /api/v3/order", or "*" for
        any) with `fault`. Endpoint-specific faults are used before "*" ones."""
        self._check_faults([fault])
        self._check_endpoint(endpoint)
        self._queue_fault(endpoint, fault, count)

    def set_fault_rate(
        self, rate: float, faults: list[str], seed: int = 0, endpoints: list[str] | None = None
    ) -> None:
        """Fault a `rate` fraction of requests (to `endpoints`, default all) with a fault drawn
        from `faults`; the draws come from Random(seed), so a fixed request sequence always
        faults the same way. A rate of 0 turns this off."""
        if not 0 <= rate <= 1:
            raise ValueError("rate must be within [0, 1]")
        if rate > 0:
            self._check_faults(faults)
            if not faults:
                raise ValueError("faults must not be empty")
        for endpoint in endpoints or []:
            self._check_endpoint(endpoint)
        with self._lock:
            self._fault_rate = rate
            self._fault_choices = list(faults)
            self._fault_endpoints = None if endpoints is None else set(endpoints)
            self._fault_rng = random.Random(seed)

    @staticmethod
    def _check_faults(faults) -> None:
        unknown = set(faults) - FAULTS
        if unknown:
            raise ValueError(f"unknown faults {sorted(unknown)}; known: {sorted(FAULTS)}")

    def _check_endpoint(self, endpoint: str) -> None:
        if endpoint != "*" and endpoint not in self._routes:
            raise ValueError(f"unknown endpoint {endpoint!r}; use '*' or one of {sorted(self._routes)}")

    def _next_fault(self, endpoint: str) -> str | None:
        """A queued fault first, else maybe a random one."""
        queued = self._queued_fault(endpoint)
        if queued is not None:
            return queued
        with self._lock:
            if self._fault_rate > 0 and (self._fault_endpoints is None or endpoint in self._fault_endpoints):
                if self._fault_rng.random() < self._fault_rate:
                    return self._fault_rng.choice(self._fault_choices)
        return None

    # ----------------------------------------------------------------- HTTP

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        endpoint = f"{request.method} {request.path}"
        raw_query = request.rel_url.raw_query_string
        raw_body = await request.text() if request.can_read_body else ""
        params = dict(parse_qsl(raw_body, keep_blank_values=True))
        params.update(parse_qsl(raw_query, keep_blank_values=True))  # the query string wins, as on Binance
        self.requests.append(
            LoggedRequest(request.method, request.path, {k: v for k, v in params.items() if k != "signature"})
        )

        fault = self._next_fault(endpoint)
        if fault == "timeout":
            await self._sleep_fault_delay()
            return _html_response(504, "Gateway Timeout")
        if fault is not None and fault != "timeout_after_processing":
            return _fault_response(fault, request.remote or "")

        response = self._process(request, endpoint, params, raw_query, raw_body)
        if fault == "timeout_after_processing":
            await self._sleep_fault_delay()
        return response

    def _process(self, request, endpoint, params, raw_query, raw_body) -> web.Response:
        route = self._routes.get(endpoint)
        if route is None:
            return _html_response(404, "Not Found")
        handler, signed = route
        try:
            with self._lock:
                if signed:
                    self._authenticate(request, params, raw_query, raw_body)
                return _json_response(handler(params))
        except BinanceError as error:
            return _json_response({"code": error.code, "msg": error.msg}, status=error.status)

    def _authenticate(self, request, params, raw_query, raw_body) -> None:
        key = request.headers.get("X-MBX-APIKEY")
        if not key:
            raise BinanceError(401, -2014, "API-key format invalid.")
        ip = request.remote
        if key != self.api_key or (self.whitelisted_ips is not None and ip not in self.whitelisted_ips):
            raise BinanceError(401, -2015, f"Invalid API-key, IP, or permissions for action, request ip: {ip}")
        timestamp = self._int_param(params, "timestamp", required=True)
        if not params.get("signature"):
            raise _mandatory("signature")
        recv_window = self._int_param(params, "recvWindow", default=5000)
        if recv_window > 60000:
            raise BinanceError(400, -1131, "recvWindow must be less than 60000")
        now = _now_ms()
        if timestamp > now + 1000 or now - timestamp > recv_window:
            raise BinanceError(400, -1021, "Timestamp for this request is outside of the recvWindow.")
        # Binance signs the query string followed by the body, minus the signature itself.
        payload = _without_signature(raw_query) + _without_signature(raw_body)
        expected = hmac.new(self.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, params["signature"].lower()):
            raise BinanceError(400, -1022, "Signature for this request is not valid.")

    # ----------------------------------------------------------------- parameters

    def _symbol_param(self, params: dict, required: bool = True) -> SymbolSpec | None:
        symbol = params.get("symbol")
        if not symbol:
            if required:
                raise _mandatory("symbol")
            return None
        spec = self._specs_by_id.get(symbol)
        if spec is None:
            raise BinanceError(400, -1121, "Invalid symbol.")
        return spec

    @staticmethod
    def _decimal_param(params: dict, name: str, required: bool = False) -> Decimal | None:
        raw = params.get(name)
        if raw is None or raw == "":
            if required:
                raise _mandatory(name)
            return None
        if not DECIMAL_PARAM.match(raw):
            raise BinanceError(
                400,
                -1100,
                f"Illegal characters found in parameter '{name}'; legal range is '^([0-9]{{1,20}})(\\.[0-9]{{1,20}})?$'.",
            )
        return Decimal(raw)

    @staticmethod
    def _int_param(params: dict, name: str, required: bool = False, default: int | None = None) -> int | None:
        raw = params.get(name)
        if raw is None or raw == "":
            if required:
                raise _mandatory(name)
            return default
        try:
            return int(raw)
        except ValueError:
            raise BinanceError(
                400, -1100, f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'."
            ) from None

    @classmethod
    def _limit_param(cls, params: dict, default: int = 500, maximum: int = 1000) -> int:
        limit = cls._int_param(params, "limit", default=default)
        if limit < 1:
            raise BinanceError(400, -1100, "Illegal characters found in parameter 'limit'; legal range is '^[0-9]{1,20}$'.")
        return min(limit, maximum)

    def _find_order(self, params: dict, spec: SymbolSpec) -> dict | None:
        order_id = self._int_param(params, "orderId")
        client_id = params.get("origClientOrderId") or None
        if order_id is None and client_id is None:
            raise BinanceError(400, -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
        if order_id is None:
            order_id = self._order_ids_by_client_id.get(client_id)
        order = self._orders.get(order_id)
        if order is None or order["symbol"] != spec.id:
            return None
        if client_id is not None and order["clientOrderId"] != client_id:
            return None
        return order

    # ----------------------------------------------------------------- public endpoints

    def _ping(self, params: dict) -> dict:
        return {}

    def _time(self, params: dict) -> dict:
        return {"serverTime": _now_ms()}

    def _exchange_info_endpoint(self, params: dict) -> dict:
        info = self.exchange_info()
        spec = self._symbol_param(params, required=False)
        if spec is not None:
            info["symbols"] = [self._symbol_info(spec)]
        return info

    def _ticker_24hr(self, params: dict):
        spec = self._symbol_param(params, required=False)
        if spec is not None:
            return self._ticker(spec)
        if params.get("symbols"):
            try:
                ids = json.loads(params["symbols"])
            except ValueError:
                raise BinanceError(400, -1100, "Illegal characters found in parameter 'symbols'.") from None
            return [self._ticker(self._symbol_param({"symbol": i})) for i in ids]
        return [self._ticker(spec) for spec in SYMBOLS]

    def _ticker(self, spec: SymbolSpec) -> dict:
        state = self._markets[spec.id]
        now = _now_ms()
        change = state.last - state.open
        percent = (change / state.open * 100).quantize(Decimal("0.001"))
        weighted = (state.quote_volume / state.volume) if state.volume else state.last
        return {
            "symbol": spec.id,
            "priceChange": _fmt(change),
            "priceChangePercent": str(percent),
            "weightedAvgPrice": _fmt(weighted),
            "prevClosePrice": _fmt(state.open),
            "lastPrice": _fmt(state.last),
            "lastQty": _fmt(state.last_qty),
            "bidPrice": _fmt(state.last),
            "bidQty": _fmt(spec.market_max_qty),
            "askPrice": _fmt(state.last),
            "askQty": _fmt(spec.market_max_qty),
            "openPrice": _fmt(state.open),
            "highPrice": _fmt(state.high),
            "lowPrice": _fmt(state.low),
            "volume": _fmt(state.volume),
            "quoteVolume": _fmt(state.quote_volume),
            "openTime": now - 86_400_000,
            "closeTime": now,
            "firstId": state.first_trade_id,
            "lastId": state.last_trade_id,
            "count": state.count,
        }

    def _klines(self, params: dict) -> list:
        """Deterministic candles: each closed candle's close is the current price moved by a
        pseudo-random ±0.5% that depends only on symbol, interval and open time; the open
        candle closes at the current price."""
        spec = self._symbol_param(params)
        interval = params.get("interval")
        if not interval:
            raise _mandatory("interval")
        if interval not in INTERVAL_MS:
            raise BinanceError(400, -1120, "Invalid interval.")
        limit = self._limit_param(params, default=500, maximum=1000)
        start = self._int_param(params, "startTime")
        end = self._int_param(params, "endTime")

        step = INTERVAL_MS[interval]
        offset = WEEK_OFFSET_MS if interval == "1w" else 0

        def align(t: int) -> int:
            return (t - offset) // step * step + offset

        current = align(_now_ms())
        last = current if end is None else min(current, align(end))
        if start is not None:
            first = align(start)
            if first < start:
                first += step
            opens = range(first, last + 1, step)[:limit]
        else:
            opens = range(last - (limit - 1) * step, last + 1, step)
        price = self._markets[spec.id].last

        def close_at(open_time: int) -> Decimal:
            if open_time >= current:
                return price
            bps = Decimal(_hash_int(spec.id, interval, open_time) % 101 - 50)
            return _round_to(price * (1 + bps / 10000), spec.tick_size)

        candles = []
        for open_time in opens:
            open_, close = close_at(open_time - step), close_at(open_time)
            shape = _hash_int(spec.id, interval, open_time, "shape")
            wick = spec.tick_size * (shape % 50)
            high = max(open_, close) + wick
            low = max(min(open_, close) - wick, spec.tick_size)
            volume = ((shape >> 8) % 100_000 + 1) * spec.step_size
            taker_base = _floor_to(volume / 2, spec.step_size)
            candles.append(
                [
                    open_time,
                    _fmt(open_),
                    _fmt(high),
                    _fmt(low),
                    _fmt(close),
                    _fmt(volume),
                    open_time + step - 1,
                    _fmt((volume * close).quantize(EIGHT_PLACES)),
                    (shape >> 32) % 1000 + 1,
                    _fmt(taker_base),
                    _fmt((taker_base * close).quantize(EIGHT_PLACES)),
                    "0",
                ]
            )
        return candles

    # ----------------------------------------------------------------- account endpoints

    def _account(self, params: dict) -> dict:
        omit_zero = params.get("omitZeroBalances", "").lower() == "true"
        balances = [
            {"asset": asset, "free": _fmt(b["free"]), "locked": _fmt(b["locked"])}
            for asset, b in sorted(self._balances.items())
            if not (omit_zero and b["free"] == 0 and b["locked"] == 0)
        ]
        return {
            "makerCommission": 10,
            "takerCommission": 10,
            "buyerCommission": 0,
            "sellerCommission": 0,
            "commissionRates": {
                "maker": _fmt(FEE_RATE),
                "taker": _fmt(FEE_RATE),
                "buyer": _fmt(ZERO),
                "seller": _fmt(ZERO),
            },
            "canTrade": True,
            "canWithdraw": True,
            "canDeposit": True,
            "brokered": False,
            "requireSelfTradePrevention": False,
            "preventSor": False,
            "updateTime": _now_ms(),
            "accountType": "SPOT",
            "balances": balances,
            "permissions": ["SPOT"],
            "uid": 1,
        }

    def _test_order(self, params: dict) -> dict:
        self._new_order(params, test=True)
        return {}

    def _new_order(self, params: dict, test: bool = False) -> dict:
        spec = self._symbol_param(params)
        side = params.get("side")
        if not side:
            raise _mandatory("side")
        if side not in ("BUY", "SELL"):
            raise BinanceError(400, -1117, "Invalid side.")
        order_type = params.get("type")
        if not order_type:
            raise _mandatory("type")
        if order_type not in ("LIMIT", "LIMIT_MAKER", "MARKET"):
            raise BinanceError(400, -1116, "Invalid orderType.")
        # Binance's defaults: FULL for MARKET and LIMIT, ACK for everything else.
        resp_type = params.get("newOrderRespType") or ("ACK" if order_type == "LIMIT_MAKER" else "FULL")
        if resp_type not in ("ACK", "RESULT", "FULL"):
            raise BinanceError(400, -1177, "Invalid newOrderRespType.")
        client_id = params.get("newClientOrderId") or f"fake{next(self._client_ids):018d}"
        if not CLIENT_ORDER_ID.match(client_id):
            raise BinanceError(
                400,
                -1100,
                "Illegal characters found in parameter 'newClientOrderId'; legal range is '^[\\.A-Z\\:/a-z0-9_-]{1,36}$'.",
            )

        last = self._markets[spec.id].last
        price = quote_qty = None
        time_in_force = "GTC"
        if order_type == "MARKET":
            if params.get("timeInForce"):
                raise BinanceError(400, -1106, "Parameter 'timeInForce' sent when not required.")
            qty = self._decimal_param(params, "quantity")
            quote_qty = self._decimal_param(params, "quoteOrderQty")
            if qty is None and quote_qty is None:
                raise BinanceError(400, -1102, "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!")
            if qty is not None and quote_qty is not None:
                raise BinanceError(400, -1106, "Parameter 'quoteOrderQty' sent when not required.")
            if quote_qty is not None:
                # Spend at most quoteOrderQty: the quantity it buys at the last price, down to the step.
                qty = _floor_to(quote_qty / last, spec.step_size)
        else:
            if order_type == "LIMIT":
                time_in_force = params.get("timeInForce")
                if not time_in_force:
                    raise _mandatory("timeInForce")
                if time_in_force not in ("GTC", "IOC", "FOK"):
                    raise BinanceError(400, -1115, "Invalid timeInForce.")
            qty = self._decimal_param(params, "quantity", required=True)
            price = self._decimal_param(params, "price", required=True)
        self._check_filters(spec, order_type, price, qty, last)

        if client_id in self._order_ids_by_client_id:
            raise BinanceError(400, -2010, "Duplicate order sent.")
        marketable = order_type == "MARKET" or (price >= last if side == "BUY" else price <= last)
        if order_type == "LIMIT_MAKER" and marketable:
            raise BinanceError(400, -2010, "Order would immediately match and take.")
        if side == "BUY":
            reserve_asset, reserve = spec.quote, qty * (last if order_type == "MARKET" else price)
        else:
            reserve_asset, reserve = spec.base, qty
        if self._balances.setdefault(reserve_asset, {"free": ZERO, "locked": ZERO})["free"] < reserve:
            raise BinanceError(400, -2010, "Account has insufficient balance for requested action.")
        if test:
            return {}

        now = _now_ms()
        order = {
            "symbol": spec.id,
            "orderId": next(self._order_ids),
            "orderListId": -1,
            "clientOrderId": client_id,
            "price": price if price is not None else ZERO,
            "origQty": qty,
            "executedQty": ZERO,
            "cummulativeQuoteQty": ZERO,
            "status": "NEW",
            "timeInForce": time_in_force,
            "type": order_type,
            "side": side,
            "stopPrice": ZERO,
            "icebergQty": ZERO,
            "time": now,
            "updateTime": now,
            "isWorking": True,
            "workingTime": now,
            "origQuoteOrderQty": quote_qty if quote_qty is not None else ZERO,
            "selfTradePreventionMode": "EXPIRE_MAKER",
        }
        self._orders[order["orderId"]] = order
        self._order_ids_by_client_id[client_id] = order["orderId"]
        self._reserve(order, reserve_asset, reserve)
        trades = []
        if marketable:
            trades.append(self._fill(order, last, maker=False))
        elif time_in_force in ("IOC", "FOK"):
            self._release(order)
            order["status"] = "EXPIRED"
        return self._order_ack(order, resp_type, trades, now)

    def _check_filters(self, spec: SymbolSpec, order_type: str, price, qty: Decimal, last: Decimal) -> None:
        if price is not None:
            if price < spec.min_price or price > spec.max_price or (price - spec.min_price) % spec.tick_size:
                raise BinanceError(400, -1013, "Filter failure: PRICE_FILTER")
        if qty < spec.min_qty or qty > spec.max_qty or (qty - spec.min_qty) % spec.step_size:
            raise BinanceError(400, -1013, "Filter failure: LOT_SIZE")
        if order_type == "MARKET" and qty > spec.market_max_qty:
            raise BinanceError(400, -1013, "Filter failure: MARKET_LOT_SIZE")
        # Binance values market orders at the average price of the last avgPriceMins minutes;
        # with a single price, that is the last price.
        notional = qty * (last if price is None else price)
        if notional < spec.min_notional or (order_type != "MARKET" and notional > spec.max_notional):
            raise BinanceError(400, -1013, "Filter failure: NOTIONAL")

    def _reserve(self, order: dict, asset: str, amount: Decimal) -> None:
        balance = self._balances[asset]
        balance["free"] -= amount
        balance["locked"] += amount
        self._reservations[order["orderId"]] = (asset, amount)

    def _release(self, order: dict) -> None:
        asset, amount = self._reservations.pop(order["orderId"])
        balance = self._balances[asset]
        balance["locked"] -= amount
        balance["free"] += amount

    def _fill(self, order: dict, price: Decimal, maker: bool) -> dict:
        """Fill the whole order at `price`: settle against its reservation and record the trade."""
        spec = self._specs_by_id[order["symbol"]]
        qty = order["origQty"]
        quote = qty * price
        self._release(order)
        base_balance = self._balances.setdefault(spec.base, {"free": ZERO, "locked": ZERO})
        quote_balance = self._balances.setdefault(spec.quote, {"free": ZERO, "locked": ZERO})
        if order["side"] == "BUY":
            commission, commission_asset = (qty * FEE_RATE).quantize(EIGHT_PLACES, ROUND_HALF_UP), spec.base
            quote_balance["free"] -= quote
            base_balance["free"] += qty - commission
        else:
            commission, commission_asset = (quote * FEE_RATE).quantize(EIGHT_PLACES, ROUND_HALF_UP), spec.quote
            base_balance["free"] -= qty
            quote_balance["free"] += quote - commission

        now = _now_ms()
        order.update(executedQty=qty, cummulativeQuoteQty=quote, status="FILLED", updateTime=now)
        trade = {
            "symbol": spec.id,
            "id": next(self._trade_ids),
            "orderId": order["orderId"],
            "orderListId": -1,
            "price": price,
            "qty": qty,
            "quoteQty": quote,
            "commission": commission,
            "commissionAsset": commission_asset,
            "time": now,
            "isBuyer": order["side"] == "BUY",
            "isMaker": maker,
            "isBestMatch": True,
        }
        self._trades.append(trade)

        state = self._markets[spec.id]
        state.last_qty = qty
        state.volume += qty
        state.quote_volume += quote
        state.count += 1
        if state.first_trade_id < 0:
            state.first_trade_id = trade["id"]
        state.last_trade_id = trade["id"]
        return trade

    def _order_ack(self, order: dict, resp_type: str, trades: list[dict], transact_time: int) -> dict:
        result = {
            "symbol": order["symbol"],
            "orderId": order["orderId"],
            "orderListId": -1,
            "clientOrderId": order["clientOrderId"],
            "transactTime": transact_time,
        }
        if resp_type == "ACK":
            return result
        result.update(
            price=_fmt(order["price"]),
            origQty=_fmt(order["origQty"]),
            executedQty=_fmt(order["executedQty"]),
            origQuoteOrderQty=_fmt(order["origQuoteOrderQty"]),
            cummulativeQuoteQty=_fmt(order["cummulativeQuoteQty"]),
            status=order["status"],
            timeInForce=order["timeInForce"],
            type=order["type"],
            side=order["side"],
            workingTime=order["workingTime"],
            selfTradePreventionMode=order["selfTradePreventionMode"],
        )
        if resp_type == "FULL":
            result["fills"] = [
                {
                    "price": _fmt(t["price"]),
                    "qty": _fmt(t["qty"]),
                    "commission": _fmt(t["commission"]),
                    "commissionAsset": t["commissionAsset"],
                    "tradeId": t["id"],
                }
                for t in trades
            ]
        return result

    @staticmethod
    def _order_json(order: dict) -> dict:
        return {key: _fmt(value) if isinstance(value, Decimal) else value for key, value in order.items()}

    def _query_order(self, params: dict) -> dict:
        order = self._find_order(params, self._symbol_param(params))
        if order is None:
            raise BinanceError(400, -2013, "Order does not exist.")
        return self._order_json(order)

    def _cancel_order(self, params: dict) -> dict:
        order = self._find_order(params, self._symbol_param(params))
        if order is None or order["status"] != "NEW":
            raise BinanceError(400, -2011, "Unknown order sent.")
        return self._cancel(order, params.get("newClientOrderId"))

    def _cancel(self, order: dict, cancel_client_id: str | None) -> dict:
        self._release(order)
        now = _now_ms()
        order.update(status="CANCELED", updateTime=now)
        # Binance answers a cancel with a fresh clientOrderId for the cancel request itself
        # and the order's own id as origClientOrderId; ccxt reports the former.
        return {
            "symbol": order["symbol"],
            "origClientOrderId": order["clientOrderId"],
            "orderId": order["orderId"],
            "orderListId": -1,
            "clientOrderId": cancel_client_id or f"fake{next(self._client_ids):018d}",
            "transactTime": now,
            "price": _fmt(order["price"]),
            "origQty": _fmt(order["origQty"]),
            "executedQty": _fmt(order["executedQty"]),
            "origQuoteOrderQty": _fmt(order["origQuoteOrderQty"]),
            "cummulativeQuoteQty": _fmt(order["cummulativeQuoteQty"]),
            "status": order["status"],
            "timeInForce": order["timeInForce"],
            "type": order["type"],
            "side": order["side"],
            "selfTradePreventionMode": order["selfTradePreventionMode"],
        }

    def _open_orders(self, params: dict) -> list:
        spec = self._symbol_param(params, required=False)
        return [
            self._order_json(self._orders[order_id])
            for order_id in sorted(self._reservations)
            if spec is None or self._orders[order_id]["symbol"] == spec.id
        ]

    def _cancel_open_orders(self, params: dict) -> list:
        spec = self._symbol_param(params)
        open_orders = [self._orders[i] for i in sorted(self._reservations) if self._orders[i]["symbol"] == spec.id]
        if not open_orders:
            raise BinanceError(400, -2011, "Unknown order sent.")
        return [self._cancel(order, None) for order in open_orders]

    def _all_orders(self, params: dict) -> list:
        spec = self._symbol_param(params)
        from_id = self._int_param(params, "orderId")
        start = self._int_param(params, "startTime")
        end = self._int_param(params, "endTime")
        limit = self._limit_param(params)
        selected = [
            o
            for o in self._orders.values()
            if o["symbol"] == spec.id
            and (from_id is None or o["orderId"] >= from_id)
            and (start is None or o["time"] >= start)
            and (end is None or o["time"] <= end)
        ]
        # Without a starting point Binance returns the most recent ones.
        selected = selected[:limit] if (from_id is not None or start is not None) else selected[-limit:]
        return [self._order_json(o) for o in selected]

    def _my_trades(self, params: dict) -> list:
        spec = self._symbol_param(params)
        order_id = self._int_param(params, "orderId")
        from_id = self._int_param(params, "fromId")
        start = self._int_param(params, "startTime")
        end = self._int_param(params, "endTime")
        limit = self._limit_param(params)
        selected = [
            t
            for t in self._trades
            if t["symbol"] == spec.id
            and (order_id is None or t["orderId"] == order_id)
            and (from_id is None or t["id"] >= from_id)
            and (start is None or t["time"] >= start)
            and (end is None or t["time"] <= end)
        ]
        selected = selected[:limit] if (from_id is not None or start is not None) else selected[-limit:]
        return [{key: _fmt(v) if isinstance(v, Decimal) else v for key, v in t.items()} for t in selected]
