"""Workspace provisioning time at a given number of existing workspaces.

    .venv/bin/python -m bench.provisioning [--levels 10,500] [--samples 30]

Runs on its own throwaway embedded PostgreSQL (var/bench-pgdata, recreated each run)
unless DATABASE_URL is set, then names a database it may fill. For each level it grows
the number of existing workspaces to that level, then times `samples` further
provisionings (`do_create_workspace`: schema cloned from the template, domain, owner
membership, audit record). The last line carries the figures, `p95_ms=` the worst p95.
"""

import argparse
import os
import shutil
import statistics
import time
from pathlib import Path

BENCH_PGDATA = Path(__file__).resolve().parent.parent / "var" / "bench-pgdata"


def setup_django():
    if not os.environ.get("DATABASE_URL"):
        from config import embedded_postgres

        embedded_postgres.stop(BENCH_PGDATA)
        shutil.rmtree(BENCH_PGDATA, ignore_errors=True)
        os.environ["AVIARY_PGDATA"] = str(BENCH_PGDATA)
        os.environ["AVIARY_PGDATA_THROWAWAY"] = "1"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


def percentile(values, pct):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", default="10,500", help="existing-workspace counts to measure at")
    parser.add_argument("--samples", type=int, default=30, help="timed provisionings per level")
    args = parser.parse_args()
    levels = sorted(int(level) for level in args.levels.split(","))

    setup_django()
    from django.core.management import call_command

    from accounts.models import User
    from tenants.actions import do_create_workspace
    from tenants.models import Tenant

    call_command("init_system", verbosity=0)
    owner = User.objects.create_user("bench-owner@example.com", "bench password 123")
    serial = iter(range(10**9))

    def provision() -> float:
        started = time.perf_counter()
        do_create_workspace(name=f"Bench {next(serial):06d}", owner=owner, actor=owner)
        return (time.perf_counter() - started) * 1000

    figures = {}
    for level in levels:
        existing = Tenant.objects.workspaces().count()
        for _ in range(max(level - existing, 0)):
            provision()
        timings = [provision() for _ in range(args.samples)]
        p50, p95 = percentile(timings, 50), percentile(timings, 95)
        print(
            f"at {level} existing workspaces: {args.samples} provisionings, "
            f"p50 {p50:.0f} ms, p95 {p95:.0f} ms, max {max(timings):.0f} ms, mean {statistics.mean(timings):.0f} ms",
            flush=True,
        )
        figures[f"tenants_{level}_p50_ms"] = round(p50, 1)
        figures[f"tenants_{level}_p95_ms"] = round(p95, 1)

    if not os.environ.get("DATABASE_URL"):
        from django.db import connections

        from config import embedded_postgres

        connections.close_all()
        embedded_postgres.stop(BENCH_PGDATA)
    figures["p95_ms"] = max(value for key, value in figures.items() if key.endswith("_p95_ms"))
    print(" ".join(f"{key}={value}" for key, value in figures.items()))


if __name__ == "__main__":
    main()
