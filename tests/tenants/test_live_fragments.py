"""What the workspace socket sends a page: fragments of that page's own partials with
hx-swap-oob, controls only for those who may use them, at most one per bot per
interval, and nothing for another workspace."""

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.conf import settings

from bots import live
from bots.actions import do_create_bot
from exchanges.actions import do_create_connection
from tests.bots.conftest import GRID
from config.asgi import application
from tenants import consumers

pytestmark = pytest.mark.usefixtures("transactional_db")

STATUS = {"id": 7, "name": "Grid one", "state": "running", "state_reason": "", "last_price": "60100",
          "last_tick_at": 1795305600.0, "realized_pnl": "1.25", "unrealized_pnl": "-0.5", "position": "0.01",
          "open_orders": 4}


def socket_for(workspace, user, view):
    cookie = workspace.client(user).cookies[settings.SESSION_COOKIE_NAME].value
    headers = [(b"host", workspace.host.encode()), (b"origin", f"http://{workspace.host}".encode()),
               (b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}; {settings.CSRF_COOKIE_NAME}=csrf123".encode())]
    return WebsocketCommunicator(application, f"/ws/workspace/?view={view}", headers=headers)


@async_to_sync
async def receive_each(socket, schema, statuses_list):
    """Push each status and take its fragment before pushing the next."""
    connected, _ = await socket.connect()
    assert connected
    received = []
    for statuses in statuses_list:
        await live.apush(schema, statuses, to_bots=set())
        received.append(await socket.receive_from(timeout=2))
    await socket.disconnect()
    return received


@async_to_sync
async def receive_after_push(socket, schema, statuses_list, *, wait=1.0, news=False):
    connected, _ = await socket.connect()
    assert connected
    for statuses in statuses_list:
        await live.apush(schema, statuses, to_bots=set() if not news else None)
    received = []
    while not await socket.receive_nothing(timeout=wait):
        received.append(await socket.receive_from())
    await socket.disconnect()
    return received


def test_the_bots_page_gets_the_rows_partial_swapped_out_of_band(acme):
    [row] = receive_after_push(socket_for(acme, acme.viewer, "bots"), acme.tenant.schema_name, [[STATUS]])
    assert row.strip().startswith('<tr id="bot-row-7" hx-swap-oob="true">')
    assert "60100" in row and "1.25" in row and "Running" in row


def test_a_bot_page_gets_its_status_with_controls_for_a_trader(acme):
    [fragment] = receive_after_push(socket_for(acme, acme.trader, "bot:7"), acme.tenant.schema_name, [[STATUS]])
    assert 'id="bot-status"' in fragment and 'hx-swap-oob="true"' in fragment
    assert "/bots/7/pause/" in fragment and 'value="csrf123"' in fragment


def test_a_viewer_gets_the_status_without_controls(acme):
    [fragment] = receive_after_push(socket_for(acme, acme.viewer, "bot:7"), acme.tenant.schema_name, [[STATUS]])
    assert 'id="bot-status"' in fragment
    assert "/pause/" not in fragment and "<form" not in fragment


def test_a_bot_page_ignores_other_bots(acme):
    other = {**STATUS, "id": 8}
    assert receive_after_push(socket_for(acme, acme.viewer, "bot:7"), acme.tenant.schema_name, [[other]]) == []


def test_a_burst_of_statuses_sends_the_first_at_once_and_then_only_the_last(acme, monkeypatch):
    monkeypatch.setattr(consumers, "FRAGMENT_INTERVAL", 0.5)
    burst = [[{**STATUS, "last_price": str(60000 + n)}] for n in range(5)]
    fragments = receive_after_push(socket_for(acme, acme.viewer, "bots"), acme.tenant.schema_name, burst)
    assert len(fragments) == 2
    assert "60000" in fragments[0] and "60004" in fragments[1]


def test_while_the_state_holds_only_the_figures_change_and_the_buttons_stay(acme, monkeypatch):
    monkeypatch.setattr(consumers, "FRAGMENT_INTERVAL", 0.05)
    later = {**STATUS, "last_price": "60250.5", "unrealized_pnl": "1", "open_orders": 3}
    paused = {**later, "state": "paused", "state_reason": "Paused by ada"}
    first, figures, state_change = receive_each(
        socket_for(acme, acme.trader, "bot:7"), acme.tenant.schema_name, [[STATUS], [later], [paused]])
    assert 'id="bot-status"' in first and "/bots/7/pause/" in first
    assert "<form" not in figures and 'id="bot-status"' not in figures
    assert '<span id="bot-7-last_price" hx-swap-oob="innerHTML">60250.5</span>' in figures
    assert '<span id="bot-7-open_orders" hx-swap-oob="innerHTML">3</span>' in figures
    assert 'id="bot-7-last_tick_at"' in figures
    assert 'id="bot-status"' in state_change and "/bots/7/resume/" in state_change


def test_the_dashboard_gets_only_the_figures_its_cards_show(acme, monkeypatch):
    monkeypatch.setattr(consumers, "FRAGMENT_INTERVAL", 0.05)
    card, figures = receive_each(socket_for(acme, acme.viewer, "dashboard"), acme.tenant.schema_name,
                                 [[STATUS], [{**STATUS, "realized_pnl": "2"}]])
    assert 'id="bot-card-7"' in card
    assert '<span id="bot-7-realized_pnl" hx-swap-oob="innerHTML">2</span>' in figures
    # Ids the card does not have would be swapped into nothing (htmx logs an error).
    assert "bot-7-position" not in figures and "bot-7-open_orders" not in figures


def test_another_workspaces_statuses_never_arrive(acme, globex):
    assert receive_after_push(socket_for(acme, acme.owner, "bots"), globex.tenant.schema_name, [[STATUS]]) == []


def test_news_of_the_bot_sends_only_the_rows_its_page_has_not_shown(acme):
    from decimal import Decimal as D

    from asgiref.sync import sync_to_async
    from django_tenants.utils import schema_context

    from bots.models import BotEvent, Fill, Order

    paper = do_create_connection(acme.tenant, label="Paper", exchange="paper", actor=acme.owner)
    bot = do_create_bot(acme.tenant, name="Newsy", connection=paper, strategy="grid", symbols=["BTC/USDT"],
                        params=GRID, actor=acme.owner)
    status = {**STATUS, "id": bot.pk, "name": "Newsy"}
    with schema_context(acme.tenant.schema_name):
        resting = Order.objects.create(bot=bot, client_order_id="av1b1n1", tag="grid:buy:1", symbol="BTC/USDT",
                                       side="buy", type="limit", price=D("59500"), amount=D("0.01"), status="open")
        Order.objects.filter(pk=resting.pk).update(created_at="2026-11-21T10:00Z", updated_at="2026-11-21T10:00Z")

    def trade():
        with schema_context(acme.tenant.schema_name):
            order = Order.objects.get(pk=resting.pk)
            order.status, order.filled = Order.Status.CLOSED, D("0.01")
            order.save()
            Fill.objects.create(bot=bot, order=order, sequence="0.01", symbol="BTC/USDT", side="buy", price=D("59500"),
                                amount=D("0.01"), fee=D("0.595"), timestamp="2026-11-21T10:01Z")
            Order.objects.create(bot=bot, client_order_id="av1b1n2", tag="grid:sell:2", symbol="BTC/USDT",
                                 side="sell", type="limit", price=D("60000"), amount=D("0.01"), status="open")
            BotEvent.objects.create(bot=bot, kind=BotEvent.Kind.ORDER_FILLED, message="Buy 0.01 BTC/USDT at 59500")

    @async_to_sync
    async def news_after(socket, change):
        connected, _ = await socket.connect()
        assert connected
        await sync_to_async(change)()
        await live.apush(acme.tenant.schema_name, [status], to_bots=None)
        received = []
        while not await socket.receive_nothing(timeout=1.0):
            received.append(await socket.receive_from())
        await socket.disconnect()
        return [fragment for fragment in received if "bot-status" not in fragment and "bot-{}-".format(bot.pk)
                not in fragment]

    [news] = news_after(socket_for(acme, acme.viewer, f"bot:{bot.pk}"), trade)
    # The creation event and the resting order were on the page already.
    assert "Created with the Grid strategy." not in news and news.count("<li") == 1
    assert '<ul id="bot-events-list" hx-swap-oob="afterbegin">' in news and "Buy 0.01 BTC/USDT at 59500" in news
    assert '<tbody id="bot-fills-rows" hx-swap-oob="afterbegin"><tr class="fill"' in news
    assert '<tbody id="bot-orders-rows" hx-swap-oob="afterbegin">' in news and "grid:sell:2" in news
    # The resting order changed (filled): its row replaces itself.
    assert f'<tr id="order-{resting.pk}" hx-swap-oob="true">' in news and "Filled" in news
    assert news.count("grid:buy:1") == 1 and news.count("grid:sell:2") == 1


def test_a_bot_page_gets_at_once_the_rows_written_between_its_render_and_its_socket(acme):
    from decimal import Decimal as D

    from django_tenants.utils import schema_context

    from bots.actions import record_event
    from bots.models import BotEvent, Fill, Order

    paper = do_create_connection(acme.tenant, label="Paper", exchange="paper", actor=acme.owner)
    bot = do_create_bot(acme.tenant, name="Quick", connection=paper, strategy="grid", symbols=["BTC/USDT"],
                        params=GRID, actor=acme.owner)
    with schema_context(acme.tenant.schema_name):
        shown = live.shown_marks(bot)
        order = Order.objects.create(bot=bot, client_order_id="av1b1n1", tag="grid:buy:1", symbol="BTC/USDT",
                                     side="buy", type="market", amount=D("0.01"), filled=D("0.01"), status="closed")
        Fill.objects.create(bot=bot, order=order, sequence="0.01", symbol="BTC/USDT", side="buy", price=D("59500"),
                            amount=D("0.01"), fee=D("0.595"), timestamp="2026-11-21T10:01Z")
        record_event(bot, BotEvent.Kind.ORDER_FILLED, "Buy 0.01 BTC/USDT at 59500")
    view = f"bot:{bot.pk}&fill={shown['fill']}&event={shown['event']}&since={shown['since']}"

    # Nothing is pushed: the socket sends what the page missed as it opens.
    [news] = receive_after_push(socket_for(acme, acme.viewer, view), acme.tenant.schema_name, [])
    assert "Buy 0.01 BTC/USDT at 59500" in news and "Created with the Grid strategy." not in news
    assert '<tbody id="bot-fills-rows" hx-swap-oob="afterbegin"><tr class="fill"' in news
    assert '<tbody id="bot-orders-rows" hx-swap-oob="afterbegin">' in news and "grid:buy:1" in news


@pytest.mark.parametrize("marks", [
    "fill=x&event=1&since=1",
    "fill=1&event=1",
    "fill={fill}&event={event}&since=99999999999999999",  # past year 9999
])
def test_a_bot_page_with_unreadable_or_future_marks_still_connects_and_gets_no_old_rows(acme, marks):
    from django_tenants.utils import schema_context

    paper = do_create_connection(acme.tenant, label="Paper", exchange="paper", actor=acme.owner)
    bot = do_create_bot(acme.tenant, name="Quiet", connection=paper, strategy="grid", symbols=["BTC/USDT"],
                        params=GRID, actor=acme.owner)
    with schema_context(acme.tenant.schema_name):
        shown = live.shown_marks(bot)
    view = f"bot:{bot.pk}&" + marks.format(**shown)
    assert receive_after_push(socket_for(acme, acme.viewer, view), acme.tenant.schema_name, []) == []
