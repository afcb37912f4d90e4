"""The whole first visit in a real browser: sign up, land in the new workspace, add a
paper account, create a grid bot from its preview, start it, and watch a fill and the
PnL arrive over the websocket; pausing it shows on a second open tab without a reload.
Screenshots of the main pages are taken on the way."""

import os
import re
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.live import (
    LIVE, SYMBOL, fill_rows, mark_document, same_document, status, tight_grid, wait_for_socket,
)
from tests.conftest import PASSWORD

pytestmark = pytest.mark.timeout(180)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def screenshot(tmp_path):
    """The journey photographs the main pages. Into docs/screenshots/ when asked for
    (UPDATE_SCREENSHOTS=1, `make screenshots`), else into a temporary directory: prices
    and times differ on every run, and a test run should not rewrite committed images."""
    updating = os.environ.get("UPDATE_SCREENSHOTS") == "1"
    directory = ROOT / "docs" / "screenshots" if updating else tmp_path

    def take(page, name: str, *, full_page: bool = False) -> None:
        if updating:
            page.wait_for_timeout(1000)  # charts draw after their data arrives
        page.screenshot(path=directory / f"{name}.png", full_page=full_page, animations="disabled", caret="hide")

    return take


@contextmanager
def form_swap(page):
    """Wait for the htmx swap that the body of the `with` causes."""
    page.evaluate("() => { window.__swapped = new Promise((done) => document.body.addEventListener("
                  "'htmx:afterSettle', () => done(true), {once: true})); }")
    yield
    page.evaluate("Promise.race([window.__swapped, new Promise((_, fail) => "
                  "setTimeout(() => fail(new Error('the form was not re-rendered')), 15000))])")


def test_a_new_user_signs_up_starts_a_paper_grid_and_sees_a_fill_pnl_and_a_pause_arrive_live(
    live_platform, new_context, screenshot
):
    context = new_context()
    page = context.new_page()
    workspace_url = live_platform.url("/", "ada-capital")

    # Sign up on the public site; the workspace's own host greets its new owner.
    page.goto(live_platform.url("/accounts/signup/"))
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Workspace name").fill("Ada Capital")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign Up").click()
    page.wait_for_url(workspace_url)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.get_by_text("ada@example.com")).to_be_visible()
    sidebar = page.get_by_role("navigation", name="Workspace")

    # A paper account.
    sidebar.get_by_role("link", name="Exchanges").click()
    page.get_by_role("link", name="Add a paper account").click()
    page.get_by_label("Label").fill("Paper")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved “Paper”")).to_be_visible()
    sidebar.get_by_role("link", name="Exchanges").click()
    expect(page.get_by_role("link", name="Paper")).to_be_visible()
    screenshot(page, "connections")

    # A grid bot straddling the current simulated price, as its preview shows.
    sidebar.get_by_role("link", name="Bots").click()
    page.get_by_role("link", name="New Grid bot").click()
    wait_for_socket(page)  # htmx has processed the page
    grid = tight_grid()
    page.get_by_label("Name").fill("DOGE grid")
    page.get_by_label("Symbol").fill(SYMBOL)
    page.get_by_label("Lower price").fill(str(grid["lower_price"]))
    page.get_by_label("Upper price").fill(str(grid["upper_price"]))
    page.get_by_label("Number of levels").fill(str(grid["grid_count"]))
    # The form previews itself on every change once it is complete (htmx does not send
    # it while a required field is empty), so the last field brings the preview.
    with form_swap(page):
        page.get_by_label("Amount per level").fill(str(grid["amount_per_level"]))
        page.get_by_label("Amount per level").press("Tab")
    levels = page.get_by_role("table").filter(has=page.get_by_role("columnheader", name="Level")).locator("tbody tr")
    expect(levels).to_have_count(grid["grid_count"])
    expect(levels.first).to_contain_text(f"{grid['upper_price']:f}")
    expect(levels.last).to_contain_text(f"{grid['lower_price']:f}")
    # Sided by the price now: sells above it, buys below.
    expect(levels.first).to_contain_text("sell", ignore_case=True)
    expect(levels.last).to_contain_text("buy", ignore_case=True)
    screenshot(page, "grid-bot-create", full_page=True)
    page.get_by_role("button", name="Create bot").click()
    expect(page, "Create bot lands on the new bot's page").to_have_url(re.compile(r"/bots/\d+/$"))
    expect(page.get_by_role("heading", name="DOGE grid")).to_be_visible()
    expect(status(page, "state")).to_have_text("Draft")
    bot_url = page.url

    # A second tab on the bot's page, live before the bot starts.
    watcher = context.new_page()
    watcher.goto(bot_url)
    wait_for_socket(watcher)
    watching = mark_document(watcher)
    expect(fill_rows(watcher)).to_have_count(0)
    expect(status(watcher, "unrealized_pnl")).to_have_text("0")

    # Pages in the background get no animation frames, which clicks wait for.
    page.bring_to_front()
    page.get_by_role("button", name="Start").click()
    expect(status(page, "state")).to_have_text("Running")
    wait_for_socket(page)
    started = mark_document(page)
    fills_when_loaded = fill_rows(page).count()
    pnl_when_loaded = status(page, "unrealized_pnl").inner_text()

    # The watching tab hears of the start, the opening buy's fill and the PnL it makes.
    expect(status(watcher, "state")).to_have_text("Running", timeout=LIVE)
    expect(fill_rows(watcher).first).to_be_visible(timeout=LIVE)
    expect(status(watcher, "unrealized_pnl")).not_to_have_text("0", timeout=LIVE)
    # The tab that started it, loaded since, gets a further fill and a new PnL pushed.
    expect(fill_rows(page)).not_to_have_count(fills_when_loaded, timeout=LIVE)
    expect(status(page, "unrealized_pnl")).not_to_have_text(pnl_when_loaded, timeout=LIVE)
    assert same_document(page, started)
    screenshot(page, "bot-detail")

    tour = context.new_page()
    tour.goto(live_platform.url("/bots/", "ada-capital"))
    row = tour.get_by_role("row").filter(has=tour.get_by_role("link", name="DOGE grid"))
    expect(row).to_contain_text("Running")
    # The list hears the engine too (a page loaded within seconds of the start can
    # predate the price's first write).
    expect(row.locator("[data-field=last_price]")).not_to_have_text("–", timeout=LIVE)
    screenshot(tour, "bots")
    tour.goto(workspace_url)
    expect(tour.get_by_role("link", name=re.compile(r"^DOGE grid Running"))).to_be_visible()
    screenshot(tour, "dashboard")
    tour.close()

    page.bring_to_front()
    page.get_by_role("button", name="Pause").click()
    expect(status(page, "state")).to_have_text("Paused")
    expect(status(watcher, "state")).to_have_text("Paused", timeout=LIVE)
    expect(watcher.get_by_role("button", name="Resume")).to_be_visible()
    assert same_document(watcher, watching)
