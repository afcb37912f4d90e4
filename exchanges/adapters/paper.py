"""The paper exchange behind the exchange interface: the ledger (exchanges/paper_ledger.py)
run in the workspace's schema, priced by the connection's market-data source."""

import time

from asgiref.sync import sync_to_async
from django.conf import settings

from exchanges import markets
from exchanges.adapters.base import TIMEFRAME_SECONDS, ExchangeAdapter
from exchanges.errors import InvalidOrder
from exchanges.marketdata.live import LiveFeed
from exchanges.marketdata.replay import ReplayFeed
from exchanges.marketdata.simulated import SimulatedFeed
from exchanges.models import ExchangeConnection, PaperAccount, PaperOrder, PaperPosition
from exchanges.paper_ledger import PaperLedger, iso
from tenants import rows
from tenants.schemas import in_schema

_simulated = {}


def simulated_feed() -> SimulatedFeed:
    """One per process and seed: its caches are shared by every account."""
    seed = settings.PAPER_FEED_SEED
    if seed not in _simulated:
        _simulated[seed] = SimulatedFeed(seed=seed)
    return _simulated[seed]


def feed_for(connection: ExchangeConnection, account: PaperAccount | None):
    """The price path of a paper account; `account` is needed for a replay only."""
    if connection.market_data == ExchangeConnection.MarketData.REPLAY:
        return ReplayFeed(connection.replay_dataset, epoch=account.epoch)
    if connection.market_data == ExchangeConnection.MarketData.LIVE:
        return LiveFeed(connection.live_price_exchange)
    return simulated_feed()


class PaperAdapter(ExchangeAdapter):
    key = "paper"

    def __init__(self, connection: ExchangeConnection, schema_name: str, *, clock=time.time, price_client=None,
                 run_sync=None):
        self.connection = connection
        self.schema_name = schema_name
        self.clock = clock
        # How database work is run from async code: the engine passes its own threads.
        self.run_sync = run_sync or (lambda function, *args: sync_to_async(function)(*args))
        # For live market data: an async ccxt-like client whose fetch_ticker gives public prices.
        self.price_client = price_client
        self._ledger = None

    # --- plumbing ----------------------------------------------------------------------

    def _in_schema(self, method, *args):
        with in_schema(self.schema_name):
            return getattr(self._ledger_here(), method)(*args)

    def _ledger_here(self) -> PaperLedger:
        """The account's ledger; call inside the schema."""
        if self._ledger is None:
            # Only a replay needs the account (its epoch) before the first operation.
            replay = self.connection.market_data == ExchangeConnection.MarketData.REPLAY
            account = rows.get(PaperAccount, "connection_id = %s", [self.connection.pk]) if replay else None
            self._ledger = PaperLedger(account.pk if account else None, feed_for(self.connection, account),
                                       clock=self.clock, connection_id=self.connection.pk)
        return self._ledger

    async def _call(self, method, *args, symbols=None):
        await self._refresh_live(symbols)
        return await self.run_sync(self._in_schema, method, *args)

    async def _refresh_live(self, symbols):
        if self.connection.market_data != ExchangeConnection.MarketData.LIVE:
            return
        if self.price_client is None:
            from exchanges.adapters.ccxt import CcxtAdapter

            self.price_client = CcxtAdapter.public(self.connection.live_price_exchange)
        feed = LiveFeed(self.connection.live_price_exchange)
        wanted = symbols or await self.run_sync(self._symbols_in_play)
        await feed.refresh(wanted, self.price_client, now=self.clock())

    def _symbols_in_play(self) -> list[str]:
        with in_schema(self.schema_name):
            account = {"account__connection_id": self.connection.pk}
            open_symbols = PaperOrder.objects.filter(**account, status="open").values_list("symbol", flat=True)
            held = PaperPosition.objects.filter(**account).exclude(contracts=0).values_list("symbol", flat=True)
            return sorted(set(open_symbols) | set(held))

    def _feed_call(self, method, *args):
        with in_schema(self.schema_name):
            return getattr(self._ledger_here().feed, method)(*args)

    # --- the interface ----------------------------------------------------------------------

    async def load_markets(self):
        return dict(markets.MARKETS)

    async def fetch_ticker(self, symbol):
        if symbol not in markets.MARKETS:
            self._unknown(symbol)
        await self._refresh_live([symbol])
        now = self.clock()
        last = await self.run_sync(self._feed_call, "price", symbol, now)
        tick = markets.market(symbol)["precision"]["price"]
        return {
            "symbol": symbol, "timestamp": int(now * 1000), "datetime": iso(now),
            "last": last, "close": last, "bid": last - tick, "ask": last + tick,
        }

    async def fetch_ohlcv(self, symbol, timeframe="1m", since=None, limit=None):
        if symbol not in markets.MARKETS:
            self._unknown(symbol)
        seconds = TIMEFRAME_SECONDS.get(timeframe)
        if seconds is None:
            raise InvalidOrder(f"Unknown timeframe {timeframe!r}.")
        limit = min(limit or 100, 1000)
        now = self.clock()
        start = since / 1000 if since is not None else now - seconds * (limit - 1)
        await self._refresh_live([symbol])
        candles = await self.run_sync(self._feed_call, "ohlcv", symbol, seconds, start, now)
        return candles[:limit] if since is not None else candles[-limit:]

    async def fetch_balance(self):
        return await self._call("fetch_balance")

    async def create_order(self, symbol, type, side, amount, price=None, params=None):
        return await self._call("create_order", symbol, type, side, amount, price, params, symbols=[symbol])

    async def cancel_order(self, id, symbol=None, params=None):
        client_order_id = (params or {}).get("clientOrderId")
        return await self._call("cancel_order", id, client_order_id)

    async def fetch_order(self, id, symbol=None, params=None):
        return await self._call("fetch_order", id, (params or {}).get("clientOrderId"))

    async def fetch_order_by_client_id(self, client_order_id, symbol):
        return await self._call("fetch_order", None, client_order_id)

    async def fetch_orders(self, client_order_ids, symbol):
        return await self._call("fetch_orders", client_order_ids, symbol)

    async def fetch_open_orders(self, symbol=None, since=None, limit=None):
        return await self._call("fetch_open_orders", symbol)

    async def fetch_my_trades(self, symbol=None, since=None, limit=None):
        return await self._call("fetch_my_trades", symbol, since, limit)

    async def fetch_positions(self, symbols=None):
        return await self._call("fetch_positions", symbols)

    def amount_to_precision(self, symbol, amount):
        return markets.amount_to_precision(symbol, amount)

    def price_to_precision(self, symbol, price):
        return markets.price_to_precision(symbol, price)

    async def close(self):
        if self.price_client is not None:
            await self.price_client.close()

    @staticmethod
    def _unknown(symbol):
        raise InvalidOrder(f"The paper exchange has no market {symbol}.")

