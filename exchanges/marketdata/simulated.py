"""Deterministic simulated prices.

The price of a symbol at time t is a pure function of (symbol, t, seed), so web,
workers and tests agree with no shared state. The log-price is a sum of value-noise
octaves with lattice spacings of 1 s, 2 s, 4 s ... 2^24 s (about 194 days), each
linearly interpolated, with amplitudes growing like the square root of the spacing:
increments then scale like Brownian motion (realised volatility close to the symbol's
annual figure at every horizon from seconds to months), while the path stays in a
realistic band around the symbol's typical price.

Between whole seconds the path is linear. Every octave is bounded, so a branch and
bound over aligned blocks finds the exact first time a level is crossed, or the exact
high and low of a candle, without visiting every second of a long interval.
"""

import hashlib
import math
from decimal import Decimal
from functools import lru_cache

from exchanges import markets
from exchanges.marketdata.base import Feed

OCTAVES = 25
NOISE_BOUND = 3.0  # each lattice value lies in [-3, 3] (sum of three uniforms)
SECONDS_PER_YEAR = 365 * 24 * 3600
ANNUAL_VOLATILITY = {"BTC": 0.55, "ETH": 0.70, "SOL": 0.90, "BNB": 0.60, "XRP": 0.80, "ADA": 0.85, "DOGE": 1.0}
DEFAULT_ANNUAL_VOLATILITY = 0.80
# Daily volume in base units at the typical price, to give candles plausible volume.
DAILY_VOLUME_QUOTE = 2_000_000_000

_MASK = (1 << 64) - 1


def _mix(x: int) -> int:
    """splitmix64's finaliser: a fast, well-spread 64-bit hash."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def _noise(key: int, octave: int, n: int) -> float:
    """A lattice value with mean 0 and variance 1, bounded by NOISE_BOUND."""
    h = _mix(key ^ _mix((octave << 48) ^ (n & ((1 << 48) - 1))))
    scale = 2.0 / (1 << 21)
    return (h & 0x1FFFFF) * scale + ((h >> 21) & 0x1FFFFF) * scale + ((h >> 42) & 0x1FFFFF) * scale - 3.0


class _Params:
    def __init__(self, symbol: str, seed: int):
        self.key = int.from_bytes(hashlib.blake2b(f"{seed}:{symbol}".encode(), digest_size=8).digest(), "big")
        base = symbol.split("/")[0]
        annual = ANNUAL_VOLATILITY.get(base, DEFAULT_ANNUAL_VOLATILITY)
        # Brownian scaling: with amplitude a*sqrt(T_k) per octave, the variance of an
        # increment over lag tau sums to about 4*a^2*tau across octaves (measured:
        # realised volatility matches the annual figure from 1 s to 1 week lags).
        a = annual / math.sqrt(SECONDS_PER_YEAR) / 2
        self.amplitudes = [a * math.sqrt(2**k) for k in range(OCTAVES)]
        # bound[k]: the most the octaves finer than k can add or take away.
        self.bound = [NOISE_BOUND * sum(self.amplitudes[:k]) for k in range(OCTAVES + 1)]
        self.typical = float(markets.typical_price(symbol))
        self.volume_per_second = DAILY_VOLUME_QUOTE / self.typical / 86400


class SimulatedFeed(Feed):
    kind = "simulated"

    def __init__(self, seed: int = 0):
        self.seed = seed
        self._params = lru_cache(maxsize=64)(lambda symbol: _Params(symbol, self.seed))
        self._suffix = lru_cache(maxsize=16384)(self._compute_suffix)
        # Neighbouring seconds share the lattice values of all but the finest octaves.
        self._lattice = lru_cache(maxsize=65536)(_noise)

    # --- prices ------------------------------------------------------------------

    def price(self, symbol: str, t: float) -> Decimal:
        """The price at unix time t, rounded to the market's tick."""
        return self._to_price(symbol, self._log_offset(symbol, t))

    def first_cross(self, symbol: str, t0: float, t1: float, level: Decimal, *, down: bool) -> float | None:
        """The first time in [t0, t1] the price is at or below `level` (down) or at or
        above it (up), or None."""
        if t1 < t0:
            return None
        params = self._params(symbol)
        target = math.log(float(level) / params.typical)
        sign = -1.0 if down else 1.0
        # Search in "sign*x >= sign*target" form, so one routine serves both sides.
        goal = sign * target
        for a, k in self._cover(t0, t1):
            found = self._first_in_block(symbol, params, a, k, t0, t1, sign, goal)
            if found is not None:
                return found
        return None

    def extremes(self, symbol: str, t0: float, t1: float) -> tuple[Decimal, Decimal]:
        """(low, high) of the path over [t0, t1]."""
        params = self._params(symbol)
        low = -self._extreme(symbol, params, t0, t1, -1.0)
        high = self._extreme(symbol, params, t0, t1, 1.0)
        return self._to_price(symbol, low), self._to_price(symbol, high)

    # --- internals ---------------------------------------------------------------

    def _to_price(self, symbol: str, log_offset: float) -> Decimal:
        params = self._params(symbol)
        return markets.price_to_precision(symbol, Decimal(repr(params.typical * math.exp(log_offset))))

    def _log_offset(self, symbol: str, t: float) -> float:
        n = math.floor(t)
        frac = t - n
        x0 = self._suffix(symbol, n)[0]
        if frac == 0:
            return x0
        return x0 + (self._suffix(symbol, n + 1)[0] - x0) * frac

    def _compute_suffix(self, symbol: str, n: int) -> tuple[float, ...]:
        """For whole second n: suffix[k] = sum of octaves k and coarser at n."""
        params = self._params(symbol)
        parts = []
        for k in range(OCTAVES):
            spacing = 1 << k
            cell, offset = divmod(n, spacing)
            v0 = self._lattice(params.key, k, cell)
            value = v0 if offset == 0 else v0 + (self._lattice(params.key, k, cell + 1) - v0) * (offset / spacing)
            parts.append(params.amplitudes[k] * value)
        suffix = [0.0] * (OCTAVES + 1)
        for k in range(OCTAVES - 1, -1, -1):
            suffix[k] = suffix[k + 1] + parts[k]
        return tuple(suffix)

    @staticmethod
    def _cover(t0: float, t1: float):
        """Aligned top-level blocks (start, octave) covering [t0, t1]."""
        size = 1 << (OCTAVES - 1)
        a = math.floor(t0 / size) * size
        while a <= t1:
            yield a, OCTAVES - 1
            a += size

    def _first_in_block(self, symbol, params, a, k, t0, t1, sign, goal):
        b = a + (1 << k)
        if b < t0 or a > t1:
            return None
        # On an aligned block the octaves k and coarser are linear; the finer ones can
        # move the path by at most bound[k].
        ceiling = max(sign * self._suffix(symbol, a)[k], sign * self._suffix(symbol, b)[k]) + params.bound[k]
        if ceiling < goal:
            return None
        if k == 0:
            return self._first_on_segment(symbol, a, max(a, t0), min(b, t1), sign, goal)
        half = a + (1 << (k - 1))
        found = self._first_in_block(symbol, params, a, k - 1, t0, t1, sign, goal)
        return found if found is not None else self._first_in_block(symbol, params, half, k - 1, t0, t1, sign, goal)

    def _first_on_segment(self, symbol, a, lo, hi, sign, goal):
        """The path is linear on [a, a+1]; first t in [lo, hi] with sign*x >= goal."""
        xa, xb = self._suffix(symbol, a)[0], self._suffix(symbol, a + 1)[0]
        y_lo = sign * (xa + (xb - xa) * (lo - a))
        y_hi = sign * (xa + (xb - xa) * (hi - a))
        if y_lo >= goal:
            return lo
        if y_hi < goal:
            return None
        return lo + (hi - lo) * (goal - y_lo) / (y_hi - y_lo)

    def _extreme(self, symbol, params, t0, t1, sign) -> float:
        """max of sign*x over [t0, t1]."""
        best = max(sign * self._log_offset(symbol, t0), sign * self._log_offset(symbol, t1))
        stack = list(self._cover(t0, t1))[::-1]
        while stack:
            a, k = stack.pop()
            b = a + (1 << k)
            if b < t0 or a > t1:
                continue
            ends = (sign * self._suffix(symbol, a)[k], sign * self._suffix(symbol, b)[k])
            if max(ends) + params.bound[k] <= best:
                continue
            if k == 0:
                # Inside [t0, t1] the segment's extremes are at its whole-second ends.
                best = max([best, *(sign * self._suffix(symbol, n)[0] for n in (a, b) if t0 <= n <= t1)])
                continue
            half = a + (1 << (k - 1))
            # Visit the more promising half first: it raises `best` sooner and prunes more.
            left, right = (a, k - 1), (half, k - 1)
            stack.extend([right, left] if ends[0] >= ends[1] else [left, right])
        return best

    def volume(self, symbol: str, t0: float, t1: float) -> Decimal:
        params = self._params(symbol)
        factor = 0.5 + (_mix(params.key ^ math.floor(t0)) & 0xFFFF) / 0xFFFF
        amount = params.volume_per_second * (t1 - t0) * factor
        return markets.amount_to_precision(symbol, Decimal(repr(amount)))
