"""Helpers for paper-exchange tests: a hand-written price path and a clock to move."""

from decimal import Decimal

from django_tenants.utils import schema_context

from exchanges.marketdata.base import Feed, Polyline, rounded

T0 = 1_800_000_000.0


class ScriptedFeed(Feed):
    """Prices along hand-written (seconds after T0, price) vertices per symbol."""

    kind = "scripted"

    def __init__(self, paths: dict[str, list[tuple[float, str]]]):
        self.paths = {symbol: Polyline([(T0 + t, Decimal(p)) for t, p in points]) for symbol, points in paths.items()}

    def price(self, symbol, t):
        return rounded(symbol, self.paths[symbol].price(t))

    def first_cross(self, symbol, t0, t1, level, *, down):
        return self.paths[symbol].first_cross(t0, t1, Decimal(level), down=down)

    def extremes(self, symbol, t0, t1):
        return self.paths[symbol].extremes(t0, t1)


class Clock:
    def __init__(self, t: float = T0):
        self.t = t

    def __call__(self) -> float:
        return self.t

    def at(self, seconds_after_t0: float) -> "Clock":
        self.t = T0 + seconds_after_t0
        return self


class LedgerInSchema:
    """Runs ledger calls in the workspace's schema, as the adapter does."""

    def __init__(self, schema_name, ledger):
        self.schema_name = schema_name
        self.ledger = ledger

    def __getattr__(self, name):
        method = getattr(self.ledger, name)

        def call(*args, **kwargs):
            with schema_context(self.schema_name):
                return method(*args, **kwargs)

        return call
