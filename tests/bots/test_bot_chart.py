"""The bot page's chart data: candles from the bot's exchange, its fills marked, its open
orders and grid levels as lines, equity and spread series, in the user's time zone."""

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from bots.actions import do_create_bot
from bots.models import Fill, Order, SeriesPoint
from exchanges.actions import do_create_connection
from tests.bots.conftest import GRID
from tests.conftest import FAKE_KEYS

pytestmark = pytest.mark.usefixtures("market")


def in_acme(acme, function):
    with schema_context(acme.tenant.schema_name):
        return function()


@pytest.fixture
def grid_bot(acme, make_bot):
    bot = make_bot(name="Grid", params=GRID)
    now = timezone.now()

    def trade():
        Order.objects.create(bot=bot, client_order_id="av1b1n1", tag="grid:buy:1", symbol="BTC/USDT", side="buy",
                             type="limit", price=D("59500"), amount=D("0.01"), status=Order.Status.OPEN)
        done = Order.objects.create(bot=bot, client_order_id="av1b1n2", tag="grid:sell:3", symbol="BTC/USDT",
                                    side="sell", type="limit", price=D("60500.50"), amount=D("0.01"),
                                    filled=D("0.01"), status=Order.Status.CLOSED)
        Fill.objects.create(bot=bot, order=done, sequence="1", symbol="BTC/USDT", side="sell", price=D("60500.50"),
                            amount=D("0.01"), fee=D("0.6"), timestamp=now - timedelta(minutes=5))
        Fill.objects.create(bot=bot, order=done, sequence="2", symbol="BTC/USDT", side="sell", price=D("60500.50"),
                            amount=D("0.01"), fee=D("0.6"), timestamp=now - timedelta(days=2))
        SeriesPoint.objects.bulk_create([
            SeriesPoint(bot=bot, series="equity", timestamp=now - timedelta(minutes=2), value=D("-1.25")),
            SeriesPoint(bot=bot, series="equity", timestamp=now - timedelta(minutes=1), value=D("3.5")),
            SeriesPoint(bot=bot, series="equity", timestamp=now - timedelta(days=8), value=D("99")),
        ])

    in_acme(acme, trade)
    return bot


def test_it_gives_candles_of_the_bots_symbol_at_the_paper_price(acme, grid_bot):
    data = acme.client(acme.viewer).get(f"/bots/{grid_bot.pk}/chart/").json()
    assert data["symbol"] == "BTC/USDT" and data["error"] == ""
    assert len(data["candles"]) >= 100 and data["precision"] == 2
    last = data["candles"][-1]
    assert last["close"] == "60200" and last["high"] == "60200" and last["low"] == "60200"
    times = [c["time"] for c in data["candles"]]
    assert times == sorted(set(times)) and all(t % 60 == 0 for t in times)


def test_it_marks_recent_fills_and_draws_open_orders_and_grid_levels(acme, grid_bot):
    data = acme.client(acme.viewer).get(f"/bots/{grid_bot.pk}/chart/").json()
    # The fill of two days ago is off the candles and left out.
    assert [m["side"] for m in data["markers"]] == ["sell"]
    assert data["markers"][0]["text"] == "S 0.01 @ 60500.5"
    assert data["markers"][0]["time"] % 60 == 0
    assert data["orders"] == [{"price": "59500", "side": "buy", "amount": "0.01"}]
    assert data["levels"] == ["59000", "59500", "60000", "60500", "61000"]


def test_it_gives_the_equity_curve_of_the_last_week(acme, grid_bot):
    data = acme.client(acme.viewer).get(f"/bots/{grid_bot.pk}/chart/").json()
    assert [p["value"] for p in data["equity"]] == ["-1.25", "3.5"]
    assert data["spread"] == []


def test_times_are_shifted_to_the_users_time_zone(acme, grid_bot, settings):
    utc = acme.client(acme.viewer).get(f"/bots/{grid_bot.pk}/chart/").json()
    with timezone.override("Asia/Shanghai"):
        from bots import charts

        with schema_context(acme.tenant.schema_name):
            shanghai = charts.chart_data(acme.tenant, grid_bot, "BTC/USDT")
    assert utc["tz_offset"] == 0 and shanghai["tz_offset"] == 8 * 3600
    assert shanghai["markers"][0]["time"] == utc["markers"][0]["time"] + 8 * 3600
    assert shanghai["equity"][0]["time"] == utc["equity"][0]["time"] + 8 * 3600


def test_a_pair_bot_gives_its_spread_and_either_symbols_candles(acme, make_bot):
    bot = make_bot(strategy="pair_hedge", symbols=("BTC/USDT:USDT", "ETH/USDT:USDT"), params={
        "entry_threshold": "2", "position_value": "100", "max_adds": 2, "add_step": "1", "add_multipliers": "1,2",
        "max_position_value": "1000", "take_profit_mode": "regression", "take_profit": "1", "stop_loss": "10"})
    in_acme(acme, lambda: SeriesPoint.objects.create(bot=bot, series="spread", value=D("1.75"),
                                                      timestamp=datetime.now(UTC)))
    client = acme.client(acme.viewer)
    data = client.get(f"/bots/{bot.pk}/chart/?symbol=ETH/USDT:USDT").json()
    assert data["symbol"] == "ETH/USDT:USDT" and data["candles"][-1]["close"] == "3000"
    assert [p["value"] for p in data["spread"]] == ["1.75"] and data["levels"] == []
    assert client.get(f"/bots/{bot.pk}/chart/?symbol=DOGE/USDT").status_code == 404


def test_the_detail_page_loads_the_vendored_chart_library(acme, grid_bot):
    page = acme.client(acme.viewer).get(f"/bots/{grid_bot.pk}/").content.decode()
    assert "/static/vendor/lightweight-charts-5.2.1.standalone.production.js" in page
    assert f'data-url="/bots/{grid_bot.pk}/chart/"' in page
    assert acme.client(acme.viewer).get("/static/js/bot_charts.js").status_code == 200


def test_another_workspaces_bot_has_no_chart(globex, grid_bot):
    assert globex.client(globex.owner).get(f"/bots/{grid_bot.pk}/chart/").status_code == 404


def test_a_bot_on_a_real_exchange_gets_that_exchanges_candles(acme, fake_binance):
    fake_binance.set_price("BTC/USDT", D("61234.5"))
    binance = do_create_connection(acme.tenant, label="Binance", exchange="binance", credentials=FAKE_KEYS,
                                   actor=acme.owner)
    bot = do_create_bot(acme.tenant, name="Live grid", connection=binance, strategy="grid", symbols=["BTC/USDT"],
                        params=GRID, actor=acme.owner)
    data = acme.client(acme.viewer).get(f"/bots/{bot.pk}/chart/").json()
    assert data["error"] == "" and data["candles"][-1]["close"] == "61234.5"


def test_an_exchange_outage_leaves_the_chart_empty_with_a_reason(acme, fake_binance):
    binance = do_create_connection(acme.tenant, label="Binance", exchange="binance", credentials=FAKE_KEYS,
                                   actor=acme.owner)
    bot = do_create_bot(acme.tenant, name="Live grid", connection=binance, strategy="grid", symbols=["BTC/USDT"],
                        params=GRID, actor=acme.owner)
    fake_binance.fail_next("GET /api/v3/klines", "http_503", count=20)
    response = acme.client(acme.viewer).get(f"/bots/{bot.pk}/chart/")
    assert response.status_code == 200
    data = response.json()
    assert data["candles"] == [] and data["error"].startswith("Candles are unavailable:")
    assert FAKE_KEYS["secret"] not in response.content.decode() and FAKE_KEYS["apiKey"] not in response.content.decode()


def test_the_grid_preview_sides_its_levels_by_the_connections_own_price(acme, paper, market):
    market.hold("BTC/USDT", "60250")
    form = {"strategy": "grid", "name": "My grid", "connection": paper.pk, "symbol": "BTC/USDT",
            "p-lower_price": "59000", "p-upper_price": "61000", "p-grid_count": "5", "p-spacing": "arithmetic",
            "p-amount_per_level": "0.01", "preview": "1"}
    time.sleep(0.3)  # the scripted price reaches 60,250 over 0.2 s
    page = acme.client(acme.trader).post("/bots/new/", form, HTTP_HX_REQUEST="true").content.decode()
    assert "Reference price 60250" in page
    assert '<tr class="side-sell"><td class="num">60500' in page
    assert '<tr class="side-buy"><td class="num">60000' in page
    assert f'data-url="/bots/candles/?connection={paper.pk}&amp;symbol=BTC/USDT"' in page
    assert '"price": "60500", "side": "sell"' in page  # the lines the chart draws


def test_the_preview_candles_come_from_the_chosen_connection(acme, paper):
    client = acme.client(acme.trader)
    data = client.get(f"/bots/candles/?connection={paper.pk}&symbol=ETH/USDT").json()
    assert data["error"] == "" and data["candles"][-1]["close"] == "3000"
    unknown = client.get(f"/bots/candles/?connection={paper.pk}&symbol=NOPE/USDT").json()
    assert unknown["candles"] == [] and unknown["error"].startswith("Candles are unavailable:")
    assert client.get("/bots/candles/?connection=999999&symbol=ETH/USDT").status_code == 404
    assert client.get("/bots/candles/?connection=x&symbol=ETH/USDT").status_code == 404


def test_the_price_scale_shows_as_many_decimals_as_the_prices_have():
    from bots.charts import price_decimals

    assert price_decimals([{"high": "0.14948", "low": "0.1491"}]) == 5
    assert price_decimals([{"high": "60200", "low": "60100.5"}]) == 2
    assert price_decimals([{"high": "0.000012345678901", "low": "0.00001"}]) == 8
    assert price_decimals([]) == 2
