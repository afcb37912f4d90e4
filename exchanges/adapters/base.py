"""The one exchange interface every adapter implements: ccxt-shaped, async, unified
symbols (`BTC/USDT` spot, `BTC/USDT:USDT` linear perpetual), Decimal for every price,
amount, cost and balance.

Orders are dicts like ccxt's unified orders (id, clientOrderId, timestamp, symbol,
type, side, price, amount, filled, remaining, cost, average, status open/closed/
canceled, fee {cost, currency}); balances are {asset: {free, used, total}}; positions
are ccxt-shaped with a signed `contracts`-like `side` long/short.

Errors are exchanges.errors classes only.
"""

from abc import ABC, abstractmethod
from decimal import Decimal

from exchanges.errors import DuplicateOrder, OrderNotFound


class ExchangeAdapter(ABC):
    key: str

    @abstractmethod
    async def load_markets(self) -> dict[str, dict]: ...

    @abstractmethod
    async def fetch_ticker(self, symbol: str) -> dict: ...

    @abstractmethod
    async def fetch_ohlcv(self, symbol: str, timeframe: str = "1m", since: int | None = None, limit: int | None = None) -> list[list]: ...

    @abstractmethod
    async def fetch_balance(self) -> dict[str, dict[str, Decimal]]: ...

    @abstractmethod
    async def create_order(self, symbol: str, type: str, side: str, amount: Decimal, price: Decimal | None = None, params: dict | None = None) -> dict: ...

    @abstractmethod
    async def cancel_order(self, id: str, symbol: str | None = None, params: dict | None = None) -> dict: ...

    @abstractmethod
    async def fetch_order(self, id: str, symbol: str | None = None, params: dict | None = None) -> dict: ...

    @abstractmethod
    async def fetch_order_by_client_id(self, client_order_id: str, symbol: str) -> dict: ...

    @abstractmethod
    async def fetch_open_orders(self, symbol: str | None = None, since: int | None = None, limit: int | None = None) -> list[dict]: ...

    @abstractmethod
    async def fetch_my_trades(self, symbol: str | None = None, since: int | None = None, limit: int | None = None) -> list[dict]: ...

    @abstractmethod
    async def fetch_positions(self, symbols: list[str] | None = None) -> list[dict]: ...

    async def fetch_orders(self, client_order_ids: list[str], symbol: str) -> list[dict]:
        """These orders, open or not, by client order id (those the exchange knows).
        Adapters with a cheaper way than listing the open orders override this."""
        found = {o.get("clientOrderId"): o for o in await self.fetch_open_orders(symbol)}
        for client_order_id in client_order_ids:
            if client_order_id not in found:
                try:
                    found[client_order_id] = await self.fetch_order_by_client_id(client_order_id, symbol)
                except OrderNotFound:
                    pass
        return [found[cid] for cid in client_order_ids if cid in found]

    @abstractmethod
    def amount_to_precision(self, symbol: str, amount: Decimal) -> Decimal:
        """The amount the exchange will take: truncated to the market's step."""

    @abstractmethod
    def price_to_precision(self, symbol: str, price: Decimal) -> Decimal: ...

    async def close(self) -> None:
        """Release connections; the adapter is not used afterwards."""

    async def place_order(self, symbol: str, type: str, side: str, amount: Decimal, price: Decimal | None, client_order_id: str, params: dict | None = None) -> dict:
        """create_order, idempotent by client order id: when the order exists already
        (a retry after a timeout that the exchange did process), return that order."""
        try:
            return await self.create_order(symbol, type, side, amount, price, {**(params or {}), "clientOrderId": client_order_id})
        except DuplicateOrder:
            return await self.fetch_order_by_client_id(client_order_id, symbol)


TIMEFRAME_SECONDS = {"1m": 60, "3m": 180, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600, "2h": 7200, "4h": 14400, "6h": 21600, "12h": 43200, "1d": 86400, "1w": 604800}
