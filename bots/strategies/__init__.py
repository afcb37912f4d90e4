"""Strategy plugins by key. Each is one file implementing bots.strategies.base."""

from bots.strategies.base import Strategy
from bots.strategies.dca import Dca
from bots.strategies.grid import Grid
from bots.strategies.pair_hedge import PairHedge
from bots.strategies.signal import SignalStrategy

STRATEGIES: dict[str, type[Strategy]] = {cls.key: cls for cls in (Grid, Dca, SignalStrategy, PairHedge)}


def strategy_class(key: str) -> type[Strategy]:
    try:
        return STRATEGIES[key]
    except KeyError:
        raise LookupError(f"No strategy {key!r}.") from None
