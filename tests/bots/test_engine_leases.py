"""Shard leases: one runner per shard, takeover of lapsed shards, fenced writes, handover."""

import time

import pytest
from django.db.models import F
from django_q.models import OrmQ
from django_tenants.utils import schema_context

from bots.actions import do_create_bot, do_start_bot
from bots.engine import store
from bots.engine.runner import ShardRunner
from bots.models import Bot, Order
from exchanges.actions import do_create_connection
from tenants.models import BotRun, ShardLease
from tests.bots.conftest import GRID
from tests.bots.engine import RunnerThread, wait_for

pytestmark = pytest.mark.usefixtures("transactional_db")


def last_tick(acme, bot):
    with schema_context(acme.tenant.schema_name):
        return Bot.objects.get(pk=bot.pk).last_tick_at


def test_a_held_shard_cannot_be_claimed_by_a_second_runner(acme, market, make_bot):
    do_start_bot(acme.tenant, make_bot(), actor=acme.owner)
    with RunnerThread():
        wait_for(lambda: ShardLease.objects.filter(shard=0, expires_at__gt=time.time()).exists())
        second = RunnerThread()
        with second:
            wait_for(lambda: second.result is not None or not second.thread.is_alive())
        assert second.result == "shard 0 is held by another runner"


def test_a_running_runner_takes_over_a_shard_whose_lease_lapsed(acme, globex, market, make_bot, settings):
    settings.ENGINE_SHARDS = 2
    first = do_start_bot(acme.tenant, make_bot(name="one"), actor=acme.owner)
    globex_paper = do_create_connection(globex.tenant, label="Paper", exchange="paper", actor=globex.owner)
    second = do_start_bot(globex.tenant, do_create_bot(globex.tenant, name="two", connection=globex_paper,
                                                       strategy="grid", symbols=["BTC/USDT"], params=GRID,
                                                       actor=globex.owner), actor=globex.owner)
    # A workspace's bots share a shard; another workspace's go to the least loaded one.
    assert sorted(BotRun.objects.values_list("shard", flat=True)) == [0, 1]
    # A runner died holding shard 1: its lease still looks taken, for a moment.
    ShardLease.objects.filter(shard=1).update(owner="dead:1:x", generation=7, expires_at=time.time() + 1, enqueued_at=0)
    with RunnerThread(shard=0, lease=1.5):
        wait_for(lambda: last_tick(acme, first) and last_tick(globex, second), timeout=10)
    assert ShardLease.objects.get(shard=1).generation == 8


def test_a_runner_holding_two_shards_reports_each_shards_own_ticks(acme, globex, market, make_bot, settings):
    settings.ENGINE_SHARDS = 2
    do_start_bot(acme.tenant, make_bot(name="one"), actor=acme.owner)
    globex_paper = do_create_connection(globex.tenant, label="Paper", exchange="paper", actor=globex.owner)
    do_start_bot(globex.tenant, do_create_bot(globex.tenant, name="two", connection=globex_paper, strategy="grid",
                                              symbols=["BTC/USDT"], params=GRID, actor=globex.owner),
                 actor=globex.owner)
    # Shard 1's runner died after a bad report.
    ShardLease.objects.filter(shard=1).update(owner="dead:1:x", generation=7, expires_at=time.time() + 1, enqueued_at=0,
                                              lag_p99_ms=25_000, ticks_per_second=3, lag_histogram={"inf": 50})
    with RunnerThread(shard=0, tick=0.1, lease=1.5) as thread:
        wait_for(lambda: ShardLease.objects.filter(owner=thread.runner.owner, ticks_per_second__gt=0,
                                                   reported_at__gt=F("claimed_at") + 0.6).count() == 2, timeout=10)
    for lease in ShardLease.objects.all():
        # One bot at 10 ticks a second on each shard, not the runner's two bots on both.
        assert lease.ticks_per_second <= 12, lease.shard
        assert lease.lag_p99_ms < 1000 and "inf" not in lease.lag_histogram, lease.shard


def test_a_runner_that_lost_its_lease_can_write_no_order(acme, make_bot):
    bot = make_bot()
    ShardLease.objects.update_or_create(shard=0, defaults={"owner": "new-owner", "generation": 3,
                                                           "expires_at": time.time() + 60})
    stale = store.Lease(shard=0, owner="old-owner", generation=2)
    with pytest.raises(store.LeaseLost):
        store.begin_order(acme.tenant.schema_name, stale, bot.pk, acme.tenant.pk, tag="t", symbol="BTC/USDT",
                          side="buy", type="limit", amount=1, price=1, reduce_only=False)
    with schema_context(acme.tenant.schema_name):
        assert not Order.objects.exists()
        assert Bot.objects.get(pk=bot.pk).intent_seq == 0


def test_orders_are_numbered_by_the_bots_intent_sequence_in_their_client_order_ids(acme, make_bot):
    bot = make_bot()
    placed = [store.begin_order(acme.tenant.schema_name, None, bot.pk, acme.tenant.pk, tag=f"t{n}", symbol="BTC/USDT",
                                side="buy", type="limit", amount=1, price=1, reduce_only=False) for n in range(2)]
    prefix = f"av{acme.tenant.pk}b{bot.pk}n"
    assert [order.client_order_id for order in placed] == [prefix + "1", prefix + "2"]
    with schema_context(acme.tenant.schema_name):
        assert list(Order.objects.order_by("id").values_list("pk", "client_order_id", "status")) == [
            (placed[0].pk, prefix + "1", "pending"), (placed[1].pk, prefix + "2", "pending")]


def test_an_order_for_a_bot_that_is_gone_is_refused_and_not_written(acme, make_bot):
    make_bot()
    with pytest.raises(store.LeaseLost, match="is gone"):
        store.begin_order(acme.tenant.schema_name, None, 999999, acme.tenant.pk, tag="t", symbol="BTC/USDT",
                          side="buy", type="limit", amount=1, price=1, reduce_only=False)
    with schema_context(acme.tenant.schema_name):
        assert not Order.objects.exists()


def test_before_its_time_is_up_a_runner_hands_over_to_a_fresh_task(acme, market, make_bot):
    do_start_bot(acme.tenant, make_bot(), actor=acme.owner)
    OrmQ.objects.all().delete()
    runner = RunnerThread(run_seconds=1.0)
    with runner:
        wait_for(lambda: runner.result is not None, timeout=10)
    lease = ShardLease.objects.get(shard=0)
    assert (lease.owner, lease.expires_at) == ("", 0)
    assert [task.func() for task in OrmQ.objects.all()] == ["bots.engine.runner.run_shard"]


def test_the_revive_schedule_sends_a_runner_to_a_lapsed_shard_once(acme, make_bot):
    from bots.engine.runner import revive

    do_start_bot(acme.tenant, make_bot(), actor=acme.owner)
    OrmQ.objects.all().delete()
    ShardLease.objects.filter(shard=0).update(expires_at=0, enqueued_at=0)
    assert revive() == [0]
    assert revive() == []  # already sent one; give it time to claim
    assert OrmQ.objects.count() == 1


def test_shard_runner_defaults_come_from_settings(settings):
    settings.ENGINE_TICK_SECONDS, settings.ENGINE_LEASE_SECONDS = 0.5, 9
    runner = ShardRunner(0)
    assert (runner.tick_seconds, runner.lease_seconds) == (0.5, 9)


def test_a_shard_with_a_runner_on_its_way_is_left_to_that_runner(acme, globex, market, make_bot, settings):
    settings.ENGINE_SHARDS = 2
    do_start_bot(acme.tenant, make_bot(name="one"), actor=acme.owner)
    globex_paper = do_create_connection(globex.tenant, label="Paper", exchange="paper", actor=globex.owner)
    do_start_bot(globex.tenant, do_create_bot(globex.tenant, name="two", connection=globex_paper, strategy="grid",
                                              symbols=["BTC/USDT"], params=GRID, actor=globex.owner), actor=globex.owner)
    ShardLease.objects.update(enqueued_at=time.time())  # both just enqueued, neither claimed yet
    with RunnerThread(shard=0, lease=1.5):
        wait_for(lambda: ShardLease.objects.filter(shard=0, expires_at__gt=time.time()).exists())
        time.sleep(1.5)  # two lease checks
        assert ShardLease.objects.get(shard=1).owner == ""
