"""A bot's page left open while the web server restarts (a deploy, Ctrl-C and `make
run` again) reconnects its websocket by itself and goes on showing what the engine
pushes, without a reload."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.live import LIVE, log_in, mark_document, same_document, status, wait_for_socket

pytestmark = pytest.mark.timeout(150)
# static/js/aviary.js caps the ws extension's retry delay at 4 s (its default grows to
# 64 s), so a few seconds' outage is over well inside this.
RECONNECT = 15


def test_an_open_bot_page_reconnects_after_the_web_server_restarts_and_shows_later_pushes(
    acme, running_bot, live_platform, new_context
):
    page = new_context().new_page()
    log_in(page, live_platform, "acme", acme.owner)
    page.goto(live_platform.url(f"/bots/{running_bot.pk}/", "acme"))
    wait_for_socket(page)
    document = mark_document(page)
    price = status(page, "last_price")
    before = price.inner_text()
    expect(price).not_to_have_text(before, timeout=LIVE)

    live_platform.restart_web()

    wait_for_socket(page, opens=2, timeout=RECONNECT)
    closes = page.evaluate("window.__live.closes")
    assert closes, "the socket should have seen the server go"
    expect(page.locator("body")).not_to_have_class(re.compile("offline"))
    # After the reconnect the engine's pushes arrive again on the same document.
    shown = price.inner_text()
    expect(price).not_to_have_text(shown, timeout=LIVE)
    assert same_document(page, document)
