import pytest

from bots.actions import do_create_bot
from exchanges.actions import do_create_connection
from tests.bots.engine import ScriptedMarket

GRID = {"lower_price": "59000", "upper_price": "61000", "grid_count": 5, "spacing": "arithmetic",
        "amount_per_level": "0.01", "stop_out_of_range": False}


@pytest.fixture
def market(monkeypatch, settings):
    """BTC/USDT at 60,200 until a test moves it; the paper exchange and the engine both
    price from this path. One shard, so every bot lands on shard 0."""
    settings.ENGINE_SHARDS = 1
    scripted = ScriptedMarket({"BTC/USDT": "60200", "ETH/USDT": "3000", "BTC/USDT:USDT": "60000",
                               "ETH/USDT:USDT": "3000"})
    monkeypatch.setattr("exchanges.adapters.paper.simulated_feed", lambda: scripted)
    monkeypatch.setattr("bots.engine.market.simulated_feed", lambda: scripted)
    return scripted


@pytest.fixture
def paper(acme):
    return do_create_connection(acme.tenant, label="Paper", exchange="paper", actor=acme.owner)


@pytest.fixture
def make_bot(acme, paper):
    def make(strategy="grid", params=None, symbols=("BTC/USDT",), risk=None, name="Bot", connection=None):
        return do_create_bot(acme.tenant, name=name, connection=connection or paper, strategy=strategy,
                             symbols=list(symbols), params=params if params is not None else GRID, risk=risk,
                             actor=acme.owner)

    return make
