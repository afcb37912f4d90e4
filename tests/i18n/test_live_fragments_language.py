"""Fragments pushed over the workspace socket are rendered in the socket user's
language and time zone, like the page they are swapped into."""

import pytest
from channels.testing import WebsocketCommunicator
from django.conf import settings

from config.asgi import application
from tests.tenants.test_live_fragments import STATUS, receive_after_push

pytestmark = pytest.mark.usefixtures("transactional_db")


def socket_for(workspace, user, view, accept_language="en"):
    cookie = workspace.client(user).cookies[settings.SESSION_COOKIE_NAME].value
    headers = [(b"host", workspace.host.encode()), (b"origin", f"http://{workspace.host}".encode()),
               (b"accept-language", accept_language.encode()),
               (b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode())]
    return WebsocketCommunicator(application, f"/ws/workspace/?view={view}", headers=headers)


def test_a_chinese_user_gets_the_bot_status_in_chinese_and_in_their_time_zone(acme, prefer):
    prefer(acme.trader, "zh-hans", "Asia/Shanghai")
    [fragment] = receive_after_push(socket_for(acme, acme.trader, "bot:7"), acme.tenant.schema_name, [[STATUS]])
    assert "运行中" in fragment and "最新价" in fragment and "暂停" in fragment
    # STATUS ticked at 2026-11-22 00:00 UTC.
    assert "2026年11月22日 08:00" in fragment


def test_a_chinese_user_gets_the_bots_row_in_chinese(acme, prefer):
    prefer(acme.viewer, "zh-hans")
    [row] = receive_after_push(socket_for(acme, acme.viewer, "bots"), acme.tenant.schema_name, [[STATUS]])
    assert "运行中" in row and "60100" in row


def test_an_english_user_gets_english_from_a_chinese_browser(acme, prefer):
    prefer(acme.viewer, "en", "America/New_York")
    [fragment] = receive_after_push(socket_for(acme, acme.viewer, "bot:7", accept_language="zh-CN,zh"),
                                    acme.tenant.schema_name, [[STATUS]])
    assert "Running" in fragment and "11/21/2026 7 p.m." in fragment


def test_a_user_without_a_language_gets_the_browser_s(acme):
    [card] = receive_after_push(socket_for(acme, acme.viewer, "dashboard", accept_language="zh-CN,zh;q=0.9"),
                                acme.tenant.schema_name, [[STATUS]])
    assert "运行中" in card and "盈亏" in card
