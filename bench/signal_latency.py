"""How long a webhook signal takes to become an order on the paper exchange.

    .venv/bin/python -m bench.signal_latency --rate 100 --seconds 30

On its own throwaway embedded PostgreSQL (var/bench-pgdata), creates a workspace with
signal bots on a paper account (simulated feed) and starts them, then runs the
platform's web servers (WEB_PROCESSES daphnes on one socket, as `make run` does) next to a `qcluster` with the
engine ticking those bots, and posts TradingView-style JSON signals over HTTP at a
fixed rate (an open-loop schedule: a slow answer does not slow the sender down). Each
bot alternates `enter_long` / `exit_long`, so every signal is a market order.

Latency is measured from the moment a request was due to be sent to the moment its
answer arrived; the answer is only given once the paper exchange acknowledged (and
filled) the order and the signal was stored with its outcome. A signal whose answer is
not `accepted` with an order counts as an error. Bots are sized so that no bot exceeds
SIGNAL_RATE_PER_MINUTE. Targets: p50 under 15 ms, p99 under 50 ms.
"""

import argparse
import asyncio
import gc
import json
import os
import time
from collections import Counter
from decimal import Decimal

from bench.density import ROOT, cluster_rss_mb
from bench.platform import running_platform
from bench.provisioning import percentile, setup_django

WARMUP_SECONDS = 3


def create_signal_bots(count: int, workspaces: int) -> list[tuple[str, str, str]]:
    """Each bot's (workspace host, webhook path, secret); bots dealt round the workspaces,
    each workspace trading on its own paper account."""
    from accounts.models import User
    from billing.actions import do_change_plan
    from billing.models import Plan
    from bots.actions import do_create_bot, do_start_bot, webhook_credentials
    from exchanges.actions import do_create_connection
    from tenants.actions import do_create_workspace

    owner = User.objects.create_user("signals@example.com", "bench password 123")
    accounts = []
    for number in range(workspaces):
        tenant = do_create_workspace(name=f"Signal bench {number}", owner=owner, actor=owner)
        do_change_plan(tenant.subscription, plan=Plan.objects.get(key="premium"), actor=None)
        paper = do_create_connection(tenant, label="Paper", exchange="paper", actor=owner,
                                     starting_balance=Decimal("10000000"))
        accounts.append((tenant, paper, tenant.domains.get(is_primary=True).domain))
    hooks = []
    for number in range(count):
        tenant, paper, host = accounts[number % workspaces]
        bot = do_create_bot(tenant, name=f"signal {number}", connection=paper, strategy="signal",
                            symbols=["BTC/USDT"], params={"size_mode": "quote", "size": "20", "strong": "execute",
                                    "medium": "execute", "weak": "alert", "ignore": "drop"}, actor=owner)
        do_start_bot(tenant, bot, actor=owner)
        credentials = webhook_credentials(tenant, bot)
        hooks.append((host, f"/hooks/signal/{credentials['token']}/", credentials["secret"]))
    return hooks


async def wait_until_serving(port: int, host: str, deadline: float) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as session:
        while time.time() < deadline:
            try:
                async with session.get(f"http://127.0.0.1:{port}/", headers={"Host": host}) as response:
                    await response.read()
                    return
            except aiohttp.ClientError:
                await asyncio.sleep(0.2)
    raise SystemExit("the web server did not come up")


async def load(port: int, hooks: list[tuple[str, str, str]], rate: int, seconds: int):
    """Send rate * seconds signals on schedule; returns [(latency_ms, ok, detail)]."""
    import aiohttp

    connector = aiohttp.TCPConnector(limit=200)
    results: list[tuple[float, bool, str]] = []
    holding = [False] * len(hooks)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:

        async def send(number: int, due: float, measured: bool):
            bot = number % len(hooks)
            host, path, secret = hooks[bot]
            action = "exit_long" if holding[bot] else "enter_long"
            holding[bot] = not holding[bot]
            body = json.dumps({"secret": secret, "action": action, "signal_id": f"bench-{number}",
                               "timestamp": int(time.time()), "max_lag": 60})
            try:
                async with session.post(f"http://127.0.0.1:{port}{path}", data=body,
                                        headers={"Host": host, "Content-Type": "application/json"}) as response:
                    text = await response.text()
                    try:
                        answer = json.loads(text)
                    except ValueError:
                        answer = {"body": text[:200]}
                    ok = response.status == 200 and answer.get("status") == "accepted" and bool(answer.get("orders"))
                    why = answer.get("reason") or answer.get("error") or answer.get("body", "")
                    detail = "" if ok else f"{response.status} {answer.get('status', '')} {why}"
            except (aiohttp.ClientError, asyncio.TimeoutError) as failure:
                ok, detail = False, repr(failure)
            if measured:
                results.append(((time.perf_counter() - due) * 1000, ok, detail))

        tasks = []
        start = time.perf_counter()
        total = (WARMUP_SECONDS + seconds) * rate
        for number in range(total):
            due = start + number / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(send(number, due, measured=number >= WARMUP_SECONDS * rate)))
        await asyncio.gather(*tasks)
        sent_for = time.perf_counter() - start
    return results, total / sent_for


def main():
    from django.conf import settings

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=int, default=100, help="signals per second")
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--workspaces", type=int, default=10,
                        help="workspaces the bots are spread over, each with its own paper account")
    parser.add_argument("--web-processes", type=int, default=int(os.environ.get("WEB_PROCESSES", "2")),
                        help="daphne processes sharing the port, as `make run` starts them")
    args = parser.parse_args()

    setup_django()
    from django.core.management import call_command
    from django.db import connections

    call_command("init_system", verbosity=0)
    # Each bot stays at half its per-minute allowance.
    bots = max(1, -(-args.rate * 60 * 2 // settings.SIGNAL_RATE_PER_MINUTE))
    hooks = create_signal_bots(bots, min(args.workspaces, bots))
    connections.close_all()

    (ROOT / "var" / "bench-signal-web.log").unlink(missing_ok=True)
    (ROOT / "var" / "bench-signal-engine.log").unlink(missing_ok=True)
    with running_platform(args.web_processes, web_log="bench-signal-web.log", engine_log="bench-signal-engine.log",
                          engine_env={"Q_WORKERS": "2", "ENGINE_SHARDS": "1"}) as (port, webs):
        asyncio.run(wait_until_serving(port, hooks[0][0], time.time() + 60))
        # The sender's heap holds Django and the set-up: kept out of full collections,
        # whose pauses would stall every signal in flight and be measured as latency.
        gc.freeze()
        results, achieved = asyncio.run(load(port, hooks, args.rate, args.seconds))
        web_rss = sum(cluster_rss_mb(web) for web in webs)

    latencies = [latency for latency, ok, _detail in results]
    errors = [detail for _latency, ok, detail in results if not ok]
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    print(f"{args.web_processes} web processes; {len(results)} signals to {bots} bots in "
          f"{min(args.workspaces, bots)} workspaces at {achieved:.0f}/s sent "
          f"({args.rate}/s asked) after {WARMUP_SECONDS} s warm-up; {len(errors)} errors")
    for detail, count in Counter(errors).most_common(5):
        print(f"  {count} x {detail[:200]}")
    print(f"webhook POST -> paper order acknowledged: p50 {p50:.1f} ms, p90 {percentile(latencies, 90):.1f} ms, "
          f"p99 {p99:.1f} ms, max {max(latencies):.1f} ms; web server RSS {web_rss:.0f} MB")
    print(f"signals={len(results)} rate={args.rate} errors={len(errors)} p50_ms={p50:.1f} p99_ms={p99:.1f}")


if __name__ == "__main__":
    main()
