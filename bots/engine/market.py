"""Market data for a tick: one read per (source, symbol), shared by every bot that
trades it. A source is where a connection's prices come from: the simulated paper feed,
a replay dataset, live public tickers, or a real exchange through ccxt."""

import asyncio
import logging
from dataclasses import dataclass
from decimal import Decimal

from asgiref.sync import sync_to_async
from django.conf import settings
from django_tenants.utils import schema_context

from exchanges import errors
from exchanges.adapters.paper import simulated_feed
from exchanges.marketdata.live import LiveFeed
from exchanges.marketdata.replay import ReplayFeed
from exchanges.models import ExchangeConnection

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Quote:
    price: Decimal
    low: Decimal  # the lowest price since the previous read of this source and symbol
    high: Decimal
    at: float


def source_key(connection: ExchangeConnection, schema: str, epoch: float | None) -> tuple:
    if connection.is_paper:
        if connection.market_data == ExchangeConnection.MarketData.REPLAY:
            return ("replay", schema, connection.replay_dataset, epoch)
        if connection.market_data == ExchangeConnection.MarketData.LIVE:
            return ("live", connection.live_price_exchange)
        return ("simulated", settings.PAPER_FEED_SEED)
    return ("ccxt", connection.exchange, connection.sandbox)


class MarketReader:
    def __init__(self):
        self._previous: dict[tuple, tuple[float, Decimal]] = {}
        self._public_clients = {}

    async def read(self, wanted: dict[tuple, set[str]], now: float) -> dict[tuple, Quote]:
        quotes: dict[tuple, Quote] = {}
        jobs = [self._read_source(source, symbols, now, quotes) for source, symbols in wanted.items()]
        await asyncio.gather(*jobs)
        return quotes

    async def _read_source(self, source, symbols, now, quotes):
        kind = source[0]
        try:
            if kind == "simulated":
                feed = simulated_feed()
                for symbol in symbols:
                    self._quote_from_feed(feed, source, symbol, now, quotes)
            elif kind == "replay":
                await sync_to_async(self._replay)(source, symbols, now, quotes)
            elif kind == "live":
                feed = LiveFeed(source[1])
                await feed.refresh(symbols, self._client(source[1], False), now=now)
                for symbol in symbols:
                    self._quote_from_feed(feed, source, symbol, now, quotes)
            else:
                client = self._client(source[1], source[2])
                tickers = await asyncio.gather(*(client.fetch_ticker(symbol) for symbol in symbols),
                                               return_exceptions=True)
                for symbol, ticker in zip(symbols, tickers, strict=True):
                    if isinstance(ticker, Exception) or ticker.get("last") is None:
                        logger.info("no price for %s %s: %s", source, symbol, ticker)
                        continue
                    self._quote(source, symbol, Decimal(ticker["last"]), now, quotes)
        except errors.ExchangeError as failure:
            logger.info("market data from %s failed: %s", source, failure)

    def _replay(self, source, symbols, now, quotes):
        _kind, schema, dataset, epoch = source
        with schema_context(schema):
            feed = ReplayFeed(dataset, epoch=epoch)
            for symbol in symbols:
                try:
                    self._quote_from_feed(feed, source, symbol, now, quotes)
                except LookupError as missing:
                    logger.info("replay %s: %s", dataset, missing)

    def _quote_from_feed(self, feed, source, symbol, now, quotes):
        previous = self._previous.get((source, symbol))
        price = feed.price(symbol, now)
        if previous and previous[0] < now:
            low, high = feed.extremes(symbol, previous[0], now)
        else:
            low = high = price
        self._previous[(source, symbol)] = (now, price)
        quotes[(source, symbol)] = Quote(price, min(low, price), max(high, price), now)

    def _quote(self, source, symbol, price, now, quotes):
        previous = self._previous.get((source, symbol))
        low, high = (min(previous[1], price), max(previous[1], price)) if previous else (price, price)
        self._previous[(source, symbol)] = (now, price)
        quotes[(source, symbol)] = Quote(price, low, high, now)

    def _client(self, exchange_id: str, sandbox: bool):
        key = (exchange_id, sandbox)
        if key not in self._public_clients:
            from exchanges.adapters.ccxt import CcxtAdapter

            self._public_clients[key] = CcxtAdapter(exchange_id, {}, sandbox=sandbox)
        return self._public_clients[key]

    async def close(self):
        for client in self._public_clients.values():
            await client.close()
        self._public_clients.clear()
