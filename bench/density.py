"""How many bots the engine ticks on this machine, how late, and at what memory.

    .venv/bin/python -m bench.density --bots 1000 --seconds 60

On its own throwaway embedded PostgreSQL (var/bench-pgdata), creates workspaces of 50
bots each (half grid, half DCA, on paper accounts with the simulated feed), starts
them, runs one real `qcluster` (ORM broker, ENGINE_SHARDS runners), waits for the
start-up burst of orders to settle, then measures for `--seconds`: tick lag (how late
each tick starts against its schedule, from the runners' reports), ticks per second,
and the resident memory of every process of the cluster. The last line carries the
figures; targets: p99 lag under 1 s with engine RSS under 1 GB.
"""

import argparse
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
BENCH_PGDATA = ROOT / "var" / "bench-pgdata"
BOTS_PER_WORKSPACE = 50
SYMBOLS = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "BNB/USDT", "XRP/USDT", "ADA/USDT", "DOGE/USDT", "LTC/USDT"]


def setup_django(shards: int):
    from bench.provisioning import setup_django as fresh_database

    os.environ["ENGINE_SHARDS"] = str(shards)
    fresh_database()


def create_bots(count: int) -> int:
    from accounts.models import User
    from billing.actions import do_change_plan
    from billing.models import Plan
    from bots.actions import do_create_bot, do_start_bot
    from exchanges import markets
    from exchanges.actions import do_create_connection
    from exchanges.adapters.paper import simulated_feed
    from tenants.actions import do_create_workspace

    owner = User.objects.create_user("density@example.com", "bench password 123")
    feed = simulated_feed()
    now = time.time()
    created = 0
    for workspace_number in range(-(-count // BOTS_PER_WORKSPACE)):
        tenant = do_create_workspace(name=f"Density {workspace_number:03d}", owner=owner, actor=owner)
        do_change_plan(tenant.subscription, plan=Plan.objects.get(key="premium"), actor=None)
        paper = do_create_connection(tenant, label="Paper", exchange="paper", actor=owner,
                                     starting_balance=Decimal("10000000"))
        for _ in range(min(BOTS_PER_WORKSPACE, count - created)):
            symbol = SYMBOLS[created % len(SYMBOLS)]
            price = feed.price(symbol, now)
            step = markets.market(symbol)["precision"]["amount"]
            if created % 2 == 0:
                amount = max(step, markets.amount_to_precision(symbol, Decimal("12") / price) + step)
                params = {"lower_price": str(price * Decimal("0.97")), "upper_price": str(price * Decimal("1.03")),
                          "grid_count": 10, "spacing": "geometric", "amount_per_level": str(amount),
                          "stop_out_of_range": False}
                strategy = "grid"
            else:
                params = {"base_order_size": "20", "safety_order_size": "20", "max_safety_orders": 3,
                          "price_deviation": "1", "safety_order_volume_scale": "1.5",
                          "safety_order_step_scale": "1.2", "take_profit": "1", "cooldown": 0}
                strategy = "dca"
            bot = do_create_bot(tenant, name=f"{strategy} {created}", connection=paper, strategy=strategy,
                                symbols=[symbol], params=params, actor=owner)
            do_start_bot(tenant, bot, actor=owner)
            created += 1
    return created


def spawn(*argv: str, log: str, env: dict | None = None, pass_fds=()) -> subprocess.Popen:
    """A platform process (`python <argv>`) in its own session, its stderr appended to var/<log>."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "LOG_LEVEL": "WARNING", "DEBUG": "0",
           **(env or {})}
    return subprocess.Popen([sys.executable, *argv], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=open(ROOT / "var" / log, "a"), start_new_session=True, pass_fds=pass_fds)


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def start_cluster(workers: int, shards: int) -> subprocess.Popen:
    (ROOT / "var" / "bench-density.log").unlink(missing_ok=True)
    return spawn("manage.py", "qcluster", log="bench-density.log",
                 env={"Q_WORKERS": str(workers), "ENGINE_SHARDS": str(shards), "ENGINE_TICK_SECONDS": "1"})


def cluster_rss_mb(cluster: subprocess.Popen) -> float:
    try:
        root = psutil.Process(cluster.pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total / 2**20


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bots", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--shards", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=600,
                        help="at most this many seconds for the start-up burst (every bot placing its first "
                             "orders) to settle before measuring")
    args = parser.parse_args()

    setup_django(args.shards)
    from django.core.management import call_command
    from django.db import connections

    from tenants.models import ShardLease

    call_command("init_system", verbosity=0)
    started = time.time()
    count = create_bots(args.bots)
    print(f"created and started {count} bots in {time.time() - started:.0f} s", flush=True)
    connections.close_all()

    cluster = start_cluster(workers=args.shards + 1, shards=args.shards)
    try:
        deadline = time.time() + args.warmup
        calm = 0
        while time.time() < deadline and calm < 3:
            time.sleep(2)
            fresh = [(bots, lag) for bots, lag, at in
                     ShardLease.objects.values_list("bots", "lag_p99_ms", "reported_at") if at > time.time() - 6]
            running = sum(bots for bots, _lag in fresh)
            # Settled: every bot on a runner, and three polls in a row without a late window.
            calm = calm + 1 if running == count and all(lag < 1000 for _b, lag in fresh) else 0
            print(f"  warm-up: {running}/{count} bots running, p99 {[round(lag) for _b, lag in fresh]} ms", flush=True)
        histogram_before = histograms()
        samples, seen, rss = [], set(), []
        end = time.time() + args.seconds
        while time.time() < end:
            time.sleep(1)
            rss.append(cluster_rss_mb(cluster))
            for shard, p50, p99, tps, at in ShardLease.objects.values_list(
                "shard", "lag_p50_ms", "lag_p99_ms", "ticks_per_second", "reported_at"
            ):
                if (shard, at) not in seen and at > end - args.seconds:
                    seen.add((shard, at))
                    samples.append((shard, p50, p99, tps))
        bots_running = sum(ShardLease.objects.values_list("bots", flat=True))
        time.sleep(6)  # the last report
        lags = subtract(histograms(), histogram_before)
    finally:
        stop(cluster)
        from config import embedded_postgres
        from bench.provisioning import BENCH_PGDATA as PGDATA

        connections.close_all()
        embedded_postgres.stop(PGDATA)

    windows = len(samples)
    total = sum(lags.values())
    p50, p99 = percentile_bound(lags, 0.50), percentile_bound(lags, 0.99)
    worst_window = max((s[2] for s in samples), default=float("nan"))
    ticks = total / (args.seconds + 6)
    print(f"{bots_running} bots on {args.shards} shards: {total} ticks in {args.seconds + 6} s")
    print("tick lag histogram (ms upper bound: ticks): " + ", ".join(f"{b}: {n}" for b, n in sorted(
        lags.items(), key=lambda item: float(item[0]))))
    print(f"tick lag p50 <= {p50} ms, p99 <= {p99} ms (worst 5 s window's p99: {worst_window:.0f} ms); "
          f"{ticks:.0f} ticks/s; engine RSS peak {max(rss):.0f} MB")
    print(f"bots={bots_running} seconds={args.seconds} p50_lag_ms={p50} p99_lag_ms={p99} "
          f"worst_window_p99_ms={worst_window:.0f} ticks_per_s={ticks:.0f} engine_rss_mb={max(rss):.0f}")


def histograms() -> dict[str, int]:
    from tenants.models import ShardLease

    total: dict[str, int] = {}
    for histogram in ShardLease.objects.values_list("lag_histogram", flat=True):
        for bound, count in (histogram or {}).items():
            total[bound] = total.get(bound, 0) + count
    return total


def subtract(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {bound: count - before.get(bound, 0) for bound, count in after.items() if count - before.get(bound, 0)}


def percentile_bound(histogram: dict[str, int], fraction: float) -> float:
    """The bucket bound (ms) below which `fraction` of the ticks started."""
    total, running = sum(histogram.values()), 0
    for bound, count in sorted(histogram.items(), key=lambda item: float(item[0])):
        running += count
        if running >= fraction * total:
            return float(bound)
    return float("nan")


if __name__ == "__main__":
    main()
