"""Fixtures of the browser tests: the live platform (tests/browser/live.py) for one
test, chromium, browser contexts, and a running bot to look at. Logs and screenshots
of a failed test go to /tmp and are named in its report."""

import os
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from tests.browser.live import (
    CHROMIUM, CHROMIUM_ARGS, LIVE_PROBE, SYMBOL, VIEWPORT, LivePlatform, free_port, platform_env, tight_grid,
    wait_for_sessions_to_end,
)

FAILED = pytest.StashKey[list]()


@pytest.fixture(autouse=True)
def _platform_passwords(settings):
    """Users made by the shared fixtures can log in to the live platform."""
    settings.PASSWORD_HASHERS = ["tests.browser.live.QuickPBKDF2PasswordHasher"]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed:
        item.stash.setdefault(FAILED, []).append(report.when)
    return report


def failed(request) -> bool:
    return bool(request.node.stash.get(FAILED, []))


@pytest.fixture
def live_platform(transactional_db, settings, tmp_path, request):
    """daphne + qcluster on the test database, for one test. Function-scoped because
    transactional_db empties the database after every test."""
    settings.ENGINE_SHARDS = 1  # as in the processes: bots the test starts go to the one shard they run
    log_prefix = f"/tmp/aviary-browser-{request.node.name}"
    for name in ("web", "worker"):
        Path(f"{log_prefix}-{name}.log").unlink(missing_ok=True)
    platform = LivePlatform(port=free_port(), env=platform_env(tmp_path), log_prefix=log_prefix)
    started = False
    try:
        platform.start_worker()
        platform.start_web()
        started = True
        yield platform
    finally:
        platform.stop_all()
        left = wait_for_sessions_to_end()
        if failed(request) or left or not started:
            sys.stderr.write(platform.report() + "\n")
        else:
            for path in platform.logs.values():
                path.unlink(missing_ok=True)


@pytest.fixture
def browser(request, live_platform):
    """Chromium for one test, opened after the platform and closed before it stops.
    While it is open, Playwright's sync API keeps an asyncio loop running on this
    thread, and Django refuses database calls here: tests ask for their database
    fixtures (workspaces, bots) before this one."""
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            if failed(request):
                for number, context in enumerate(browser.contexts):
                    for page_number, page in enumerate(context.pages):
                        path = f"/tmp/aviary-browser-{request.node.name}-{number}-{page_number}.png"
                        try:
                            page.screenshot(path=path)
                            sys.stderr.write(f"page {page.url} -> {path}\n")
                        except Exception as error:  # noqa: BLE001 - a report, never a second failure
                            sys.stderr.write(f"no screenshot of {page.url}: {error}\n")
            browser.close()


@pytest.fixture
def new_context(browser):
    """A browser context (one person's cookies) with English pages at a fixed size,
    every page of it reporting on its websocket."""

    def make():
        context = browser.new_context(viewport=VIEWPORT, locale="en-US", timezone_id="UTC")
        context.set_default_timeout(15_000)
        context.add_init_script(LIVE_PROBE)
        return context

    return make


@pytest.fixture
def running_bot(acme):
    """A running grid bot in Acme, on a paper account, tight around the current price
    so that it trades from its first tick. Ask for it before `new_context`."""
    from bots.actions import do_create_bot, do_start_bot
    from exchanges.actions import do_create_connection

    paper = do_create_connection(acme.tenant, label="Paper", exchange="paper", actor=acme.owner,
                                 starting_balance=Decimal(10000))
    params = {name: str(value) for name, value in tight_grid().items()}
    bot = do_create_bot(acme.tenant, name="DOGE grid", connection=paper, strategy="grid", symbols=[SYMBOL],
                        params={**params, "spacing": "arithmetic", "stop_out_of_range": False}, actor=acme.owner)
    return do_start_bot(acme.tenant, bot, actor=acme.owner)
