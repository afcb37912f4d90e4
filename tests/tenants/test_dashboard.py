"""The dashboard's equity: paper accounts valued at their own prices, real exchange
accounts counted but not valued (that would wait on the exchange)."""

import time
from decimal import Decimal as D

from exchanges.actions import do_create_connection
from exchanges.adapters import adapter_for, read_now
from tests.bots.conftest import make_bot, market, paper  # noqa: F401 - fixtures
from tests.conftest import FAKE_KEYS


def place(acme, connection, *order):
    return read_now(adapter_for(connection, acme.tenant.schema_name), lambda adapter: adapter.create_order(*order))


def figure(page: str, label: str) -> str:
    after = page.split(label, 1)[1]
    return after.split("<strong>", 1)[1].split("</strong>", 1)[0]


def test_it_values_paper_accounts_at_their_own_prices(acme, market, paper, make_bot):
    make_bot()  # the figures show once a bot exists
    do_create_connection(acme.tenant, label="Second paper", exchange="paper", actor=acme.owner,
                         starting_balance=D("500"))
    # 0.01 BTC at 60,200 for 602 USDT plus a 0.1 % fee (0.602); a 2x short of 0.1 ETH at 3,000 holds
    # 150 margin and pays a 0.05 % taker fee (0.15).
    place(acme, paper, "BTC/USDT", "market", "buy", D("0.01"))
    place(acme, paper, "ETH/USDT:USDT", "market", "sell", D("0.1"), None, {"leverage": 2})
    market.hold("BTC/USDT", "61200")
    market.hold("ETH/USDT:USDT", "2900")
    time.sleep(0.3)  # the scripted prices get there over 0.2 s
    page = acme.client(acme.viewer).get("/").content.decode()
    # 10,000 - 602.602 - 150.15 + 0.01 * 61,200 + 150 + 0.1 * (3,000 - 2,900), and the second account's 500.
    # Shown in cents: 10,519.248.
    assert figure(page, "Equity of paper accounts") == "10519.25"
    assert "not included" not in page


def test_real_exchange_accounts_are_counted_not_valued(acme, market, paper, make_bot, fake_binance):
    make_bot()
    do_create_connection(acme.tenant, label="Binance", exchange="binance", credentials=FAKE_KEYS, actor=acme.owner)
    before = len(fake_binance.requests)
    page = acme.client(acme.viewer).get("/").content.decode()
    assert figure(page, "Equity of paper accounts") == "10000"
    assert "1 real exchange account not included" in page
    assert len(fake_binance.requests) == before
