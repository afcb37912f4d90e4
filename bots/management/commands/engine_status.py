import time

from django.core.management.base import BaseCommand
from django.db.models import Count

from tenants.models import BotRun, ShardLease


class Command(BaseCommand):
    help = "Shards of the trading engine: who holds each lease, how many bots, how late their ticks are."

    def handle(self, *args, **options):
        now = time.time()
        bots = dict(BotRun.objects.values_list("shard").annotate(n=Count("id")).values_list("shard", "n"))
        self.stdout.write(f"{'shard':>5}  {'bots':>5}  {'lease':<12} {'lag p50':>8} {'lag p99':>8} {'ticks/s':>8}  owner")
        for lease in ShardLease.objects.order_by("shard"):
            if lease.expires_at > now:
                state = f"{lease.expires_at - now:4.0f} s left"
            else:
                state = "LAPSED" if bots.get(lease.shard) else "idle"
            reported = lease.reported_at > now - 60
            self.stdout.write(
                f"{lease.shard:>5}  {bots.get(lease.shard, 0):>5}  {state:<12} "
                f"{(f'{lease.lag_p50_ms:.0f} ms' if reported else '-'):>8} "
                f"{(f'{lease.lag_p99_ms:.0f} ms' if reported else '-'):>8} "
                f"{(f'{lease.ticks_per_second:.1f}' if reported else '-'):>8}  {lease.owner or '-'}"
            )
        unknown = sorted(set(bots) - set(ShardLease.objects.values_list("shard", flat=True)))
        for shard in unknown:
            self.stdout.write(f"{shard:>5}  {bots[shard]:>5}  NO LEASE ROW (run init_system)")
        self.stdout.write(f"{sum(bots.values())} bots registered on {len(bots)} shard(s).")
