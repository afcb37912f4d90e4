"""Real exchanges (and their sandboxes) through ccxt's async API.

A thin translation layer: Decimal in and out (ccxt speaks floats), ccxt's exception
tree mapped onto exchanges.errors with messages scrubbed of credentials, and retries
only where they are safe: reads are retried with back-off; an order placement that
timed out is first looked up by its client order id, and only placed again when the
exchange does not have it.
"""

import asyncio
import functools
import logging
from decimal import Decimal

from django.conf import settings

from exchanges import errors
from exchanges.adapters.base import ExchangeAdapter

logger = logging.getLogger(__name__)

ATTEMPTS = 3
FIRST_BACKOFF = 0.25  # seconds, doubled per attempt
MAX_BACKOFF = 5.0


@functools.cache
def ccxt_async():
    """ccxt.async_support costs about 100 MB and half a second to import: once per process."""
    import ccxt.async_support

    return ccxt.async_support


def exchange_ids() -> list[str]:
    return list(ccxt_async().exchanges)


class CcxtAdapter(ExchangeAdapter):
    key = "ccxt"

    def __init__(self, exchange_id: str, credentials: dict | None = None, *, sandbox: bool = False,
                 timeout_ms: int = 10_000, markets: list[dict] | None = None):
        module = ccxt_async()
        if exchange_id not in module.exchanges:
            raise errors.InvalidOrder(f"ccxt does not know the exchange {exchange_id!r}.")
        credentials = {key: value for key, value in (credentials or {}).items() if value}
        overrides = settings.CCXT_CLIENT_OVERRIDES.get(exchange_id, {})
        self.exchange_id = exchange_id
        self.client = getattr(module, exchange_id)({
            **credentials,
            "enableRateLimit": True,
            "timeout": timeout_ms,
            "options": {**overrides.get("options", {})},
        })
        if sandbox:
            try:
                self.client.set_sandbox_mode(True)
            except module.NotSupported:
                raise errors.InvalidOrder(f"{exchange_id} has no sandbox or testnet in ccxt.") from None
        self.client.urls["api"] = {**self.client.urls["api"], **overrides.get("api", {})}
        if markets:
            self.client.set_markets(markets)
        self._secrets = [str(value) for value in credentials.values() if len(str(value)) >= 4]

    @classmethod
    def for_connection(cls, connection, schema_name: str | None = None, **options) -> "CcxtAdapter":
        return cls(connection.exchange, connection.credentials(schema_name), sandbox=connection.sandbox, **options)

    @classmethod
    def public(cls, exchange_id: str) -> "CcxtAdapter":
        return cls(exchange_id, {})

    # --- plumbing ----------------------------------------------------------------------

    async def _call(self, method: str, *args, retry: bool = True):
        if method != "load_markets" and not self.client.markets:
            await self.load_markets()
        delay = FIRST_BACKOFF
        for attempt in range(ATTEMPTS if retry else 1):
            try:
                result = await getattr(self.client, method)(*args)
                if not readable(result):
                    raise errors.TemporarilyUnavailable(f"{self.exchange_id}: the response to {method} was unreadable.")
                return decimals(result)
            except errors.ExchangeError as error:
                translated = error
            except Exception as error:  # noqa: BLE001 - every ccxt error is translated
                translated = self.translate(error)
            if not translated.retryable or attempt == (ATTEMPTS if retry else 1) - 1:
                raise translated
            wait = min(getattr(translated, "retry_after", None) or delay, MAX_BACKOFF)
            logger.info("%s %s: %s; retrying in %.2f s", self.exchange_id, method, translated, wait)
            await asyncio.sleep(wait)
            delay *= 2

    def translate(self, error: Exception) -> errors.ExchangeError:
        """ccxt's exception tree onto ours, most specific first."""
        module = ccxt_async()
        text = self.scrub(str(error)) or type(error).__name__
        # ccxt starts its messages with the exchange id; we add it ourselves.
        text = text.removeprefix(self.exchange_id).lstrip(" :") or type(error).__name__
        table = [
            (module.OrderNotFound, errors.OrderNotFound),
            (module.DuplicateOrderId, errors.DuplicateOrder),
            (module.InsufficientFunds, errors.InsufficientFunds),
            (module.AuthenticationError, errors.AuthenticationFailed),
            ((module.RateLimitExceeded, module.DDoSProtection), errors.RateLimited),
            ((module.InvalidOrder, module.BadSymbol, module.BadRequest, module.ArgumentsRequired), errors.InvalidOrder),
            ((module.NetworkError, module.BadResponse, module.OnMaintenance), errors.TemporarilyUnavailable),
        ]
        for ccxt_classes, ours in table:
            if isinstance(error, ccxt_classes):
                # Some exchanges (Binance: -2010 "Duplicate order sent.") report a reused
                # client order id as a plain invalid order.
                if ours is errors.InvalidOrder and "duplicate" in text.lower():
                    ours = errors.DuplicateOrder
                return ours(f"{self.exchange_id}: {text}")
        if isinstance(error, (asyncio.TimeoutError, OSError)):
            return errors.TemporarilyUnavailable(f"{self.exchange_id}: {text}")
        if isinstance(error, (AttributeError, KeyError, TypeError, ValueError)):
            # ccxt's parsers choke on a response they cannot read (truncated JSON and the like).
            logger.warning("%s: unreadable response", self.exchange_id, exc_info=error)
            return errors.TemporarilyUnavailable(f"{self.exchange_id}: the response was unreadable.")
        return errors.ExchangeError(f"{self.exchange_id}: {text}")

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    # --- the interface ----------------------------------------------------------------------

    async def load_markets(self):
        """Loaded once and kept by ccxt. An empty or unreadable answer must not be kept:
        ccxt would then refuse every symbol as unknown, for good."""
        markets = await self._call("load_markets")
        if not markets:
            # ccxt memoises its loading future, an empty success included: forget it all.
            self.client.markets = self.client.markets_by_id = self.client.markets_loading = None
            raise errors.TemporarilyUnavailable(f"{self.exchange_id}: the market list was empty or unreadable.")
        return markets

    async def fetch_ticker(self, symbol):
        return await self._call("fetch_ticker", symbol)

    async def fetch_ohlcv(self, symbol, timeframe="1m", since=None, limit=None):
        return await self._call("fetch_ohlcv", symbol, timeframe, since, limit)

    async def fetch_balance(self):
        raw = await self._call("fetch_balance")
        return {
            asset: {"free": row.get("free") or Decimal(0), "used": row.get("used") or Decimal(0),
                    "total": row.get("total") or Decimal(0)}
            for asset, row in raw.items()
            if isinstance(row, dict) and asset not in ("info", "free", "used", "total") and row.get("total")
        }

    async def create_order(self, symbol, type, side, amount, price=None, params=None):
        params = dict(params or {})
        args = (symbol, type, side, float(amount), float(price) if price is not None else None, params)
        client_order_id = params.get("clientOrderId")
        try:
            return await self._call("create_order", *args, retry=False)
        except (errors.TemporarilyUnavailable, errors.RateLimited) as failure:
            if not client_order_id:
                raise
            last_failure = failure
        # The exchange may well have taken the order before the answer got lost: look
        # for it by client order id before placing it again.
        delay = FIRST_BACKOFF
        for _attempt in range(ATTEMPTS):
            await asyncio.sleep(min(getattr(last_failure, "retry_after", None) or delay, MAX_BACKOFF))
            delay *= 2
            try:
                return await self.fetch_order_by_client_id(client_order_id, symbol)
            except errors.OrderNotFound:
                pass
            except (errors.TemporarilyUnavailable, errors.RateLimited) as failure:
                last_failure = failure
                continue
            try:
                return await self._call("create_order", *args, retry=False)
            except errors.DuplicateOrder:
                return await self.fetch_order_by_client_id(client_order_id, symbol)
            except (errors.TemporarilyUnavailable, errors.RateLimited) as failure:
                last_failure = failure
        raise last_failure

    async def cancel_order(self, id, symbol=None, params=None):
        # Cancelling twice is harmless (the second finds no open order), so retrying is safe.
        return await self._call("cancel_order", id, symbol, params or {})

    async def fetch_order(self, id, symbol=None, params=None):
        return await self._call("fetch_order", id, symbol, params or {})

    async def fetch_order_by_client_id(self, client_order_id, symbol):
        try:
            return await self._call("fetch_order", None, symbol, {"clientOrderId": client_order_id})
        except errors.InvalidOrder:
            # Exchanges that cannot look orders up by client id: search recent orders.
            for method, capability in (("fetch_open_orders", "fetchOpenOrders"), ("fetch_closed_orders", "fetchClosedOrders")):
                if not self.client.has.get(capability):
                    continue
                for order in await self._call(method, symbol):
                    if order.get("clientOrderId") == client_order_id:
                        return order
            raise errors.OrderNotFound(f"{self.exchange_id}: no order with client order id {client_order_id}.")

    async def fetch_open_orders(self, symbol=None, since=None, limit=None):
        return await self._call("fetch_open_orders", symbol, since, limit)

    async def fetch_my_trades(self, symbol=None, since=None, limit=None):
        return await self._call("fetch_my_trades", symbol, since, limit)

    async def fetch_positions(self, symbols=None):
        if not self.client.has.get("fetchPositions"):
            return []
        return await self._call("fetch_positions", symbols)

    def amount_to_precision(self, symbol, amount):
        """Needs the markets loaded (load_markets)."""
        return Decimal(self.client.amount_to_precision(symbol, float(amount)))

    def price_to_precision(self, symbol, price):
        return Decimal(self.client.price_to_precision(symbol, float(price)))

    async def close(self):
        await self.client.close()


def readable(result) -> bool:
    """ccxt does not always raise on a body it cannot parse: it returns structures of
    None with the raw text as `info`. A unified structure always has parsed info."""
    if isinstance(result, dict):
        if isinstance(result.get("info"), str):
            return False
        return "id" not in result or result["id"] is not None or "status" not in result
    if isinstance(result, list):
        return all(
            readable(item) if isinstance(item, dict) else not isinstance(item, list) or None not in item[:5]
            for item in result
        )
    return True


def decimals(value):
    """ccxt's floats as Decimal (through their shortest repr, which is how ccxt parsed
    them from the exchange's strings); raw exchange payloads under 'info' untouched."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {key: (item if key == "info" else decimals(item)) for key, item in value.items()}
    if isinstance(value, list):
        return [decimals(item) for item in value]
    return value
