"""The contract of a market-data source for the paper exchange.

    price(symbol, t) -> Decimal                  the price at unix time t
    first_cross(symbol, t0, t1, level, down)     first t in [t0, t1] at or below (down) /
                                                 at or above level, or None
    extremes(symbol, t0, t1) -> (low, high)      of the path over [t0, t1]
    ohlcv(symbol, timeframe_seconds, since, until) -> [[ms, o, h, l, c, v], ...]

Sources are synchronous and cheap to query: the paper ledger asks them inside its
database transaction. A source that needs the network (live) is refreshed beforehand.
"""

import math
from decimal import Decimal

from exchanges import markets


class Feed:
    kind: str

    def ohlcv(self, symbol: str, timeframe_seconds: int, since: float, until: float) -> list[list]:
        """Candles from the path itself, so they always agree with fills; the candle in
        progress at `until` is included, ending at `until`."""
        candles = []
        start = math.floor(since / timeframe_seconds) * timeframe_seconds
        t = start
        while t < until:
            end = min(t + timeframe_seconds, until)
            low, high = self.extremes(symbol, t, end)
            close = self.price_before(symbol, end)
            candles.append([int(t * 1000), self.price(symbol, t), high, low, close, self.volume(symbol, t, end)])
            t += timeframe_seconds
        return candles

    def volume(self, symbol: str, t0: float, t1: float) -> Decimal:
        return Decimal("0")

    def price_before(self, symbol: str, t: float) -> Decimal:
        """The price just before t: a candle closes there even when the path jumps at t."""
        return self.price(symbol, t)


class Polyline:
    """A price path through (time, price) vertices, linear in between. Two vertices at
    the same time are a jump (a gap between candles, a new tick)."""

    def __init__(self, vertices: list[tuple[float, Decimal]]):
        self.vertices = vertices

    def price(self, t: float, *, before: bool = False) -> Decimal:
        """At t; with `before`, the limit from the left (ignoring a jump at t)."""
        previous = self.vertices[0]
        for vertex in self.vertices:
            if vertex[0] > t or (before and vertex[0] == t and vertex[0] > previous[0]):
                return _between(previous, vertex, t)
            previous = vertex
        return previous[1]

    def first_cross(self, t0: float, t1: float, level: Decimal, *, down: bool) -> float | None:
        hit = (lambda p: p <= level) if down else (lambda p: p >= level)
        start = self.price(t0)
        if hit(start):
            return t0
        previous = (t0, start)
        for vertex in self.vertices:
            if vertex[0] <= t0:
                continue
            if vertex[0] > t1:
                vertex = (t1, _between(previous, vertex, t1))
            if hit(vertex[1]):
                (ta, pa), (tb, pb) = previous, vertex
                if tb == ta or pb == pa:
                    return tb
                return ta + (tb - ta) * float((level - pa) / (pb - pa))
            previous = vertex
            if vertex[0] >= t1:
                break
        return None

    def extremes(self, t0: float, t1: float) -> tuple[Decimal, Decimal]:
        prices = [self.price(t0), self.price(t1)] + [p for t, p in self.vertices if t0 <= t <= t1]
        return min(prices), max(prices)


def _between(a: tuple[float, Decimal], b: tuple[float, Decimal], t: float) -> Decimal:
    (ta, pa), (tb, pb) = a, b
    if tb <= ta:
        return pb
    return pa + (pb - pa) * Decimal(repr((t - ta) / (tb - ta)))


def rounded(symbol: str, price: Decimal) -> Decimal:
    return markets.price_to_precision(symbol, price)
