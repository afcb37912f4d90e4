"""The bots' pages: list, detail, controls, create with preview, edit and roll back,
the signal bot's webhook, and who may do what."""

import re
import time
from decimal import Decimal as D

import pytest
from django_tenants.utils import schema_context

from accounts.models import AuditEvent
from bots.actions import do_pause_bot, do_start_bot, webhook_credentials
from bots.models import Bot, Fill, Order
from tests.bots.conftest import GRID

SIGNAL = {"size_mode": "quote", "size": "100", "strong": "execute", "medium": "execute", "weak": "alert",
          "ignore": "drop"}


def in_acme(acme, function):
    with schema_context(acme.tenant.schema_name):
        return function()


@pytest.fixture
def traded_bot(acme, make_bot):
    """A running grid bot with one filled order."""
    bot = do_start_bot(acme.tenant, make_bot(name="Grid one"), actor=acme.owner)

    def fill():
        order = Order.objects.create(bot=bot, client_order_id="av1b1n1", tag="grid:buy:1", symbol="BTC/USDT",
                                     side="buy", type="limit", price=D("59500"), amount=D("0.01"),
                                     filled=D("0.01"), status=Order.Status.CLOSED)
        Fill.objects.create(bot=bot, order=order, sequence="0.01", symbol="BTC/USDT", side="buy", price=D("59500"),
                            amount=D("0.01"), fee=D("0.595"), realized_pnl=D("-0.595"), timestamp="2026-11-21T10:00Z")
        bot.positions.create(symbol="BTC/USDT", amount=D("0.01"), average_price=D("59500"),
                             realized_pnl=D("-0.595"), fees=D("0.595"))
        Bot.objects.filter(pk=bot.pk).update(last_price=D("60000"))

    in_acme(acme, fill)
    return bot


def test_the_list_shows_each_bots_state_price_and_pnl(acme, traded_bot):
    page = acme.client(acme.viewer).get("/bots/").content.decode()
    assert f'id="bot-row-{traded_bot.pk}"' in page
    assert "Grid one" in page and "Running" in page
    assert "60000" in page and "-0.595" in page
    # 0.01 BTC bought at 59,500, now 60,000.
    assert f'<td class="num pnl" id="bot-{traded_bot.pk}-unrealized_pnl">5</td>' in page


def test_a_viewer_gets_no_create_buttons_and_a_trader_does(acme, traded_bot):
    assert "/bots/new/" not in acme.client(acme.viewer).get("/bots/").content.decode()
    assert "/bots/new/?strategy=grid" in acme.client(acme.trader).get("/bots/").content.decode()


def test_the_detail_page_shows_status_orders_fills_and_events(acme, traded_bot):
    page = acme.client(acme.viewer).get(f"/bots/{traded_bot.pk}/").content.decode()
    assert 'id="bot-status"' in page
    assert "grid:buy:1" in page and "59500" in page and "-0.595" in page
    assert "Started" in page
    assert f"view=bot:{traded_bot.pk}" in page


def test_the_detail_pages_socket_asks_for_what_comes_after_the_newest_fill_and_event_shown(acme, traded_bot):
    before = int(time.time() * 1000)
    page = acme.client(acme.viewer).get(f"/bots/{traded_bot.pk}/").content.decode()
    fill, event = in_acme(acme, lambda: (traded_bot.fills.get().pk, traded_bot.events.latest("id").pk))
    [since] = re.findall(rf'ws-connect="/ws/workspace/\?view=bot:{traded_bot.pk}&amp;fill={fill}&amp;event={event}'
                         r'&amp;since=(\d+)"', page)
    assert before <= int(since) <= time.time() * 1000


def test_the_orders_table_filters_by_status_and_its_pages_keep_the_filter(acme, make_bot):
    bot = make_bot(name="Busy")

    def orders():
        Order.objects.bulk_create([
            Order(bot=bot, client_order_id=f"av1b{bot.pk}n{n}", tag=f"grid:buy:{n}", symbol="BTC/USDT", side="buy",
                  type="limit", price=D("59000") + n, amount=D("0.01"),
                  status=Order.Status.OPEN if n % 2 else Order.Status.CANCELED)
            for n in range(60)])

    in_acme(acme, orders)
    client = acme.client(acme.viewer)
    part = client.get(f"/bots/{bot.pk}/?part=orders&status=open", headers={"HX-Request": "true"}).content.decode()
    assert part.lstrip().startswith('<section class="card" id="bot-orders" data-status="open" data-page="1">')
    assert part.count("<tr id=\"order-") == 25 and "<td>Open</td>" in part and "<td>Cancelled</td>" not in part
    assert f'href="?status=open&amp;orders_page=2"' in part
    second = client.get(f"/bots/{bot.pk}/?status=open&orders_page=2").content.decode()
    assert "Page 2 of 2" in second and second.count("grid:buy:") == 5
    # What static/js/aviary.js fetches instead of taking pushed, unfiltered rows.
    activity = client.get(f"/bots/{bot.pk}/?part=activity&status=open&orders_page=2&fills_page=1",
                          headers={"HX-Request": "true"}).content.decode()
    assert activity.lstrip().startswith('<div id="bot-activity">')
    assert 'data-status="open" data-page="2"' in activity and activity.count("grid:buy:") == 5


def test_a_viewer_sees_no_controls_and_cannot_use_them(acme, traded_bot):
    page = acme.client(acme.viewer).get(f"/bots/{traded_bot.pk}/").content.decode()
    assert f"/bots/{traded_bot.pk}/pause/" not in page
    response = acme.client(acme.viewer).post(f"/bots/{traded_bot.pk}/pause/")
    assert response.status_code == 403
    assert in_acme(acme, lambda: Bot.objects.get(pk=traded_bot.pk).state) == Bot.State.RUNNING


def test_a_trader_pauses_and_resumes_a_bot(acme, traded_bot):
    client = acme.client(acme.trader)
    assert f"/bots/{traded_bot.pk}/pause/" in client.get(f"/bots/{traded_bot.pk}/").content.decode()
    assert client.post(f"/bots/{traded_bot.pk}/pause/").status_code == 302
    assert in_acme(acme, lambda: Bot.objects.get(pk=traded_bot.pk).state) == Bot.State.PAUSED
    client.post(f"/bots/{traded_bot.pk}/resume/")
    assert in_acme(acme, lambda: Bot.objects.get(pk=traded_bot.pk).state) == Bot.State.RUNNING


def test_an_unknown_control_is_404(acme, traded_bot):
    assert acme.client(acme.trader).post(f"/bots/{traded_bot.pk}/explode/").status_code == 404


def test_a_refused_transition_shows_why(acme, traded_bot):
    client = acme.client(acme.trader)
    response = client.post(f"/bots/{traded_bot.pk}/start/", follow=True)
    assert response.status_code == 200
    assert "running" in response.content.decode().lower()
    assert in_acme(acme, lambda: Bot.objects.get(pk=traded_bot.pk).state) == Bot.State.RUNNING


def test_stopping_asks_first_then_stops(acme, traded_bot):
    client = acme.client(acme.trader)
    confirm = client.get(f"/bots/{traded_bot.pk}/stop/")
    assert "Stop the bot" in confirm.content.decode()
    assert in_acme(acme, lambda: Bot.objects.get(pk=traded_bot.pk).state) == Bot.State.RUNNING
    client.post(f"/bots/{traded_bot.pk}/stop/")
    assert in_acme(acme, lambda: Bot.objects.get(pk=traded_bot.pk).state) in (Bot.State.STOPPING, Bot.State.STOPPED)


def test_deleting_asks_first_then_deletes_a_draft(acme, make_bot):
    bot = make_bot(name="Doomed")
    client = acme.client(acme.trader)
    assert "Delete the bot" in client.get(f"/bots/{bot.pk}/delete/").content.decode()
    assert client.post(f"/bots/{bot.pk}/delete/").status_code == 302
    assert not in_acme(acme, lambda: Bot.objects.filter(pk=bot.pk).exists())


def test_creating_a_grid_bot_shows_inline_errors_then_a_preview_then_saves(acme, paper):
    client = acme.client(acme.trader)
    assert "Number of levels" in client.get("/bots/new/?strategy=grid").content.decode()
    form = {"strategy": "grid", "name": "My grid", "connection": paper.pk, "symbol": "BTC/USDT",
            "p-lower_price": "61000", "p-upper_price": "59000", "p-grid_count": "5", "p-spacing": "arithmetic",
            "p-amount_per_level": "0.01"}
    refused = client.post("/bots/new/", {**form, "save": "1"})
    assert refused.status_code == 400
    assert "The upper price must be above the lower price." in refused.content.decode()
    assert not in_acme(acme, lambda: Bot.objects.exists())

    form.update({"p-lower_price": "59000", "p-upper_price": "61000"})
    preview = client.post("/bots/new/", {**form, "preview": "1"}, HTTP_HX_REQUEST="true").content.decode()
    assert 'id="bot-form"' in preview and "<html" not in preview
    for level in ("59000", "59500", "60000", "60500", "61000"):
        assert f'<td class="num">{level}' in preview

    created = client.post("/bots/new/", {**form, "save": "1"})
    bot = in_acme(acme, lambda: Bot.objects.get())
    assert created["Location"] == f"/bots/{bot.pk}/"
    assert (bot.name, bot.state, bot.revision, bot.params["grid_count"]) == ("My grid", "draft", 1, 5)


def test_over_htmx_a_save_redirects_the_page_and_a_refusal_shows_in_the_form(acme, paper):
    client = acme.client(acme.trader)
    form = {"strategy": "grid", "name": "My grid", "connection": paper.pk, "symbol": "BTC/USDT",
            "p-lower_price": "61000", "p-upper_price": "59000", "p-grid_count": "5", "p-spacing": "arithmetic",
            "p-amount_per_level": "0.01", "save": "1"}
    refused = client.post("/bots/new/", form, HTTP_HX_REQUEST="true")
    # htmx swaps 2xx answers only: a 400 would leave the form as it was, errors unseen.
    assert refused.status_code == 200
    assert "The upper price must be above the lower price." in refused.content.decode()

    form.update({"p-lower_price": "59000", "p-upper_price": "61000"})
    saved = client.post("/bots/new/", form, HTTP_HX_REQUEST="true")
    bot = in_acme(acme, lambda: Bot.objects.get())
    # Not a 302, which htmx would follow in the background and swap into the form.
    assert saved.status_code == 204 and saved["HX-Redirect"] == f"/bots/{bot.pk}/"
    edited = client.post(f"/bots/{bot.pk}/edit/", {**form, "name": "Renamed"}, HTTP_HX_REQUEST="true")
    assert edited.status_code == 204 and edited["HX-Redirect"] == f"/bots/{bot.pk}/"


def test_a_dca_preview_shows_the_safety_order_ladder(acme, paper):
    form = {"strategy": "dca", "connection": paper.pk, "symbol": "BTC/USDT", "p-base_order_size": "100",
            "p-safety_order_size": "50", "p-max_safety_orders": "3", "p-price_deviation": "1",
            "p-safety_order_volume_scale": "2", "p-safety_order_step_scale": "1", "p-take_profit": "1", "p-cooldown": "0",
            "preview": "1"}
    page = acme.client(acme.trader).post("/bots/new/", form).content.decode()
    # Sizes 50, 100, 200 at 1%, 2%, 3% below the reference price.
    for size, drop in (("50.00", "1.00"), ("100.00", "2.00"), ("200.00", "3.00")):
        assert f'<td class="num">{drop}%</td><td class="num">{size}</td>' in page


def test_a_viewer_cannot_create_bots(acme, paper):
    assert acme.client(acme.viewer).get("/bots/new/").status_code == 403


def test_editing_makes_a_revision_and_rolling_back_restores_the_old_settings(acme, make_bot):
    bot = make_bot(name="Grid")
    client = acme.client(acme.trader)
    form = {"name": "Grid", "p-lower_price": "59000", "p-upper_price": "61000", "p-grid_count": "9",
            "p-spacing": "arithmetic", "p-amount_per_level": "0.01", "save": "1"}
    assert client.post(f"/bots/{bot.pk}/edit/", form).status_code == 302
    assert in_acme(acme, lambda: Bot.objects.get(pk=bot.pk).params["grid_count"]) == 9
    page = client.get(f"/bots/{bot.pk}/edit/").content.decode()
    assert f"/bots/{bot.pk}/revisions/1/rollback/" in page
    client.post(f"/bots/{bot.pk}/revisions/1/rollback/")
    rolled = in_acme(acme, lambda: Bot.objects.get(pk=bot.pk))
    assert (rolled.revision, rolled.params["grid_count"]) == (3, GRID["grid_count"])


def test_a_signal_bots_page_reveals_its_webhook_only_on_request(acme, make_bot):
    bot = make_bot(strategy="signal", params=SIGNAL, name="Signals")
    credentials = in_acme(acme, lambda: webhook_credentials(acme.tenant, Bot.objects.get(pk=bot.pk)))
    page = acme.client(acme.trader).get(f"/bots/{bot.pk}/").content.decode()
    assert credentials["token"] not in page and credentials["secret"] not in page

    revealed = acme.client(acme.trader).post(f"/bots/{bot.pk}/webhook/", HTTP_HX_REQUEST="true")
    text = revealed.content.decode()
    assert revealed["Cache-Control"] == "no-store"
    assert f"/hooks/signal/{credentials['token']}/" in text
    assert credentials["secret"] in text and "{{strategy.order.action}}" in text
    assert AuditEvent.objects.filter(action="bot.webhook_revealed").count() == 1


def test_a_viewer_cannot_reveal_a_webhook(acme, make_bot):
    bot = make_bot(strategy="signal", params=SIGNAL)
    assert acme.client(acme.viewer).post(f"/bots/{bot.pk}/webhook/").status_code == 403


def test_another_workspaces_bot_is_not_found(acme, globex, traded_bot):
    client = globex.client(globex.owner)
    assert client.get(f"/bots/{traded_bot.pk}/").status_code == 404
    assert client.post(f"/bots/{traded_bot.pk}/pause/").status_code == 404
    assert "Grid one" not in client.get("/bots/").content.decode()


def test_the_dashboard_counts_bots_and_lists_recent_events(acme, traded_bot, make_bot):
    do_pause_bot(acme.tenant, do_start_bot(acme.tenant, make_bot(name="Other"), actor=acme.owner), actor=acme.owner)
    page = acme.client(acme.viewer).get("/").content.decode()
    assert f'id="bot-card-{traded_bot.pk}"' in page
    assert "view=dashboard" in page
    assert "Paused" in page and "Grid one" in page
