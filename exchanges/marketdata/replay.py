"""Replay of imported OHLCV candles (`manage.py import_ohlcv`) through a paper account.

Wall-clock time maps onto the dataset from the account's epoch on, at `speed` times
real time, and loops at the end. Inside a candle the price moves open -> low -> high ->
close for a rising candle and open -> high -> low -> close for a falling one, each leg
a third of the candle, so a limit order fills exactly when those moves cross it.
"""

import math
from decimal import Decimal

from exchanges.marketdata.base import Feed, Polyline, rounded
from exchanges.models import OhlcvCandle


class ReplayFeed(Feed):
    kind = "replay"

    def __init__(self, dataset: str, epoch: float, speed: float = 1.0):
        self.dataset = dataset
        self.epoch = epoch
        self.speed = speed
        self._spans: dict[str, tuple[int, int, int]] = {}

    def symbols(self) -> list[str]:
        return sorted(set(OhlcvCandle.objects.filter(dataset=self.dataset).values_list("symbol", flat=True)))

    def price(self, symbol, t):
        return rounded(symbol, self._path(symbol, t, t).price(t))

    def price_before(self, symbol, t):
        # The path must hold the candle that ends at t, not only the one starting there.
        return rounded(symbol, self._path(symbol, t - 0.001, t).price(t, before=True))

    def first_cross(self, symbol, t0, t1, level, *, down):
        if t1 < t0:
            return None
        return self._path(symbol, t0, t1).first_cross(t0, t1, Decimal(level), down=down)

    def extremes(self, symbol, t0, t1):
        low, high = self._path(symbol, t0, t1).extremes(t0, t1)
        return rounded(symbol, low), rounded(symbol, high)

    def volume(self, symbol, t0, t1):
        total = Decimal("0")
        for start, end, candle in self._candles_over(symbol, t0, t1):
            overlap = min(end, t1) - max(start, t0)
            if overlap > 0:
                total += candle.volume * Decimal(repr(overlap / (end - start)))
        return total.quantize(Decimal("1e-8"))

    # --- internals -----------------------------------------------------------------

    def _span(self, symbol) -> tuple[int, int, int]:
        """(first candle ms, timeframe s, candle count) of the symbol's candles."""
        if symbol not in self._spans:
            candles = OhlcvCandle.objects.filter(dataset=self.dataset, symbol=symbol)
            first = candles.order_by("timestamp_ms").values_list("timestamp_ms", "timeframe_seconds").first()
            if first is None:
                raise LookupError(f"Replay dataset {self.dataset!r} has no candles for {symbol}.")
            self._spans[symbol] = (first[0], first[1], candles.count())
        return self._spans[symbol]

    def _candles_over(self, symbol, t0, t1):
        """(wall start, wall end, candle) for every candle replayed within [t0, t1]."""
        first_ms, timeframe, count = self._span(symbol)
        wall_per_candle = timeframe / self.speed
        first_index = math.floor((t0 - self.epoch) / wall_per_candle)
        last_index = math.floor((t1 - self.epoch) / wall_per_candle)
        wanted = {index: index % count for index in range(first_index, last_index + 1)}
        by_position = {
            round((candle.timestamp_ms - first_ms) / 1000 / timeframe): candle
            for candle in OhlcvCandle.objects.filter(
                dataset=self.dataset, symbol=symbol,
                timestamp_ms__in=[first_ms + position * timeframe * 1000 for position in set(wanted.values())],
            )
        }
        for index, position in sorted(wanted.items()):
            start = self.epoch + index * wall_per_candle
            if position in by_position:
                yield start, start + wall_per_candle, by_position[position]

    def _path(self, symbol, t0, t1) -> Polyline:
        vertices = []
        for start, end, c in self._candles_over(symbol, t0, t1):
            third = (end - start) / 3
            middle = (c.low, c.high) if c.close >= c.open else (c.high, c.low)
            vertices += [(start, c.open), (start + third, middle[0]), (start + 2 * third, middle[1]), (end, c.close)]
        if not vertices:
            raise LookupError(f"Replay dataset {self.dataset!r} has a gap for {symbol}.")
        return Polyline(vertices)
