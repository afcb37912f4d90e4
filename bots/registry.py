"""The engine's run registry in the public schema (tenants.BotRun, tenants.ShardLease):
which bots to tick, on which shard, and who runs each shard."""

import time

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F

from tenants.models import BotRun, ShardLease

# A runner enqueued for a lapsed shard gets this long to claim it before another is sent.
ENQUEUE_GRACE = 30.0


def register(tenant, bot_id: int) -> BotRun:
    """Put a bot on a shard (the least loaded) and make sure someone runs that shard."""
    with transaction.atomic():
        ensure_leases()
        run = BotRun.objects.select_for_update().filter(tenant=tenant, bot_id=bot_id).first()
        if run is None:
            run = BotRun.objects.create(tenant=tenant, bot_id=bot_id, shard=shard_for(tenant))
        else:
            BotRun.objects.filter(pk=run.pk).update(version=F("version") + 1)
        _changed(run.shard)
    transaction.on_commit(lambda: ensure_runner(run.shard))
    return run


def touch(tenant, bot_id: int) -> None:
    """The bot's wishes changed (pause, stop, settings): runners reload it next tick."""
    run = BotRun.objects.filter(tenant=tenant, bot_id=bot_id)  # at most one (one_run_per_bot)
    shard = run.values_list("shard", flat=True).first()
    if shard is not None:
        run.update(version=F("version") + 1)
        _changed(shard)


def unregister(tenant, bot_id: int) -> None:
    run = BotRun.objects.filter(tenant=tenant, bot_id=bot_id)
    shard = run.values_list("shard", flat=True).first()
    if shard is not None:
        run.delete()
        _changed(shard)


def _changed(shard: int) -> None:
    ShardLease.objects.filter(shard=shard).update(registry_version=F("registry_version") + 1)


def shard_for(tenant) -> int:
    """The shard of the workspace's other bots, unless it is much busier than the
    average: a workspace's bots share paper accounts and database threads, and are best
    ticked by one runner. Otherwise the least loaded shard."""
    counts = dict(BotRun.objects.values_list("shard").annotate(n=Count("id")).values_list("shard", "n"))
    least = min(range(settings.ENGINE_SHARDS), key=lambda shard: (counts.get(shard, 0), shard))
    ours = BotRun.objects.filter(tenant=tenant, shard__lt=settings.ENGINE_SHARDS).values_list("shard").annotate(
        n=Count("id")).order_by("-n").first()
    if ours is not None:
        average = sum(counts.values()) / settings.ENGINE_SHARDS
        if counts.get(ours[0], 0) <= average * 1.25 + 50:
            return ours[0]
    return least


def ensure_leases() -> None:
    existing = set(ShardLease.objects.values_list("shard", flat=True))
    ShardLease.objects.bulk_create(
        [ShardLease(shard=shard) for shard in range(settings.ENGINE_SHARDS) if shard not in existing],
        ignore_conflicts=True,
    )


def ensure_runner(shard: int) -> bool:
    """Enqueue a runner for `shard` unless its lease is held or one was enqueued recently."""
    from django_q.tasks import async_task

    ensure_leases()
    now = time.time()
    claimed = ShardLease.objects.filter(shard=shard, expires_at__lt=now, enqueued_at__lt=now - ENQUEUE_GRACE).update(
        enqueued_at=now
    )
    if claimed:
        async_task("bots.engine.runner.run_shard", shard, task_name=f"engine shard {shard}", group="engine")
    return bool(claimed)


def revive_lapsed_shards() -> list[int]:
    """The schedule's backstop: every shard with bots whose lease lapsed gets a runner."""
    busy = set(BotRun.objects.values_list("shard", flat=True).distinct())
    return [shard for shard in sorted(busy) if ensure_runner(shard)]
