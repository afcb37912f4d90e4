import json
import math
import statistics
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from exchanges.marketdata.simulated import SimulatedFeed

ROOT = Path(__file__).resolve().parents[2]
T = 1_800_000_000
SAMPLES = [("BTC/USDT", T), ("BTC/USDT", T + 0.5), ("ETH/USDT", T + 86_400 * 30 + 7), ("SOL/USDT:USDT", T - 12_345)]


def test_two_processes_agree_on_every_price():
    here = [str(SimulatedFeed(seed=7).price(symbol, t)) for symbol, t in SAMPLES]
    code = (
        "import json, sys; from exchanges.marketdata.simulated import SimulatedFeed; f = SimulatedFeed(seed=7); "
        f"print(json.dumps([str(f.price(s, t)) for s, t in {SAMPLES!r}]))"
    )
    # A different hash seed proves nothing depends on Python's per-process string hashing.
    env = {"PYTHONHASHSEED": "12345", "PATH": "/usr/bin:/bin"}
    there = json.loads(subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                                      text=True, check=True).stdout)
    assert here == there


def test_prices_depend_on_symbol_time_and_seed():
    feed = SimulatedFeed(seed=0)
    assert feed.price("BTC/USDT", T) != feed.price("BTC/USDT", T + 60)
    assert feed.price("BTC/USDT", T) != SimulatedFeed(seed=1).price("BTC/USDT", T)
    assert feed.price("BTC/USDT", T) == SimulatedFeed(seed=0).price("BTC/USDT", T)


def test_prices_are_on_the_tick_and_near_the_typical_price():
    feed = SimulatedFeed()
    for day in range(0, 365, 7):
        price = feed.price("BTC/USDT", T + day * 86_400)
        assert price == price.quantize(Decimal("0.01"))
        assert Decimal("20000") < price < Decimal("180000")


@pytest.mark.parametrize("lag", [1, 60, 3600, 86_400])
def test_realised_volatility_is_close_to_the_symbols_annual_figure(lag):
    feed = SimulatedFeed()
    x = [math.log(feed.price("BTC/USDT", T + i * lag)) for i in range(401)]
    annualised = statistics.pstdev([b - a for a, b in zip(x, x[1:], strict=False)]) * math.sqrt(365 * 86_400 / lag)
    assert 0.35 < annualised < 0.8  # BTC is set to 55 %


@pytest.mark.parametrize("down", [True, False])
def test_the_first_crossing_matches_a_brute_force_walk(down):
    feed = SimulatedFeed(seed=3)
    low, high = feed.extremes("ETH/USDT", T, T + 6 * 3600)
    # A level the path reaches late in the window, by a tick or so.
    level = low + Decimal("0.05") if down else high - Decimal("0.05")
    crossing = feed.first_cross("ETH/USDT", T, T + 6 * 3600, level, down=down)
    reached = (lambda p: p <= level) if down else (lambda p: p >= level)
    first_second = next(t for t in range(T, T + 6 * 3600 + 1) if reached(feed.price("ETH/USDT", t)))
    assert crossing is not None
    assert first_second - 1 < crossing <= first_second


def test_a_level_never_reached_gives_none():
    feed = SimulatedFeed()
    assert feed.first_cross("BTC/USDT", T, T + 3600, Decimal("1"), down=True) is None


def test_extremes_match_a_brute_force_walk():
    feed = SimulatedFeed(seed=5)
    prices = [feed.price("BTC/USDT", t) for t in range(T, T + 1801)]
    assert feed.extremes("BTC/USDT", T, T + 1800) == (min(prices), max(prices))


def test_candles_are_consistent():
    feed = SimulatedFeed()
    candles = feed.ohlcv("BTC/USDT", 300, T, T + 300 * 24)
    assert len(candles) == 24
    for previous, candle in zip(candles, candles[1:], strict=False):
        assert candle[0] - previous[0] == 300_000
        assert candle[1] == previous[4]  # open = previous close
    for _ms, open_, high, low, close, volume in candles:
        assert low <= min(open_, close) and high >= max(open_, close) and volume > 0


def test_extremes_within_one_second_come_from_the_ends():
    feed = SimulatedFeed()
    low, high = feed.extremes("BTC/USDT", T + 0.2, T + 0.7)
    ends = sorted([feed.price("BTC/USDT", T + 0.2), feed.price("BTC/USDT", T + 0.7)])
    assert (low, high) == (ends[0], ends[1])
