"""A viewer watches a running bot live, but is offered no way to control it: not on
the page as served, and not in the fragments pushed to it afterwards, while an owner
on the same bot sees the controls."""

import pytest
from playwright.sync_api import expect

from tests.browser.live import LIVE, controls, log_in, mark_document, same_document, status, wait_for_socket

pytestmark = pytest.mark.timeout(120)


def test_a_viewer_sees_the_bot_live_but_no_controls_even_after_a_push(acme, running_bot, live_platform,
                                                                      new_context):
    bot_path = f"/bots/{running_bot.pk}/"
    viewer = new_context().new_page()
    log_in(viewer, live_platform, "acme", acme.viewer)
    expect(viewer.get_by_text("Viewer", exact=True)).to_be_visible()
    viewer.goto(live_platform.url("/bots/", "acme"))
    expect(viewer.get_by_role("link", name="DOGE grid")).to_be_visible()
    expect(viewer.get_by_role("link", name="New Grid bot")).to_have_count(0)

    viewer.goto(live_platform.url(bot_path, "acme"))
    wait_for_socket(viewer)
    document = mark_document(viewer)
    expect(status(viewer, "state")).to_have_text("Running")
    assert controls(viewer) == []
    # The engine's pushes reach the viewer: the price moves.
    price = status(viewer, "last_price").inner_text()
    expect(status(viewer, "last_price")).not_to_have_text(price, timeout=LIVE)

    owner = new_context().new_page()
    log_in(owner, live_platform, "acme", acme.owner)
    owner.goto(live_platform.url(bot_path, "acme"))
    assert controls(owner) == ["Pause", "Stop…", "Edit"]
    owner.get_by_role("button", name="Pause").click()
    expect(status(owner, "state")).to_have_text("Paused")
    assert controls(owner) == ["Resume", "Stop…", "Edit", "Delete…"]

    # The pushed status is rendered for the viewer's role: paused, and still nothing to press.
    expect(status(viewer, "state")).to_have_text("Paused", timeout=LIVE)
    assert controls(viewer) == []
    assert same_document(viewer, document)
