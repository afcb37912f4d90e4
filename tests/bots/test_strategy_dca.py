"""DCA on hand-written price paths. BTC/USDT: fees 0.1 % maker and taker, amount step
0.00001 (amounts are truncated to it), price tick 0.01, orders of at least 5 USDT."""

import json
from decimal import Decimal as D

from bots.strategies.dca import Dca
from exchanges import markets
from tests.bots.harness import Simulation

# Base 100 USDT; safety orders of 50, 100, 200 USDT at 1 %, 1 + 1.5 = 2.5 % and
# 2.5 + 2.25 = 4.75 % below the base price; take profit 1.5 % over the average.
PARAMS = {"base_order_size": "100", "safety_order_size": "50", "max_safety_orders": 3, "price_deviation": "1",
          "safety_order_volume_scale": "2", "safety_order_step_scale": "1.5", "take_profit": "1.5",
          "trailing_deviation": None, "stop_loss": None, "cooldown": 60}


def dca(**overrides):
    return Simulation(Dca({**PARAMS, **overrides}), ("BTC/USDT",))


def test_a_deal_starts_with_a_market_buy_then_lays_the_safety_ladder_and_the_take_profit():
    sim = dca().run([(0, "60000")])
    # 100 / 60,000 = 0.0016666 -> 0.00166 BTC
    assert sim.placed() == [("dca:1:base", "buy", "market", D("0.00166"), None)]
    sim.run([(1, "60000")])
    assert sim.placed()[1:] == [
        ("dca:1:so:1", "buy", "limit", D("0.00084"), D("59400")),  # -1 %: 50 / 59,400 = 0.000841
        ("dca:1:so:2", "buy", "limit", D("0.00170"), D("58500")),  # -2.5 %: 100 / 58,500 = 0.0017094
        ("dca:1:so:3", "buy", "limit", D("0.00349"), D("57150")),  # -4.75 %: 200 / 57,150 = 0.0034995
        ("dca:1:tp:0", "sell", "limit", D("0.00166"), D("60900")),  # 60,000 * 1.015
    ]
    assert sim.notes[0].message == "Deal 1 started: buying 0.00166 at market near 60000."


def test_a_dip_fills_two_safety_orders_and_moves_the_take_profit():
    sim = dca().run([(0, "60000"), (1, "60000"), (2, "58000")])
    assert [(f.tag, f.price, f.amount, f.fee) for f in sim.fills] == [
        ("dca:1:base", D("60000"), D("0.00166"), D("0.0996")),
        ("dca:1:so:1", D("59400"), D("0.00084"), D("0.049896")),
        ("dca:1:so:2", D("58500"), D("0.00170"), D("0.09945")),
    ]
    # 0.0042 BTC for 99.6 + 49.896 + 99.45 = 248.946: average 59,272.857; * 1.015 = 60,161.95
    assert sorted((o.tag, o.side, o.amount, o.price) for o in sim.open_orders()) == [
        ("dca:1:so:3", "buy", D("0.00349"), D("57150")),
        ("dca:1:tp:2", "sell", D("0.0042"), D("60161.95")),
    ]
    assert [o.status for o in sim.orders if o.tag == "dca:1:tp:0"] == ["canceled"]
    assert sim.position("BTC/USDT").amount == D("0.0042")
    assert sim.notes[-1].message == "Deal 1: safety order 2 bought 0.0017 at 58500; the average is now 59272.86."


def test_the_take_profit_closes_the_deal_with_the_profit_after_all_fees():
    sim = dca().run([(0, "60000"), (1, "60000"), (2, "58000"), (3, "60500")])
    assert sim.fills[-1].tag == "dca:1:tp:2"
    # Sold 0.0042 * 60,161.95 = 252.68019, fee 0.25268019; bought for 248.946, fees
    # 0.0996 + 0.049896 + 0.09945: 252.68019 - 248.946 - 0.50162619 = 3.23256381
    assert sim.realized_pnl() == D("3.23256381")
    assert sim.position("BTC/USDT").amount == 0
    assert sim.open_orders() == []  # safety order 3 cancelled
    note = sim.notes[-1]
    assert note.message == "Deal 1 closed by take profit: +3.23 USDT after fees."
    assert D(note.data["pnl"]) == D("3.23256381")
    assert note.data["safety_orders_filled"] == 2


def test_a_trailing_take_profit_sells_only_after_the_pullback_from_the_high():
    sim = dca(trailing_deviation="0.5").run([
        (0, "60000"), (1, "60000"),
        (2, "60500"),
        (3, "61000"),  # target 60,900 reached: trailing from 61,000
        (4, "61500"),  # new high; sell below 61,500 * 0.995 = 61,192.5
        (5, "61300"),
        (6, "61150"),  # fell back: sell at market
        (7, "61150"),
    ])
    assert not [o for o in sim.orders if ":tp:" in o.tag]  # no take-profit order while trailing
    assert sim.placed()[-1] == ("dca:1:close", "sell", "market", D("0.00166"), None)
    assert [o.placed_at for o in sim.orders if o.tag == "dca:1:close"] == [6]
    assert sim.fills[-1].price == D("61150")
    # 0.00166 * (61,150 - 60,000) = 1.909, fees 0.0996 + 0.00166 * 61,150 * 0.001 = 0.101509
    assert sim.realized_pnl() == D("1.707891")
    assert sim.notes[-1].message == "Deal 1 closed by trailing take profit: +1.71 USDT after fees."
    assert sim.open_orders() == []


def test_a_stop_loss_closes_the_whole_deal_at_market():
    sim = dca(max_safety_orders=1, stop_loss="5").run([
        (0, "60000"), (1, "60000"),
        (2, "59000"),  # safety order 1 @ 59,400: 0.0025 BTC for 149.496, average 59,798.4
        (3, "57000"),  # stop at 59,798.4 * 0.95 = 56,808.48: not yet
        (4, "56800"),  # sell 0.0025 at market
        (5, "56800"),
    ])
    assert sim.placed()[-1] == ("dca:1:close", "sell", "market", D("0.0025"), None)
    assert [o.status for o in sim.orders if o.tag.startswith("dca:1:tp:")] == ["canceled", "canceled"]
    # 0.0025 * 56,800 = 142 - 149.496 bought, fees 0.142 + 0.0996 + 0.049896
    assert sim.realized_pnl() == D("-7.787496")
    assert sim.position("BTC/USDT").amount == 0
    stop, closed = sim.notes[-2:]
    assert stop.message == "Deal 1: stop loss at 56800, 5% under the average." and stop.alert
    assert closed.message == "Deal 1 closed by stop loss: -7.79 USDT after fees." and closed.alert
    assert not any(o.tag.startswith("dca:2:") for o in sim.orders)  # cooldown: 60 s


def test_the_next_deal_starts_only_after_the_cooldown():
    sim = dca(max_safety_orders=0).run([
        (0, "60000"), (1, "60000"),
        (2, "61000"),  # take profit at 60,900: closed at t=2
        (30, "61000"),
        (61, "61000"),
    ])
    assert sim.notes[-1].message.startswith("Deal 1 closed by take profit")
    assert not any(o.tag.startswith("dca:2:") for o in sim.orders)
    sim.run([(62, "61000")])
    # 100 / 61,000 = 0.0016393 -> 0.00163
    assert sim.placed()[-1] == ("dca:2:base", "buy", "market", D("0.00163"), None)
    sim.run([(63, "61000")])
    assert sim.placed()[-1] == ("dca:2:tp:0", "sell", "limit", D("0.00163"), D("61915"))


def test_without_safety_orders_a_deal_is_the_base_order_and_its_take_profit():
    sim = dca(max_safety_orders=0, safety_order_size=None).run([(0, "60000"), (1, "60000")])
    assert [tag for tag, *_rest in sim.placed()] == ["dca:1:base", "dca:1:tp:0"]


def test_a_missing_order_is_placed_again():
    sim = dca()
    sim.refuse = lambda intent: intent.tag in ("dca:1:base", "dca:1:so:2")
    sim.run([(0, "60000"), (1, "60000")])
    assert sim.fills == []
    sim.refuse = lambda intent: intent.tag == "dca:1:so:2"
    sim.run([(2, "60000"), (3, "60000")])
    assert [o.status for o in sim.orders if o.tag == "dca:1:base"] == ["failed", "failed", "closed"]
    sim.refuse = None
    sim.run([(4, "60000")])
    assert [o.status for o in sim.orders if o.tag == "dca:1:so:2"] == ["failed", "open"]


def test_new_settings_replace_the_take_profit_but_keep_the_ladder():
    sim = dca().run([(0, "60000"), (1, "60000")])
    sim.strategy = Dca({**PARAMS, "take_profit": "2", "price_deviation": "3"})
    sim.run([(2, "60000")], config_changed_at=2)
    assert sorted((o.tag, o.price) for o in sim.open_orders()) == [
        ("dca:1:so:1", D("59400")), ("dca:1:so:2", D("58500")), ("dca:1:so:3", D("57150")),
        ("dca:1:tp:1", D("61200")),
    ]


def test_it_stops_when_the_base_order_is_below_the_exchange_minimum_at_the_live_price():
    # 5 / 70,000 = 0.0000714 -> 0.00007 BTC, worth 4.9
    sim = dca(base_order_size="5").run([(0, "70000")])
    assert sim.stopped == "The base order of 5 USDT is below the exchange minimum at 70000."
    assert sim.orders == []


def test_the_memory_is_plain_json():
    sim = dca(trailing_deviation="0.5").run([(0, "60000"), (1, "60000"), (2, "61000")])
    assert json.loads(json.dumps(sim.memory)) == sim.memory
    assert sim.memory["deal"]["trail_high"] == "61000"


# --- parameters --------------------------------------------------------------------------------


def validate(**overrides):
    form = Dca.form({**PARAMS, **overrides}, markets={"BTC/USDT": markets.market("BTC/USDT")})
    form.is_valid()
    return form.errors


def test_valid_parameters_pass_and_survive_storage():
    form = Dca.form(PARAMS, markets={"BTC/USDT": markets.market("BTC/USDT")})
    assert form.is_valid(), form.errors
    stored = json.loads(json.dumps(Dca.serialise(form.cleaned_data)))
    assert Dca(stored).params == form.cleaned_data
    assert Dca(stored).params["take_profit"] == D("1.5")


def test_zero_safety_orders_need_no_safety_order_size():
    assert validate(max_safety_orders=0, safety_order_size=None) == {}


def test_safety_orders_need_a_size():
    assert validate(safety_order_size=None)["safety_order_size"] == [
        "Give the safety order size, or set the maximum safety orders to 0."]


def test_the_safety_orders_must_stay_above_zero():
    # 10 steps of 10 %: the last one would be at 0
    assert validate(max_safety_orders=10, price_deviation="10", safety_order_step_scale="1")["price_deviation"] == [
        "The safety orders would reach 100.00% below the base order's price; the total deviation must stay under "
        "100%. Use fewer safety orders, a smaller deviation or a smaller step scale."]
    assert validate(max_safety_orders=9, price_deviation="10", safety_order_step_scale="1") == {}


def test_orders_below_the_exchange_minimum_are_refused():
    # 4 / 60,000 = 0.0000666 -> 0.00006 BTC, worth 3.6
    assert validate(base_order_size="4")["base_order_size"] == [
        "Orders on BTC/USDT must be worth at least 5 USDT; this one is worth 3.6 at 60000."]
    # 5 / 59,400 = 0.0000841 -> 0.00008 BTC, worth 4.752: truncation makes 5 too little
    assert validate(safety_order_size="5")["safety_order_size"] == [
        "Orders on BTC/USDT must be worth at least 5 USDT; this one is worth 4.752 at 59400."]


def test_with_a_volume_scale_below_one_the_last_safety_order_is_the_one_checked():
    # 20, 10, 5 USDT: the third, 5 / 57,150 = 0.0000874 -> 0.00008 BTC, is too small
    message = validate(safety_order_size="20", safety_order_volume_scale="0.5")["safety_order_size"][0]
    assert message == "Orders on BTC/USDT must be worth at least 5 USDT; this one is worth 4.572 at 57150."


def test_the_take_profit_must_be_positive_and_pay_the_fees():
    assert validate(take_profit="0")["take_profit"] == ["The take profit must be positive."]
    assert validate(take_profit="0.15")["take_profit"] == [
        "A take profit of 0.15% cannot pay the 0.200% fees of buying and selling."]


def test_the_trailing_deviation_must_be_below_the_take_profit():
    assert validate(trailing_deviation="1.5")["trailing_deviation"] == [
        "The trailing deviation must be smaller than the take profit, or a trailing sale could close at a loss."]
    assert validate(trailing_deviation="-1")["trailing_deviation"] == [
        "The trailing deviation must be positive, or left empty for a plain take profit."]


def test_the_stop_loss_is_a_percentage_under_100():
    assert validate(stop_loss="0")["stop_loss"] == ["The stop loss must be positive, or left empty for none."]
    assert validate(stop_loss="100")["stop_loss"]
    assert validate(stop_loss="10") == {}


def test_counts_and_scales_are_bounded():
    assert validate(max_safety_orders=51)["max_safety_orders"]
    assert validate(max_safety_orders=-1)["max_safety_orders"]
    assert validate(safety_order_volume_scale="0.4")["safety_order_volume_scale"]
    assert validate(safety_order_volume_scale="10.5")["safety_order_volume_scale"]
    assert validate(safety_order_step_scale="0.4")["safety_order_step_scale"]
    assert validate(cooldown=-1)["cooldown"]
    assert validate(price_deviation="0")["price_deviation"] == ["The price deviation must be positive."]
