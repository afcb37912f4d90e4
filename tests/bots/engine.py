"""Helpers to run the engine in tests: a price path written relative to now that
stands in for the simulated paper feed (for the ledger and the engine alike), and a
shard runner in a background thread with fast ticks."""

import asyncio
import threading
import time
from decimal import Decimal

from django.db import connections

from bots.engine.runner import ShardRunner
from exchanges.marketdata.base import Feed, Polyline, rounded


class ScriptedMarket(Feed):
    kind = "scripted"

    def __init__(self, prices: dict[str, str]):
        self.start = time.time()
        self.paths = {}
        for symbol, price in prices.items():
            self.hold(symbol, price)

    def hold(self, symbol: str, price: str) -> None:
        """From now on the price is `price` (reached in a straight line over 0.2 s)."""
        now = time.time()
        path = self.paths.get(symbol)
        vertices = list(path.vertices) if path else [(self.start - 3600, Decimal(price))]
        current = path.price(now) if path else Decimal(price)
        vertices = [v for v in vertices if v[0] < now] + [(now, current), (now + 0.2, Decimal(price))]
        self.paths[symbol] = Polyline(vertices)

    def price(self, symbol, t):
        return rounded(symbol, self.paths[symbol].price(t))

    def first_cross(self, symbol, t0, t1, level, *, down):
        return self.paths[symbol].first_cross(t0, t1, Decimal(level), down=down)

    def extremes(self, symbol, t0, t1):
        low, high = self.paths[symbol].extremes(t0, t1)
        return rounded(symbol, low), rounded(symbol, high)


class RunnerThread:
    def __init__(self, shard: int = 0, *, tick=0.1, lease=3.0, run_seconds=120.0):
        self.runner = ShardRunner(shard, run_seconds=run_seconds, tick_seconds=tick, lease_seconds=lease)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.result = None
        self.error = None

    def _run(self):
        try:
            self.result = asyncio.run(self.runner.run())
        except BaseException as error:  # noqa: BLE001 - reported to the test
            self.error = error
        finally:
            connections.close_all()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        self.runner.stop_requested = True
        self.thread.join(timeout=15)
        assert not self.thread.is_alive(), "the runner did not stop"
        if self.error:
            raise self.error


def wait_for(condition, timeout=8.0, interval=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {condition.__doc__ or condition}")
