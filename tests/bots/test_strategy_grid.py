"""Grid on hand-written price paths. BTC/USDT: fees 0.1 % maker and taker."""

from decimal import Decimal as D

from bots.strategies.grid import Grid, grid_levels
from exchanges import markets
from tests.bots.harness import Simulation

# Levels 59,000 / 59,500 / 60,000 / 60,500 / 61,000.
PARAMS = {"lower_price": "59000", "upper_price": "61000", "grid_count": 5, "spacing": "arithmetic",
          "amount_per_level": "0.01", "stop_out_of_range": False}


def grid(**overrides):
    return Simulation(Grid({**PARAMS, **overrides}), ("BTC/USDT",))


def test_levels_are_arithmetic_or_geometric():
    assert grid_levels(D("59000"), D("61000"), 5, "arithmetic") == [D(p) for p in ("59000", "59500", "60000", "60500", "61000")]
    assert [round(level, 6) for level in grid_levels(D("100"), D("400"), 3, "geometric")] == [D("100"), D("200"), D("400")]


def test_it_starts_with_buys_below_and_one_empty_level_above_the_price():
    sim = grid().run([(0, "60200")])
    assert sim.placed() == [
        ("grid:buy:0", "buy", "limit", D("0.01"), D("59000")),
        ("grid:buy:1", "buy", "limit", D("0.01"), D("59500")),
        ("grid:buy:2", "buy", "limit", D("0.01"), D("60000")),
        # base for the sell at 61,000; 60,500 stays empty
        ("grid:init", "buy", "market", D("0.01"), None),
    ]
    sim.run([(1, "60200")])
    assert sim.placed()[-1] == ("grid:sell:4", "sell", "limit", D("0.01"), D("61000"))


def test_each_fill_places_the_opposite_order_one_level_over_and_round_trips_pay():
    sim = grid().run([
        (0, "60200"),   # buys at 0, 1, 2; market buy 0.01 @ 60,200 (fee 0.602)
        (1, "60200"),   # sell at 4 (61,000)
        (2, "59900"),   # buy 2 fills @ 60,000 (fee 0.6) -> sell at 3 (60,500)
        (3, "60600"),   # sell 3 fills @ 60,500 -> buy at 2 (60,000)
        (4, "61100"),   # sell 4 fills @ 61,000 -> buy at 3 (60,500)
    ])
    assert [(f.tag, f.price) for f in sim.fills] == [
        ("grid:init", D("60200")), ("grid:buy:2", D("60000")), ("grid:sell:3", D("60500")), ("grid:sell:4", D("61000")),
    ]
    assert sorted((o.tag, o.price) for o in sim.open_orders()) == [
        ("grid:buy:0", D("59000")), ("grid:buy:1", D("59500")), ("grid:buy:2", D("60000")), ("grid:buy:3", D("60500")),
    ]
    # Sold 605 + 610, bought 602 + 600: 13 USDT, less fees 0.602 + 0.6 + 0.605 + 0.61.
    assert sim.realized_pnl() == D("10.583")
    assert sim.position("BTC/USDT").amount == D("0")


def test_it_stops_when_the_price_leaves_the_range_if_asked():
    sim = grid(stop_out_of_range=True).run([(0, "60200"), (1, "60200"), (2, "61500"), (3, "60000")])
    assert sim.stopped == "The price 61500 left the grid range 59000–61000."
    assert sim.open_orders() == []


def test_leaving_the_range_is_fine_unless_asked():
    sim = grid().run([(0, "60200"), (1, "60200"), (2, "61500")])
    assert sim.stopped is None


def test_a_failed_opening_buy_is_placed_again():
    sim = grid()
    sim.refuse = lambda intent: intent.tag == "grid:init"
    sim.run([(0, "60200")])
    sim.refuse = None
    sim.run([(1, "60200"), (2, "60200")])
    assert [(o.tag, o.status) for o in sim.orders if o.tag == "grid:init"] == [("grid:init", "failed"), ("grid:init", "closed")]
    assert sim.placed()[-1] == ("grid:sell:4", "sell", "limit", D("0.01"), D("61000"))


def test_new_settings_cancel_the_orders_and_start_over():
    sim = grid().run([(0, "60200"), (1, "60200")])
    sim.run([(2, "60200")], config_changed_at=2)
    assert sim.open_orders() == []
    sim.run([(3, "60200")])
    assert {o.tag for o in sim.open_orders()} >= {"grid:buy:0", "grid:buy:1", "grid:buy:2"}


def validate(**overrides):
    form = Grid.form({**PARAMS, **overrides}, markets={"BTC/USDT": markets.market("BTC/USDT")})
    form.is_valid()
    return form.errors


def test_valid_parameters_pass():
    assert validate() == {}


def test_the_upper_price_must_be_above_the_lower():
    assert "above the lower price" in validate(upper_price="58000")["upper_price"][0]


def test_levels_too_close_to_pay_the_fees_are_refused():
    assert "cannot pay the 0.200% fees" in validate(grid_count=50)["grid_count"][0]


def test_orders_below_the_exchange_minimum_are_refused():
    message = validate(amount_per_level="0.00005")["amount_per_level"][0]
    assert message == "Orders on BTC/USDT must be worth at least 5 USDT; this one is worth 2.95 at 59000."


def test_the_level_count_is_bounded():
    assert validate(grid_count=1)["grid_count"]
    assert validate(grid_count=201)["grid_count"]
