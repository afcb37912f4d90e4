"""How long a fill takes from the engine to the bot's page in a real browser, and how
long the dashboard of a busy workspace takes to load.

    .venv/bin/python -m bench.live_latency --fills 100 --bots 50

On its own throwaway embedded PostgreSQL (var/bench-pgdata), creates one workspace with
`--bots` running grid bots: `--watched` of them on a paper account replaying imported
one-second candles that swing ±0.45 % every four seconds through levels 0.3 % apart
(so each fills a few times in a swing), the rest on the simulated feed with wide ranges
(a grid's step must pay a round trip's fees, so the calm simulated feed fills it too
rarely to time). It runs the
platform as `make run` does (WEB_PROCESSES daphnes on one socket, one qcluster with the
engine) and Debian's chromium (headless, through Playwright) logged in as the owner.

Dashboard: the first load and the median of five more, to the load event.

Fills: one tab per watched bot on its detail page. A MutationObserver in each tab notes
when each event row (`data-event`) first appears; the engine writes an `order_filled`
event in the same transaction as the fill, with its time. Latency = first seen in the
DOM - the event's time, for the first `--fills` fills after the tabs connected: the
engine's push, the channel layer, the consumer's render, the websocket and htmx's swap.
Both clocks are this machine's. Target: p95 under 100 ms.
"""

import argparse
import math
import os
import statistics
import time
from decimal import Decimal

from bench.density import ROOT, spawn
from bench.platform import running_platform
from bench.provisioning import percentile, setup_django

PASSWORD = "bench password 123"
SYMBOLS = ["ETH/USDT", "SOL/USDT", "BTC/USDT", "BNB/USDT"]
SWING = Decimal("0.0045")  # of the price, either way
SWING_SECONDS = 4
GRID_STEP = Decimal("0.003")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--host-resolver-rules=MAP *.localhost 127.0.0.1, MAP localhost 127.0.0.1"]
# Runs in every tab before the page's own scripts.
OBSERVER = """
window.__seen = {};
window.__sockets = 0;
document.addEventListener("htmx:wsOpen", () => { window.__sockets += 1; });
new MutationObserver((mutations) => {
  const now = performance.timeOrigin + performance.now();
  for (const mutation of mutations) {
    for (const node of mutation.addedNodes) {
      if (node.nodeType !== 1) continue;
      const rows = node.matches("[data-event]") ? [node] : node.querySelectorAll("[data-event]");
      for (const row of rows) {
        if (!(row.dataset.event in window.__seen)) window.__seen[row.dataset.event] = now;
      }
    }
  }
}).observe(document, { childList: true, subtree: true });
"""


def create_workspace(bots: int, watched: int):
    from accounts.models import User
    from billing.actions import do_change_plan
    from billing.models import Plan
    from bots.actions import do_create_bot, do_start_bot
    from exchanges import markets
    from exchanges.actions import do_create_connection, do_import_ohlcv
    from exchanges.adapters.paper import simulated_feed
    from tenants.actions import do_create_workspace

    owner = User.objects.create_user("live@example.com", PASSWORD)
    tenant = do_create_workspace(name="Live bench", owner=owner, actor=owner)
    do_change_plan(tenant.subscription, plan=Plan.objects.get(key="premium"), actor=None)
    feed = simulated_feed()
    prices = {symbol: markets.price_to_precision(symbol, feed.price(symbol, time.time())) for symbol in SYMBOLS}
    for symbol, price in prices.items():
        do_import_ohlcv(tenant, dataset="swing", symbol=symbol, timeframe_seconds=1, rows=swing(price), actor=owner)
    paper = do_create_connection(tenant, label="Paper", exchange="paper", actor=owner,
                                 starting_balance=Decimal("100000000"))
    swinging = do_create_connection(tenant, label="Swinging paper", exchange="paper", actor=owner,
                                    starting_balance=Decimal("100000000"), market_data="replay",
                                    replay_dataset="swing")
    watched_bots = []
    for number in range(bots):
        tight = number < watched
        symbol = SYMBOLS[number % len(SYMBOLS)]
        price = prices[symbol]
        step = markets.market(symbol)["precision"]["amount"]
        amount = max(step, markets.amount_to_precision(symbol, Decimal("12") / price) + step)
        half_range, levels = (GRID_STEP * 2, 5) if tight else (Decimal("0.05"), 10)
        params = {"lower_price": str(price * (1 - half_range)), "upper_price": str(price * (1 + half_range)),
                  "grid_count": levels, "spacing": "arithmetic", "amount_per_level": str(amount),
                  "stop_out_of_range": False}
        bot = do_create_bot(tenant, name=f"{'Watched' if tight else 'Grid'} {number + 1} {symbol}",
                            connection=swinging if tight else paper, strategy="grid", symbols=[symbol],
                            params=params, actor=owner)
        do_start_bot(tenant, bot, actor=owner)
        if tight:
            watched_bots.append(bot.pk)
    return tenant, tenant.domains.get(is_primary=True).domain, watched_bots


def swing(price: Decimal) -> list[list]:
    """An hour of one-second candles around `price`, a sine of SWING every SWING_SECONDS."""
    rows, previous = [], price
    for second in range(3600):
        close = price * (1 + SWING * Decimal(repr(round(math.sin(2 * math.pi * (second + 1) / SWING_SECONDS), 6))))
        rows.append([second * 1000, previous, max(previous, close), min(previous, close), close, Decimal("1")])
        previous = close
    return rows


def filled_events(tenant, bot_ids, after_id: int):
    from django_tenants.utils import schema_context

    from bots.models import BotEvent

    with schema_context(tenant.schema_name):
        return list(BotEvent.objects.filter(bot_id__in=bot_ids, kind=BotEvent.Kind.ORDER_FILLED, id__gt=after_id)
                    .order_by("id").values_list("id", "created_at"))


def last_event_id(tenant) -> int:
    from django_tenants.utils import schema_context

    from bots.models import BotEvent

    with schema_context(tenant.schema_name):
        return BotEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def wait_until(condition, seconds: float, what: str):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise SystemExit(f"gave up waiting: {what}")


def measure_dashboard(page, url: str, loads: int) -> list[float]:
    """Navigation start to the load event, in ms, for each of `loads` fresh loads."""
    timings = []
    for _ in range(loads):
        page.goto(url, wait_until="load")
        timings.append(page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd"))
    return timings


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fills", type=int, default=100)
    parser.add_argument("--bots", type=int, default=50, help="bots in the workspace (the dashboard shows them all)")
    parser.add_argument("--watched", type=int, default=1, help="tight grid bots, each watched in its own tab")
    parser.add_argument("--timeout", type=int, default=600, help="seconds to wait for the fills")
    parser.add_argument("--web-processes", type=int, default=int(os.environ.get("WEB_PROCESSES", "2")))
    args = parser.parse_args()

    # Playwright's sync API keeps an event loop on this thread; the bench's own
    # queries are plain blocking reads, between browser calls.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    setup_django()
    (ROOT / "var" / "bench-live-web.log").unlink(missing_ok=True)
    from django.core.management import call_command
    from django.db import connections
    from playwright.sync_api import sync_playwright

    call_command("init_system", verbosity=0)
    # As DEBUG=0 web processes want them: hashed names and a manifest.
    if spawn("manage.py", "collectstatic", "--noinput", log="bench-live-web.log").wait() != 0:
        raise SystemExit("collectstatic failed, see var/bench-live-web.log")
    tenant, host, watched = create_workspace(args.bots, args.watched)
    connections.close_all()

    (ROOT / "var" / "bench-live-engine.log").unlink(missing_ok=True)
    with running_platform(args.web_processes, web_log="bench-live-web.log", engine_log="bench-live-engine.log",
                          engine_env={"Q_WORKERS": "2"}) as (port, _webs), sync_playwright() as playwright:
        base = f"http://{host}:{port}"
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.add_init_script(OBSERVER)
        page = context.new_page()
        wait_until(lambda: _serves(page, f"{base}/accounts/login/"), 60, "the web server")
        page.fill("input[name=login]", "live@example.com")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/**")
        # The bots' opening orders settle before anything is timed.
        wait_until(lambda: len(filled_events(tenant, watched, 0)) >= len(watched), 120, "the bots' first fills")
        dashboard = measure_dashboard(page, f"{base}/", 6)

        tabs = []
        for bot_id in watched:
            tab = context.new_page()
            tab.goto(f"{base}/bots/{bot_id}/", wait_until="load")
            tabs.append(tab)
        wait_until(lambda: all(tab.evaluate("window.__sockets") >= 1 for tab in tabs), 30, "the websockets")
        baseline = last_event_id(tenant)
        started = time.time()
        wait_until(lambda: len(filled_events(tenant, watched, baseline)) >= args.fills, args.timeout,
                   f"{args.fills} fills")
        fills = filled_events(tenant, watched, baseline)[: args.fills]
        time.sleep(3)  # the last pushes land
        seen = {}
        for tab in tabs:
            seen.update(tab.evaluate("window.__seen"))
        fill_seconds = time.time() - started
        browser.close()

    latencies = [seen[str(event_id)] - created_at.timestamp() * 1000 for event_id, created_at in fills
                 if str(event_id) in seen]
    missed = len(fills) - len(latencies)
    p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
    first, rest = dashboard[0], statistics.median(dashboard[1:])
    print(f"{args.bots} running bots, {len(watched)} watched in their own tabs; {args.web_processes} web processes")
    print(f"dashboard load (navigation to load event): first {first:.0f} ms, then median {rest:.0f} ms")
    print(f"{len(fills)} fills in {fill_seconds:.0f} s; engine -> DOM: p50 {p50:.1f} ms, p95 {p95:.1f} ms, "
          f"max {max(latencies):.1f} ms; {missed} never shown")
    print(f"fills={len(fills)} missed={missed} p50_ms={p50:.1f} p95_ms={p95:.1f} "
          f"dashboard_first_ms={first:.0f} dashboard_ms={rest:.0f} bots={args.bots}")


def _serves(page, url: str) -> bool:
    try:
        return page.goto(url).ok
    except Exception:  # noqa: BLE001 - not up yet
        return False


if __name__ == "__main__":
    main()
