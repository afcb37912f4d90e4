"""Pair spread hedge on hand-written price paths. BTC/USDT:USDT (step 0.00001) and
ETH/USDT:USDT (step 0.0001), linear perpetuals: maker 0.02 %, taker 0.05 %; every order
here is a market order, so every fee is 0.05 % of the notional."""

import json
from decimal import Decimal as D

from bots.strategies.pair_hedge import PairHedge
from exchanges import markets
from tests.bots.harness import Simulation

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
# Enter at 2 points, 1,000 USDT per leg; add 1.5 times that 2 points further on, twice at most.
PARAMS = {"entry_threshold": "2", "position_value": "1000", "add_step": "2", "max_adds": 2, "add_multipliers": "1.5",
          "max_position_value": "5000", "take_profit_mode": "regression", "take_profit": "1.5", "stop_loss": None}
START = (0, {BTC: "60000", ETH: "3000"})


def pair(**overrides):
    return Simulation(PairHedge({**PARAMS, **overrides}), (BTC, ETH))


def at(t, btc, eth):
    return (t, {BTC: btc, ETH: eth})


def test_it_stays_flat_while_the_spread_is_inside_the_threshold():
    sim = pair().run([START,
                      at(1, "61000", "3030"),    # 1.6667 - 1 = 0.6667
                      at(2, "61194", "3000"),    # 1.99
                      at(3, "58806", "3000")])   # -1.99
    assert sim.orders == []
    assert [value for _t, _name, value in sim.series] == [D("0"), D("0.666667"), D("1.99"), D("-1.99")]


def test_the_spread_is_recorded_every_tick():
    sim = pair().run([START, at(1, "61200", "3000"), at(2, "61200", "3060"), at(3, "60000", "2940")])
    assert sim.series == [(0, "spread", D("0")), (1, "spread", D("2")), (2, "spread", D("0")), (3, "spread", D("2"))]


def test_at_plus_threshold_it_shorts_leg_one_and_buys_leg_two():
    # BTC +3 %, ETH +1 %: spread 2
    sim = pair().run([START, at(1, "61800", "3030")])
    assert [(o.tag, o.symbol, o.side, o.type, o.amount) for o in sim.orders] == [
        ("pair:1:entry:1", BTC, "sell", "market", D("0.01618")),  # 1,000 / 61,800 = 0.0161812
        ("pair:1:entry:2", ETH, "buy", "market", D("0.3300")),    # 1,000 / 3,030 = 0.330033
    ]
    assert sim.notes[-1].message == "Spread 2: short BTC/USDT:USDT, long ETH/USDT:USDT, 1000 per leg."
    sim.run([at(2, "61800", "3030")])
    assert (sim.position(BTC).amount, sim.position(ETH).amount) == (D("-0.01618"), D("0.33"))


def test_at_minus_threshold_it_buys_leg_one_and_shorts_leg_two():
    # BTC flat, ETH +2 %: spread -2
    sim = pair().run([START, at(1, "60000", "3060")])
    assert [(o.tag, o.symbol, o.side, o.amount) for o in sim.orders] == [
        ("pair:1:entry:1", BTC, "buy", D("0.01666")),   # 1,000 / 60,000 = 0.0166666
        ("pair:1:entry:2", ETH, "sell", D("0.3267")),   # 1,000 / 3,060 = 0.326797
    ]
    assert sim.notes[-1].message == "Spread -2: short ETH/USDT:USDT, long BTC/USDT:USDT, 1000 per leg."


def test_the_next_level_adds_the_multiplied_value_to_both_legs():
    sim = pair().run([START,
                      at(1, "61200", "3000"),   # spread 2: entry, 0.01633 BTC short, 0.3333 ETH long
                      at(2, "62000", "3000"),   # 3.33: not yet
                      at(3, "62400", "3000"),   # 4 = 2 + one step: add 1,500 per leg
                      at(4, "62400", "3000")])
    assert [(o.tag, o.side, o.amount) for o in sim.orders[2:]] == [
        ("pair:1:add:1:1", "sell", D("0.02403")),   # 1,500 / 62,400 = 0.0240384
        ("pair:1:add:1:2", "buy", D("0.5")),        # 1,500 / 3,000
    ]
    assert (sim.position(BTC).amount, sim.position(ETH).amount) == (D("-0.04036"), D("0.8333"))
    assert sim.notes[-1].message == "Add 1 at spread 4: 1500 per leg."


def test_adds_stop_at_the_maximum_count_and_the_maximum_position_value():
    sim = pair(add_step="1", max_adds=3, add_multipliers="1, 2, 4", max_position_value="2500").run([
        START,
        at(1, "61200", "3000"),  # entry: 0.01633 BTC (999.396), 0.3333 ETH (999.9)
        at(2, "61800", "3000"),  # add 1, 1,000: 0.01618 BTC (999.924), 0.3333 ETH (999.9)
        # add 2 wants 2,000 but the legs hold 1,999.32 and 1,999.8: 500.2 more at most
        at(3, "62400", "3000"),  # 500.2 / 62,400 = 0.0080160 BTC, 500.2 / 3,000 = 0.166733 ETH
        at(4, "63000", "3000"),  # add 3: 0.1 left, below the exchange minimum: skipped
        at(5, "64800", "3000"),  # spread 8: no fourth add
        at(6, "66000", "3000"),
    ])
    assert [(o.tag, o.amount) for o in sim.orders] == [
        ("pair:1:entry:1", D("0.01633")), ("pair:1:entry:2", D("0.3333")),
        ("pair:1:add:1:1", D("0.01618")), ("pair:1:add:1:2", D("0.3333")),
        ("pair:1:add:2:1", D("0.00801")), ("pair:1:add:2:2", D("0.1667")),
    ]
    assert [note.message for note in sim.notes[-2:]] == [
        "Add 2 at spread 4: 500.2 per leg (cut from 2000 by the maximum position value).",
        "Add 3 at spread 5 skipped: the legs are at the maximum position value of 2500.",
    ]
    # 999.396 + 999.924 + 0.00801 * 62,400 = 2,499.144; 999.9 + 999.9 + 500.1 = 2,499.9
    assert [D(value) for value in sim.memory["trade"]["invested"]] == [D("2499.144"), D("2499.9")]


def test_regression_take_profit_closes_both_legs_with_the_profit_after_fees():
    sim = pair().run([
        START,
        at(1, "61800", "3030"),  # spread 2: short 0.01618 BTC @ 61,800, long 0.33 ETH @ 3,030
        at(2, "61500", "3030"),  # spread 1.5: back 0.5 points, not 1.5
        at(3, "61200", "3045"),  # spread 0.5: back 1.5 points: close
        at(4, "61200", "3045"),
    ])
    assert [(o.tag, o.symbol, o.side, o.amount, o.reduce_only) for o in sim.orders[2:]] == [
        ("pair:1:close:1", BTC, "buy", D("0.01618"), True),
        ("pair:1:close:2", ETH, "sell", D("0.33"), True),
    ]
    # BTC 0.01618 * 600 = 9.708, ETH 0.33 * 15 = 4.95; fees 0.05 % of
    # 999.924 + 999.9 + 990.216 + 1,004.85 = 3,994.89: 1.997445
    assert sim.realized_pnl() == D("12.660555")
    assert (sim.position(BTC).amount, sim.position(ETH).amount) == (0, 0)
    close, result = sim.notes[-2:]
    assert close.message == "Take profit: the spread came back from 2 to 0.5."
    assert result.message == "Trade 1 closed by take profit: +12.66 USDT after fees."
    assert D(result.data["pnl"]) == D("12.660555")


def test_regression_take_profit_counts_the_other_way_below_zero():
    sim = pair().run([START, at(1, "60000", "3060"),   # spread -2: long BTC, short ETH
                      at(2, "60300", "3060"),           # -1.5
                      at(3, "60600", "3060")])          # -1: back 1 point
    assert len(sim.orders) == 2
    sim.run([at(4, "60900", "3060")])                   # -0.5: back 1.5 points
    assert [(o.tag, o.side) for o in sim.orders[2:]] == [("pair:1:close:1", "sell"), ("pair:1:close:2", "buy")]


def test_position_take_profit_closes_at_the_share_of_the_invested_value():
    sim = pair(take_profit_mode="position", take_profit="0.9").run([
        START,
        at(1, "61200", "3000"),  # short 0.01633 BTC (999.396), long 0.3333 ETH (999.9): 1,999.296 invested
        at(2, "61000", "3010"),  # 3.266 + 3.333 = 6.599: 0.33 %
        at(3, "60600", "3030"),  # 9.798 + 9.999 = 19.797: 0.99 %: close
        at(4, "60600", "3030"),
    ])
    assert [o.tag for o in sim.orders[2:]] == ["pair:1:close:1", "pair:1:close:2"]
    assert [o.placed_at for o in sim.orders[2:]] == [3, 3]
    # 19.797 less 0.05 % of 999.396 + 999.9 + 989.598 + 1,009.899 = 3,998.793: 1.9993965
    assert sim.realized_pnl() == D("17.7976035")
    assert sim.notes[-2].message == "Take profit: the legs are at +0.99% of 1999.296 invested."


def test_the_stop_loss_closes_everything_at_market():
    sim = pair(max_adds=0, stop_loss="1").run([
        START,
        at(1, "61200", "3000"),  # 1,999.296 invested
        at(2, "62000", "2990"),  # -13.064 - 3.333 = -16.397: -0.82 %
        at(3, "62500", "2980"),  # -21.229 - 6.666 = -27.895: -1.40 %: close
        at(4, "62500", "2980"),
    ])
    assert [(o.tag, o.side, o.amount, o.reduce_only) for o in sim.orders[2:]] == [
        ("pair:1:close:1", "buy", D("0.01633"), True),
        ("pair:1:close:2", "sell", D("0.3333"), True),
    ]
    # -27.895 less 0.05 % of 999.396 + 999.9 + 1,020.625 + 993.234 = 4,013.155: 2.0065775
    assert sim.realized_pnl() == D("-29.9015775")
    stop, result = sim.notes[-2:]
    assert stop.message == "Stop loss: the legs are at -1.40% of 1999.296 invested." and stop.alert
    assert result.message == "Trade 1 closed by stop loss: -29.90 USDT after fees." and result.alert


def test_after_a_close_it_waits_for_the_spread_to_come_back_inside_before_entering_again():
    sim = pair(max_adds=0).run([
        START,
        at(1, "63000", "3000"),  # spread 5: entry
        at(2, "62100", "3000"),  # 3.5: back 1.5 points, close
        at(3, "62100", "3000"),  # closed; still beyond 2 but the same swing: no entry
        at(4, "62700", "3000"),  # 4.5
    ])
    assert [o.tag for o in sim.orders] == ["pair:1:entry:1", "pair:1:entry:2", "pair:1:close:1", "pair:1:close:2"]
    # The spread still counts from the first prices: 60,600 is +1, inside; 61,500 is +2.5
    sim.run([at(5, "60600", "3000"), at(6, "61500", "3000")])
    assert [o.tag for o in sim.orders[4:]] == ["pair:2:entry:1", "pair:2:entry:2"]
    assert sim.orders[4].amount == D("0.01626")  # 1,000 / 61,500 = 0.0162601


def test_a_refused_leg_is_placed_again():
    sim = pair()
    sim.refuse = lambda intent: intent.tag == "pair:1:entry:2"
    sim.run([START, at(1, "61200", "3000")])
    sim.refuse = None
    sim.run([at(2, "61200", "3000"), at(3, "61200", "3000")])
    assert [(o.status, o.amount) for o in sim.orders if o.tag == "pair:1:entry:2"] == [
        ("failed", D("0.3333")), ("closed", D("0.3333"))]
    assert sim.position(ETH).amount == D("0.3333")


def test_the_memory_is_plain_json():
    sim = pair().run([START, at(1, "61200", "3000"), at(2, "62400", "3000")])
    assert json.loads(json.dumps(sim.memory)) == sim.memory
    assert sim.memory["start"] == {BTC: "60000", ETH: "3000"}


# --- parameters --------------------------------------------------------------------------------


def validate(symbols=(BTC, ETH), **overrides):
    form = PairHedge.form({**PARAMS, **overrides}, markets={symbol: markets.market(symbol) for symbol in symbols})
    form.is_valid()
    return form.errors


def test_valid_parameters_pass_and_survive_storage():
    form = PairHedge.form({**PARAMS, "add_multipliers": " 1.5 ,2", "stop_loss": "5"},
                          markets={BTC: markets.market(BTC), ETH: markets.market(ETH)})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["add_multipliers"] == "1.5, 2"
    stored = json.loads(json.dumps(PairHedge.serialise(form.cleaned_data)))
    assert PairHedge(stored).params == form.cleaned_data


def test_the_two_symbols_must_differ_and_be_perpetuals():
    assert validate(symbols=(BTC, BTC))["__all__"] == ["The two symbols must differ."]
    assert validate(symbols=("BTC/USDT", ETH))["__all__"] == [
        "BTC/USDT is not a perpetual: the hedge needs to short either leg."]


def test_thresholds_must_be_positive():
    assert validate(entry_threshold="0")["entry_threshold"] == ["The entry threshold must be positive."]
    assert validate(add_step="-1")["add_step"] == ["The add step must be positive."]
    assert validate(add_step=None)["add_step"] == ["Give the add step, or set the maximum adds to 0."]
    assert validate(add_step=None, max_adds=0) == {}


def test_multipliers_are_positive_numbers_one_for_all_or_one_per_add():
    assert validate(add_multipliers="1, x")["add_multipliers"] == [
        "Write the multipliers as numbers separated by commas, e.g. 1, 1.5, 2."]
    assert validate(add_multipliers="1, 0")["add_multipliers"] == ["Multipliers must be positive."]
    assert validate(add_multipliers="1, 2, 3")["add_multipliers"] == [
        "Give a single multiplier for all adds, or one for each of the 2 adds; these are 3."]
    assert validate(add_multipliers="1, 2") == {}


def test_the_maximum_position_value_covers_the_first_entry():
    assert validate(max_position_value="999")["max_position_value"] == [
        "The maximum position value per leg must be at least the position value of the first entry."]


def test_legs_below_the_exchange_minimum_are_refused():
    # 4 / 60,000 = 0.0000666 -> 0.00006 BTC, worth 3.6; 4 / 3,000 = 0.001333 -> 0.0013 ETH, worth 3.9
    assert validate(position_value="4")["position_value"] == [
        "Orders on BTC/USDT:USDT must be worth at least 5 USDT; this one is worth 3.6 at 60000.",
        "Orders on ETH/USDT:USDT must be worth at least 5 USDT; this one is worth 3.9 at 3000.",
    ]
    # the smallest add: 1,000 * 0.004 = 4
    assert validate(add_multipliers="1, 0.004")["add_multipliers"][0].startswith(
        "Orders on BTC/USDT:USDT must be worth at least 5 USDT")


def test_take_profit_and_stop_loss_are_bounded():
    assert validate(take_profit="0")["take_profit"] == ["The take profit must be positive."]
    assert validate(take_profit_mode="average")["take_profit_mode"]
    assert validate(stop_loss="0")["stop_loss"] == ["The stop loss must be positive, or left empty for none."]
    assert validate(stop_loss="100")["stop_loss"]
    assert validate(max_adds=21)["max_adds"]
