"""The paper exchange's books, on hand-written price paths with hand-checked figures.

Spot: fees 0.1 % maker and taker, in USDT. Perpetual: 0.02 % maker, 0.05 % taker.
"""

from decimal import Decimal as D

import pytest

from exchanges.errors import DuplicateOrder, InsufficientFunds, InvalidOrder, OrderNotFound
from tests.exchanges.paper import T0

# BTC falls from 60,000 to 59,000 over 100 s (10/s), then rises to 61,000 at 200 s (20/s).
V_PATH = {"BTC/USDT": [(0, "60000"), (100, "59000"), (200, "61000")]}


def usdt(ledger):
    return ledger.fetch_balance()["USDT"]


def test_a_resting_buy_fills_at_its_limit_when_the_path_crosses_it(paper):
    ledger = paper.ledger(V_PATH)
    paper.clock.at(10)
    order = ledger.create_order("BTC/USDT", "limit", "buy", D("0.1"), D("59500"))
    assert order["status"] == "open"
    # Reserved: 0.1 * 59,500 * (1 + 0.1 %) = 5,955.95
    assert usdt(ledger) == {"free": D("4044.05"), "used": D("5955.95"), "total": D("10000")}

    paper.clock.at(120)
    filled = ledger.fetch_order(order["id"])
    assert filled["status"] == "closed"
    assert filled["average"] == D("59500")
    assert filled["fee"] == {"cost": D("5.95"), "currency": "USDT"}  # maker 0.1 % of 5,950
    [trade] = ledger.fetch_my_trades("BTC/USDT")
    assert trade["timestamp"] == int((T0 + 50) * 1000)  # 60,000 - 10/s * 50 s = 59,500
    assert trade["takerOrMaker"] == "maker"
    balance = ledger.fetch_balance()
    assert balance["USDT"] == {"free": D("4044.05"), "used": D("0"), "total": D("4044.05")}
    assert balance["BTC"]["free"] == D("0.1")


def test_a_round_trip_earns_the_spread_less_both_fees(paper):
    ledger = paper.ledger(V_PATH)
    paper.clock.at(10)
    ledger.create_order("BTC/USDT", "limit", "buy", D("0.1"), D("59500"))
    paper.clock.at(120)  # bought at 50 s; now 59,400
    sell = ledger.create_order("BTC/USDT", "limit", "sell", D("0.1"), D("60500"))
    assert sell["status"] == "open"
    assert ledger.fetch_balance()["BTC"] == {"free": D("0"), "used": D("0.1"), "total": D("0.1")}
    paper.clock.at(200)  # 60,500 is reached at 175 s
    assert ledger.fetch_order(sell["id"])["status"] == "closed"
    # 10,000 - 5,950 - 5.95 + 6,050 - 6.05 = 10,088
    assert ledger.fetch_balance() == {"USDT": {"free": D("10088"), "used": D("0"), "total": D("10088")}}


def test_an_order_not_reached_by_the_path_stays_open(paper):
    ledger = paper.ledger(V_PATH)
    paper.clock.at(10)
    order = ledger.create_order("BTC/USDT", "limit", "buy", D("0.1"), D("58000"))
    paper.clock.at(200)
    assert ledger.fetch_order(order["id"])["status"] == "open"
    assert [o["id"] for o in ledger.fetch_open_orders()] == [order["id"]]


def test_a_marketable_limit_fills_at_once_as_taker_at_the_better_current_price(paper):
    ledger = paper.ledger(V_PATH)
    paper.clock.at(100)  # 59,000
    order = ledger.create_order("BTC/USDT", "limit", "buy", D("0.1"), D("59800"))
    assert order["status"] == "closed"
    assert order["average"] == D("59000")
    assert order["fee"]["cost"] == D("5.9")
    assert ledger.fetch_my_trades()[0]["takerOrMaker"] == "taker"


def test_a_market_sell_pays_the_fee_from_the_proceeds(paper):
    ledger = paper.ledger(V_PATH)
    paper.clock.at(100)
    ledger.create_order("BTC/USDT", "market", "buy", D("0.1"))  # 5,900 + 5.9 fee
    paper.clock.at(200)
    ledger.create_order("BTC/USDT", "market", "sell", D("0.1"))  # 6,100 - 6.1 fee
    assert usdt(ledger)["free"] == D("10188")  # 10,000 - 5,905.9 + 6,093.9


def test_amounts_are_truncated_to_the_step_and_prices_rounded_to_the_tick(paper):
    ledger = paper.ledger(V_PATH)
    paper.clock.at(10)
    order = ledger.create_order("BTC/USDT", "limit", "buy", D("0.123456789"), D("50000.126"))
    assert order["amount"] == D("0.12345")
    assert order["price"] == D("50000.13")


@pytest.mark.parametrize(
    "amount, price, message",
    [
        (D("0.000001"), None, "below the minimum of 0.00001"),  # truncates to 0
        (D("0.00005"), None, "below the minimum of 5 USDT"),  # 0.00005 * 60,000 = 3 USDT
        (D("0.1"), D("-1"), "positive price"),
    ],
)
def test_orders_below_the_market_minimums_are_refused(paper, amount, price, message):
    ledger = paper.ledger(V_PATH)
    with pytest.raises(InvalidOrder, match=message):
        ledger.create_order("BTC/USDT", "limit" if price else "market", "buy", amount, price)
    assert ledger.fetch_open_orders() == []


def test_an_unknown_market_is_refused(paper):
    with pytest.raises(InvalidOrder, match="no market FOO/USDT"):
        paper.ledger(V_PATH).create_order("FOO/USDT", "market", "buy", D("1"))


def test_insufficient_balance_refuses_the_order_and_changes_nothing(paper):
    ledger = paper.ledger(V_PATH)
    with pytest.raises(InsufficientFunds, match="Insufficient USDT"):
        ledger.create_order("BTC/USDT", "market", "buy", D("1"))  # 60,000 > 10,000
    with pytest.raises(InsufficientFunds):
        ledger.create_order("BTC/USDT", "limit", "buy", D("0.2"), D("50000"))  # reserves 10,010
    with pytest.raises(InsufficientFunds, match="Insufficient BTC"):
        ledger.create_order("BTC/USDT", "market", "sell", D("0.01"))
    assert ledger.fetch_balance() == {"USDT": {"free": D("10000"), "used": D("0"), "total": D("10000")}}
    assert ledger.fetch_open_orders() == [] and ledger.fetch_my_trades() == []


def test_cancelling_releases_the_reservation(paper):
    ledger = paper.ledger(V_PATH)
    order = ledger.create_order("BTC/USDT", "limit", "buy", D("0.1"), D("50000"))
    canceled = ledger.cancel_order(order["id"])
    assert canceled["status"] == "canceled"
    assert usdt(ledger) == {"free": D("10000"), "used": D("0"), "total": D("10000")}
    with pytest.raises(OrderNotFound):
        ledger.cancel_order(order["id"])


def test_a_client_order_id_is_used_once(paper):
    ledger = paper.ledger(V_PATH)
    ledger.create_order("BTC/USDT", "limit", "buy", D("0.01"), D("50000"), {"clientOrderId": "bot1-7"})
    with pytest.raises(DuplicateOrder):
        ledger.create_order("BTC/USDT", "limit", "buy", D("0.01"), D("50000"), {"clientOrderId": "bot1-7"})
    assert ledger.fetch_order(None, "bot1-7")["amount"] == D("0.01")
    assert len(ledger.fetch_open_orders()) == 1


def test_fills_are_applied_in_the_order_the_path_reaches_them(paper):
    """Two buys reserve everything; the one reached first fills first, and whatever is
    checked later, the books come out the same."""
    ledger = paper.ledger(V_PATH)
    paper.clock.at(0)
    high = ledger.create_order("BTC/USDT", "limit", "buy", D("0.05"), D("59800"))  # reached at 20 s
    low = ledger.create_order("BTC/USDT", "limit", "buy", D("0.05"), D("59200"))  # reached at 80 s
    paper.clock.at(150)
    trades = ledger.fetch_my_trades()
    assert [t["order"] for t in trades] == [high["id"], low["id"]]
    assert [t["timestamp"] for t in trades] == [int((T0 + 20) * 1000), int((T0 + 80) * 1000)]


# --- perpetuals: BTC at 60,000 until 100 s, then down to 57,000 at 200 s ------------------

FLAT_THEN_DOWN = {"BTC/USDT:USDT": [(0, "60000"), (100, "60000"), (200, "57000")]}


def test_a_short_position_gains_when_the_price_falls(paper):
    ledger = paper.ledger(FLAT_THEN_DOWN)
    paper.clock.at(10)
    ledger.create_order("BTC/USDT:USDT", "market", "sell", D("0.1"), None, {"leverage": 5})
    # margin 6,000 / 5 = 1,200; taker fee 0.05 % of 6,000 = 3
    assert usdt(ledger) == {"free": D("8797"), "used": D("0"), "total": D("8797")}

    paper.clock.at(150)  # 58,500
    [position] = ledger.fetch_positions()
    assert position["side"] == "short"
    assert position["contracts"] == D("0.1")
    assert position["entryPrice"] == D("60000")
    assert position["initialMargin"] == D("1200")
    assert position["unrealizedPnl"] == D("150")  # -0.1 * (58,500 - 60,000)

    close = ledger.create_order("BTC/USDT:USDT", "market", "buy", D("0.1"), None, {"reduceOnly": True})
    assert close["fee"]["cost"] == D("2.925")  # 0.05 % of 5,850
    assert ledger.fetch_positions() == []
    assert ledger.fetch_my_trades()[-1]["info"]["realizedPnl"] == D("150")
    # 8,797 + 1,200 margin back + 150 profit - 2.925 fee
    assert usdt(ledger)["free"] == D("10144.075")


def test_a_long_position_loses_when_the_price_falls(paper):
    ledger = paper.ledger(FLAT_THEN_DOWN)
    ledger.create_order("BTC/USDT:USDT", "market", "buy", D("0.1"), None, {"leverage": 10})
    paper.clock.at(200)
    [position] = ledger.fetch_positions()
    assert position["unrealizedPnl"] == D("-300")
    ledger.create_order("BTC/USDT:USDT", "market", "sell", D("0.1"))
    # 10,000 - 600 margin - 3 fee + 600 - 300 loss - 2.85 fee
    assert usdt(ledger)["free"] == D("9694.15")


def test_selling_more_than_a_long_flips_it_short(paper):
    ledger = paper.ledger(FLAT_THEN_DOWN)
    ledger.create_order("BTC/USDT:USDT", "market", "buy", D("0.1"), None, {"leverage": 2})
    paper.clock.at(150)
    ledger.create_order("BTC/USDT:USDT", "market", "sell", D("0.3"))
    [position] = ledger.fetch_positions()
    assert position["side"] == "short" and position["contracts"] == D("0.2")
    assert position["entryPrice"] == D("58500")
    assert position["initialMargin"] == D("5850")  # 0.2 * 58,500 / 2
    assert ledger.fetch_my_trades()[-1]["info"]["realizedPnl"] == D("-150")


def test_opening_needs_margin(paper):
    ledger = paper.ledger(FLAT_THEN_DOWN)
    with pytest.raises(InsufficientFunds, match="Insufficient margin"):
        ledger.create_order("BTC/USDT:USDT", "market", "buy", D("2"), None, {"leverage": 10})  # 12,000 margin
    order = ledger.create_order("BTC/USDT:USDT", "market", "buy", D("2"), None, {"leverage": 20})
    assert order["status"] == "closed"  # 6,000 margin + 60 fee


def test_leverage_is_bounded_by_the_market(paper):
    with pytest.raises(InvalidOrder, match="Leverage must be between 1 and 50"):
        paper.ledger(FLAT_THEN_DOWN).create_order("BTC/USDT:USDT", "market", "buy", D("0.1"), None, {"leverage": 100})


def test_a_reduce_only_order_cannot_open_a_position(paper):
    ledger = paper.ledger(FLAT_THEN_DOWN)
    with pytest.raises(InvalidOrder, match="reduce-only"):
        ledger.create_order("BTC/USDT:USDT", "market", "sell", D("0.1"), None, {"reduceOnly": True})


def test_a_resting_reduce_only_order_left_with_nothing_to_reduce_is_cancelled(paper):
    ledger = paper.ledger(FLAT_THEN_DOWN)
    ledger.create_order("BTC/USDT:USDT", "market", "sell", D("0.1"))
    take_profit = ledger.create_order("BTC/USDT:USDT", "limit", "buy", D("0.1"), D("58000"), {"reduceOnly": True})
    paper.clock.at(110)
    ledger.create_order("BTC/USDT:USDT", "market", "buy", D("0.1"))  # closed by hand first
    paper.clock.at(200)
    assert ledger.fetch_order(take_profit["id"])["status"] == "canceled"
    assert ledger.fetch_positions() == []
