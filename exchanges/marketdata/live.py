"""Live public prices for paper accounts, when the network allows.

Tickers are read through ccxt's public API of one exchange (no keys) and kept as a
short history per symbol in this process; the path between two ticks is taken as a
straight line. Every paper account of the process trading the same (exchange, symbol)
shares the reads: at most one per symbol per second.
"""

import time
from collections import deque
from decimal import Decimal

from exchanges.errors import TemporarilyUnavailable
from exchanges.marketdata.base import Feed, Polyline, rounded

HISTORY = 3600  # ticks kept per symbol
MIN_INTERVAL = 1.0  # seconds between reads of one symbol

_ticks: dict[tuple[str, str], deque] = {}


class LiveFeed(Feed):
    kind = "live"

    def __init__(self, exchange_id: str):
        self.exchange_id = exchange_id

    async def refresh(self, symbols, client, now: float | None = None) -> None:
        """Read the tickers that are due, through `client` (an async ccxt exchange)."""
        now = time.time() if now is None else now
        for symbol in symbols:
            ticks = _ticks.setdefault((self.exchange_id, symbol), deque(maxlen=HISTORY))
            if ticks and now - ticks[-1][0] < MIN_INTERVAL:
                continue
            ticker = await client.fetch_ticker(symbol)
            last = ticker.get("last") if isinstance(ticker, dict) else None
            if last is None:
                raise TemporarilyUnavailable(f"{self.exchange_id} returned no price for {symbol}.")
            ticks.append((now, Decimal(str(last))))

    def price(self, symbol, t):
        return rounded(symbol, self._path(symbol).price(t))

    def price_before(self, symbol, t):
        return rounded(symbol, self._path(symbol).price(t, before=True))

    def first_cross(self, symbol, t0, t1, level, *, down):
        if t1 < t0:
            return None
        return self._path(symbol).first_cross(t0, t1, Decimal(level), down=down)

    def extremes(self, symbol, t0, t1):
        low, high = self._path(symbol).extremes(t0, t1)
        return rounded(symbol, low), rounded(symbol, high)

    def _path(self, symbol) -> Polyline:
        ticks = _ticks.get((self.exchange_id, symbol))
        if not ticks:
            raise TemporarilyUnavailable(f"No live price for {symbol} yet.")
        return Polyline(list(ticks))
