"""Shard runners: django-q2 tasks that tick bots.

A runner claims a shard's lease and ticks every bot of that shard on one asyncio loop,
one market-data read per (source, symbol) per tick. It renews its leases, and takes
over shards whose lease lapsed (a runner died), so bots resume elsewhere without
waiting for a free worker. Shortly before the q2 timeout it flushes, releases its
leases and enqueues a fresh runner per shard. The `engine revive` schedule enqueues a
runner for any shard with bots and no live lease, should no runner be left at all.
"""

import asyncio
import functools
import gc
import logging
import os
import socket
import time
import uuid
from statistics import quantiles

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connections
from django.db.models import F

from bots import live, registry
from bots.engine import store
from bots.engine.database import SchemaThreads
from bots.engine.market import MarketReader, source_key
from bots.engine.slot import BotSlot
from exchanges.adapters import adapter_for
from exchanges.markets import MARKETS
from exchanges.models import PaperAccount
from tenants.models import BotRun, ShardLease, Tenant

logger = logging.getLogger(__name__)
db = sync_to_async

FLUSH_EVERY = 5.0  # seconds between writing last-tick times and chart points
LAG_BUCKETS_MS = (5, 10, 25, 50, 100, 250, 500, 750, 1000, 2500, 5000, 10000, float("inf"))
PUSH_EVERY = 1.0  # seconds between status pushes of one workspace, unless a bot has news
# The registry is read before any tick starts, so a pause or new settings reach the
# bot's next tick; with no tick due (a wakeup from a finished one) it is read at most
# this often, which is how new bots are found.
REGISTRY_EVERY = 0.25
# Ticks waiting on a database thread or an exchange cost nothing but a task; the bound
# only keeps a runner from opening unlimited requests at once.
CONCURRENT_TICKS = 64


def run_shard(shard: int) -> str:
    """The q2 task: run `shard` (and any lapsed ones) until handover time."""
    # What the worker has loaded (Django, the apps) lives as long as it: kept out of the
    # collector's full passes, which would otherwise stall every tick for tens of ms.
    gc.freeze()
    runner = ShardRunner(shard)
    try:
        return asyncio.run(runner.run())
    finally:
        connections.close_all()


def revive() -> list[int]:
    """The q2 schedule: a runner for every shard with bots and no live lease."""
    return registry.revive_lapsed_shards()


class ShardRunner:
    def __init__(self, shard: int, *, run_seconds: float | None = None, tick_seconds: float | None = None,
                 lease_seconds: float | None = None):
        self.first_shard = shard
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.run_seconds = run_seconds if run_seconds is not None else settings.ENGINE_RUN_SECONDS
        self.tick_seconds = tick_seconds if tick_seconds is not None else settings.ENGINE_TICK_SECONDS
        self.lease_seconds = lease_seconds if lease_seconds is not None else settings.ENGINE_LEASE_SECONDS
        self.held: dict[int, store.Lease] = {}
        self.slots: dict[tuple[int, int], BotSlot] = {}
        self.tenants: dict[int, Tenant] = {}
        self.adapters: dict[tuple, object] = {}
        self.sources: dict[tuple, tuple] = {}
        self.market_info: dict[tuple, dict] = {}
        self.market = MarketReader()
        self.database = SchemaThreads()
        # Per shard: a runner may hold several, and each shard's lease reports its own.
        self.lags: dict[int, list[float]] = {}
        self.reported_at: dict[int, float] = {}
        self.histograms: dict[int, dict[str, int]] = {}
        self.background: dict[str, asyncio.Task] = {}
        self.wakeup = asyncio.Event()
        self.ticks = 0
        self.changed_slots: set[BotSlot] = set()
        # Bots with news (orders, fills, errors) since the last push: their own page hears too.
        self.eventful_slots: set[BotSlot] = set()
        self.stop_requested = False
        self.concurrency = asyncio.Semaphore(CONCURRENT_TICKS)
        self.inflight: dict[BotSlot, asyncio.Task] = {}
        self.load_retry: dict[tuple, float] = {}
        self.registry_versions: dict[int, int] = {}
        self.load_attempts: dict[tuple, int] = {}

    # --- the loop --------------------------------------------------------------------------------

    async def run(self) -> str:
        started = time.time()
        deadline = started + self.run_seconds
        await db(registry.ensure_leases)()
        if not await db(self._claim)(self.first_shard):
            return f"shard {self.first_shard} is held by another runner"
        next_lease_work = 0.0
        next_flush = time.time() + FLUSH_EVERY
        next_push = time.time() + PUSH_EVERY
        next_registry = 0.0
        handed_over = False
        try:
            while not self.stop_requested:
                now = time.time()
                if now >= deadline:
                    handed_over = True
                    break
                if now >= next_lease_work:
                    await db(self._renew_and_adopt)()
                    next_lease_work = now + self.lease_seconds / 3
                if not self.held:
                    break
                if time.time() >= next_registry or self._due(time.time()):
                    await self._refresh_registry()
                    next_registry = time.time() + REGISTRY_EVERY
                await self._tick_due(time.time())
                # Writing out runs beside the ticks, never in their way.
                # A bot with new fills, orders or events is pushed at once (its page shows
                # them); plain status changes wait for the next second's batch.
                if (time.time() >= next_push or self.eventful_slots) and self._idle("push"):
                    self.background["push"] = asyncio.create_task(self._push())
                    next_push = time.time() + PUSH_EVERY
                if time.time() >= next_flush and self._idle("flush"):
                    self.background["flush"] = asyncio.create_task(self._flush())
                    next_flush = time.time() + FLUSH_EVERY
                upcoming = min((slot.next_tick for slot in self.slots.values() if slot not in self.inflight),
                               default=time.time() + self.tick_seconds)
                upcoming = min(upcoming, time.time() + self.tick_seconds, next_lease_work,
                               max(next_registry, time.time()))
                # Sleep until the next tick is due, or until a tick in flight finishes: its
                # next one may come sooner than anything known now.
                self.wakeup.clear()
                try:
                    await asyncio.wait_for(self.wakeup.wait(), timeout=max(0.0, upcoming - time.time()))
                except TimeoutError:
                    pass
        finally:
            pending = [*self.inflight.values(), *self.background.values()]
            if pending:
                await asyncio.wait(pending, timeout=30)
            await self._flush()
            await self._push()
            shards = list(self.held)
            await db(self._release)()
            if handed_over:
                for shard in shards:
                    await db(self._hand_over)(shard)
            await self._close()
            await self.database.close()
            # The runner's own (public schema) work ran on asgiref's thread: close it there.
            await db(connections.close_all)()
        return f"ran shards {shards} for {time.time() - started:.0f} s, {self.ticks} ticks"

    async def _tick_due(self, now: float) -> None:
        """Start the ticks that are due. Each runs as its own task: a bot waiting on a slow
        exchange holds up nobody else, and is not due again until its tick is done."""
        self.inflight = {slot: task for slot, task in self.inflight.items() if not task.done()}
        due = self._due(now)
        if not due:
            return
        wanted: dict[tuple, set[str]] = {}
        for slot in due:
            wanted.setdefault(slot.source, set()).update(slot.bot.symbols)
        quotes = await self.market.read(wanted, now)
        for slot in due:
            self.inflight[slot] = asyncio.create_task(self._tick_one(slot, quotes, now))
        await asyncio.sleep(0)  # let them start
        for key in [key for key, slot in self.slots.items() if slot.gone]:
            del self.slots[key]

    def _due(self, now: float) -> list[BotSlot]:
        return [slot for slot in self.slots.values()
                if slot.next_tick <= now and not slot.gone and not self._ticking(slot)]

    def _idle(self, job: str) -> bool:
        task = self.background.get(job)
        return task is None or task.done()

    async def _tick_one(self, slot: BotSlot, quotes, now: float) -> None:
        """Bots tick concurrently, so one slow exchange does not hold up the others; their
        database work still runs one call at a time on the executor thread."""
        async with self.concurrency:
            scheduled = slot.next_tick or now
            started = time.time()
            self.lags.setdefault(slot.shard, []).append(max(0.0, started - scheduled))
            try:
                await slot.tick(quotes, started)
            except store.LeaseLost:
                logger.warning("lost the lease of shard %s", slot.shard)
                self._drop_shard(slot.shard)
                return
            except Exception:  # noqa: BLE001 - one bot's bug must not stop the others
                logger.exception("tick of bot %s failed", slot.bot_id)
            self.ticks += 1
            self.changed_slots.add(slot)
            # Keep the cadence. A tick that started a whole period late starts a new
            # cadence instead of catching up; a tick that ran long makes the next one
            # late, and its lag shows it.
            late = started - scheduled >= self.tick_seconds
            slot.next_tick = (started if late else scheduled) + self.tick_seconds
            self.wakeup.set()

    # --- leases -------------------------------------------------------------------------------

    def _claim(self, shard: int) -> bool:
        now = time.time()
        # A new owner reports its own figures, not those of the runner before it.
        claimed = ShardLease.objects.filter(shard=shard).filter(expires_at__lt=now).update(
            owner=self.owner, generation=F("generation") + 1, expires_at=now + self.lease_seconds, claimed_at=now,
            lag_p50_ms=0, lag_p99_ms=0, ticks_per_second=0, lag_histogram={},
        ) or ShardLease.objects.filter(shard=shard, owner=self.owner).update(expires_at=now + self.lease_seconds)
        if claimed:
            generation = ShardLease.objects.values_list("generation", flat=True).get(shard=shard)
            self.held[shard] = store.Lease(shard, self.owner, generation)
            self.reported_at.setdefault(shard, now)
            logger.info("%s claimed shard %s (generation %s)", self.owner, shard, generation)
        return bool(claimed)

    def _renew_and_adopt(self) -> None:
        now = time.time()
        for shard, lease in list(self.held.items()):
            renewed = ShardLease.objects.filter(shard=shard, owner=self.owner, generation=lease.generation).update(
                expires_at=now + self.lease_seconds, bots=self._count(shard), reported_at=now, **self._report(shard)
            )
            if not renewed:
                logger.warning("%s lost shard %s", self.owner, shard)
                self._drop_shard(shard)
        if len(self.held) >= settings.ENGINE_MAX_SHARDS_PER_RUNNER:
            return
        busy = set(BotRun.objects.values_list("shard", flat=True).distinct())
        # A shard that was just handed over, or first started, has a runner on its way:
        # leave it to that one, so shards spread over runners instead of piling up here.
        lapsed = ShardLease.objects.filter(shard__in=busy - set(self.held), expires_at__lt=now,
                                           enqueued_at__lt=now - registry.ENQUEUE_GRACE)
        for shard in lapsed.values_list("shard", flat=True):
            if len(self.held) < settings.ENGINE_MAX_SHARDS_PER_RUNNER:
                self._claim(shard)

    def _count(self, shard: int) -> int:
        return sum(1 for slot in self.slots.values() if slot.shard == shard)

    def _report(self, shard: int) -> dict:
        """A shard's tick lag percentiles and tick rate since its last report, and the
        histogram of every tick's lag since this runner claimed it."""
        now = time.time()
        lags = self.lags.pop(shard, [])
        elapsed, self.reported_at[shard] = now - self.reported_at[shard], now
        histogram = self.histograms.setdefault(shard, {})
        for lag in lags:
            bound = next(b for b in LAG_BUCKETS_MS if lag * 1000 <= b)
            histogram[str(bound)] = histogram.get(str(bound), 0) + 1
        report = {"lag_histogram": dict(histogram)}
        if len(lags) >= 2:
            cuts = quantiles(lags, n=100)
            report.update(lag_p50_ms=cuts[49] * 1000, lag_p99_ms=cuts[98] * 1000,
                          ticks_per_second=len(lags) / elapsed)
        return report

    def _drop_shard(self, shard: int) -> None:
        self.held.pop(shard, None)
        for figures in (self.lags, self.reported_at, self.histograms):
            figures.pop(shard, None)
        for key in [key for key, slot in self.slots.items() if slot.shard == shard]:
            del self.slots[key]

    def _release(self) -> None:
        for shard, lease in self.held.items():
            ShardLease.objects.filter(shard=shard, owner=self.owner, generation=lease.generation).update(
                expires_at=0, owner=""
            )
        self.held.clear()

    @staticmethod
    def _hand_over(shard: int) -> None:
        from django_q.tasks import async_task

        ShardLease.objects.filter(shard=shard).update(enqueued_at=time.time())
        async_task("bots.engine.runner.run_shard", shard, task_name=f"engine shard {shard}", group="engine")

    def lease(self, shard: int) -> store.Lease:
        lease = self.held.get(shard)
        if lease is None:
            raise store.LeaseLost(f"shard {shard} is not held")
        return lease

    # --- the registry and the bots ---------------------------------------------------------------

    async def _refresh_registry(self) -> None:
        versions = await db(self._registry_versions)()
        if versions == self.registry_versions and not self.load_retry:
            return
        self.registry_versions = versions
        rows = await db(self._registry_rows)()
        seen = set()
        for tenant_id, schema, bot_id, shard, version in rows:
            key = (tenant_id, bot_id)
            seen.add(key)
            slot = self.slots.get(key)
            if slot is None:
                if self.load_retry.get(key, 0) > time.time():
                    continue
                slot = BotSlot(self, tenant_id=tenant_id, schema=schema, bot_id=bot_id, shard=shard, version=version)
                if await self._load(key, slot):
                    slot.next_tick = time.time()
                    self.slots[key] = slot
            elif slot.version != version and not self._ticking(slot):
                slot.version = version
                await self._load(key, slot)
                self.changed_slots.add(slot)
        for key in set(self.slots) - seen:
            del self.slots[key]

    async def _load(self, key, slot: BotSlot) -> bool:
        """Load a bot; when its exchange cannot be reached yet, try again later."""
        try:
            loaded = await slot.load()
        except Exception as problem:  # noqa: BLE001 - one bot's trouble must not stop the runner
            attempts = self.load_attempts.get(key, 0) + 1
            self.load_attempts[key] = attempts
            self.load_retry[key] = time.time() + min(settings.ENGINE_MAX_BACKOFF_SECONDS, 2**attempts)
            logger.warning("bot %s cannot be loaded (%s); retrying", slot.bot_id, problem)
            self.slots.pop(key, None)
            return False
        self.load_attempts.pop(key, None)
        self.load_retry.pop(key, None)
        return loaded

    def _ticking(self, slot: BotSlot) -> bool:
        task = self.inflight.get(slot)
        return task is not None and not task.done()

    def _registry_versions(self) -> dict[int, int]:
        # Read before every batch of due ticks, so several times a second: plain SQL, not
        # a queryset compiled each time.
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT shard, registry_version FROM public.tenants_shardlease WHERE shard = ANY(%s)",
                           [list(self.held)])
            return dict(cursor.fetchall())

    def _registry_rows(self):
        rows = list(
            BotRun.objects.filter(shard__in=list(self.held))
            .values_list("tenant_id", "tenant__schema_name", "bot_id", "shard", "version")
        )
        missing = {row[0] for row in rows} - set(self.tenants)
        self.tenants.update(Tenant.objects.in_bulk(missing))
        return rows

    def tenant(self, tenant_id: int) -> Tenant:
        """Loaded with the registry rows, so asking never touches the database."""
        return self.tenants[tenant_id]

    async def connection_parts(self, schema: str, bot):
        """(adapter, market-data source, markets) of a bot's connection, shared by its bots."""
        connection = bot.connection
        key = (schema, connection.pk)
        if key not in self.adapters:
            options = {"run_sync": functools.partial(self.database.run, schema)} if connection.is_paper else {}
            self.adapters[key] = adapter_for(connection, schema, **options)
        if key not in self.sources:
            epoch = await self.database.run(schema, self._paper_epoch, schema, connection.pk) if connection.is_paper else None
            self.sources[key] = source_key(connection, schema, epoch)
        if key not in self.market_info:
            self.market_info[key] = MARKETS if connection.is_paper else await self.adapters[key].load_markets()
        known = self.market_info[key]
        return self.adapters[key], self.sources[key], {s: known[s] for s in bot.symbols if s in known}

    @staticmethod
    def _paper_epoch(schema, connection_id):
        from django_tenants.utils import schema_context

        with schema_context(schema):
            return PaperAccount.objects.values_list("epoch", flat=True).filter(connection_id=connection_id).first()

    def changed(self, slot: BotSlot, *, event: bool = False) -> None:
        self.changed_slots.add(slot)
        if event:
            self.eventful_slots.add(slot)

    # --- writing out ------------------------------------------------------------------------------

    async def _flush(self) -> None:
        by_schema: dict[str, tuple[dict, list]] = {}
        for slot in self.slots.values():
            if slot.bot is None or slot.bot.last_tick_at is None:
                continue
            beats, points = by_schema.setdefault(slot.schema, ({}, []))
            beats[slot.bot_id] = (slot.bot.last_tick_at, slot.bot.last_price)
            points += slot.points
            slot.points = []
        for schema, (beats, points) in by_schema.items():
            try:
                await self.database.run(schema, store.heartbeat, schema, beats, points)
            except Exception:  # noqa: BLE001 - bots deleted meanwhile and the like
                logger.exception("heartbeat of %s failed", schema)

    async def _push(self) -> None:
        """One message per workspace with the status of its bots that ticked, and one
        per bot that had news, to that bot's own group."""
        by_schema: dict[str, list[dict]] = {}
        for slot in self.changed_slots:
            if slot.bot is not None:
                by_schema.setdefault(slot.schema, []).append(slot.status())
        eventful = {(slot.schema, slot.bot_id) for slot in self.eventful_slots}
        self.changed_slots, self.eventful_slots = set(), set()
        for schema, statuses in by_schema.items():
            try:
                await live.apush(schema, statuses, to_bots={s["id"] for s in statuses if (schema, s["id"]) in eventful})
            except Exception:  # noqa: BLE001 - live updates are best effort
                logger.warning("push to %s failed", schema, exc_info=True)

    async def _close(self) -> None:
        for adapter in self.adapters.values():
            try:
                await adapter.close()
            except Exception:  # noqa: BLE001
                logger.warning("closing an adapter failed", exc_info=True)
        await self.market.close()
