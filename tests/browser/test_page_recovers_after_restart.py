"""A bot's page left open while the web server restarts (a deploy, Ctrl-C and `make
run` again) reconnects its websocket by itself and goes on showing what the engine
pushes, without a reload; what the reconnected socket sends again shows once."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.live import LIVE, log_in, mark_document, same_document, status, wait_for_socket

pytestmark = pytest.mark.timeout(150)
# static/js/aviary.js caps the ws extension's retry delay at 4 s (its default grows to
# 64 s), so a few seconds' outage is over well inside this.
RECONNECT = 15


def rows_shown_twice(page) -> list[str]:
    return page.evaluate("""() => {
        const keys = Array.from(document.querySelectorAll(
            '#bot-orders-rows tr[id], #bot-fills-rows tr[data-fill], #bot-events-list li[data-event]'),
            (row) => row.id || 'fill-' + (row.dataset.fill || '') + 'event-' + (row.dataset.event || ''));
        return keys.filter((key, i) => keys.indexOf(key) !== i);
    }""")


def test_an_open_bot_page_reconnects_after_the_web_server_restarts_and_shows_later_pushes_once(
    acme, running_bot, live_platform, new_context
):
    context = new_context()
    page = context.new_page()
    log_in(page, live_platform, "acme", acme.owner)
    bot_url = live_platform.url(f"/bots/{running_bot.pk}/", "acme")
    page.goto(bot_url)
    wait_for_socket(page)
    document = mark_document(page)
    price = status(page, "last_price")
    before = price.inner_text()
    expect(price).not_to_have_text(before, timeout=LIVE)

    # Another tab pauses and resumes the bot; the open page hears of both.
    other = context.new_page()
    other.goto(bot_url)
    other.get_by_role("button", name="Pause").click()
    expect(status(other, "state")).to_have_text("Paused")
    other.get_by_role("button", name="Resume").click()
    expect(status(other, "state")).to_have_text("Running")
    other.close()
    page.bring_to_front()
    events = page.locator("#bot-events-list li")
    expect(events.filter(has_text="Resumed.")).to_have_count(1, timeout=LIVE)
    expect(events.filter(has_text="Paused.")).to_have_count(1)

    live_platform.restart_web()

    wait_for_socket(page, opens=2, timeout=RECONNECT)
    closes = page.evaluate("window.__live.closes")
    assert closes, "the socket should have seen the server go"
    expect(page.locator("body")).not_to_have_class(re.compile("offline"))
    # After the reconnect the engine's pushes arrive again on the same document.
    shown = price.inner_text()
    expect(price).not_to_have_text(shown, timeout=LIVE)
    assert same_document(page, document)
    # The socket sent again all that came after the page's render, which the page had.
    expect(events.filter(has_text="Resumed.")).to_have_count(1)
    expect(events.filter(has_text="Paused.")).to_have_count(1)
    assert rows_shown_twice(page) == []
