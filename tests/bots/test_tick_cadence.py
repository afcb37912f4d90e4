"""How a runner schedules a bot's ticks and measures their lag: a tick that runs long
must show up as lag on the next one, not be hidden by restarting the cadence."""

import asyncio
import time

import pytest

from bots.engine.runner import ShardRunner

TICK = 0.1


class SlowSlot:
    """Stands in for a BotSlot: its ticks take as long as it is told."""

    def __init__(self, durations):
        self.durations = list(durations)
        self.next_tick = 0.0
        self.shard, self.bot_id = 0, 1

    async def tick(self, quotes, now):
        await asyncio.sleep(self.durations.pop(0))


@pytest.fixture
def runner():
    return ShardRunner(0, tick_seconds=TICK)


def test_a_tick_that_runs_long_makes_the_next_one_late_by_the_overrun(runner):
    slot = SlowSlot([2.5 * TICK, 0])

    async def two_ticks():
        slot.next_tick = time.time()
        await runner._tick_one(slot, {}, time.time())
        await runner._tick_one(slot, {}, time.time())

    asyncio.run(two_ticks())
    on_time, after_the_long_one = runner.lags[slot.shard]
    assert on_time < 0.5 * TICK
    assert 1.4 * TICK <= after_the_long_one < 2.5 * TICK


def test_ticks_on_time_keep_the_cadence_without_drift(runner):
    slot = SlowSlot([0.01] * 3)
    slot.next_tick = start = time.time() + 0.01

    async def ticks():
        for _ in range(3):
            await asyncio.sleep(max(0.0, slot.next_tick - time.time()))
            await runner._tick_one(slot, {}, time.time())

    asyncio.run(ticks())
    assert slot.next_tick == pytest.approx(start + 3 * TICK)


def test_a_tick_that_starts_a_whole_period_late_starts_a_new_cadence(runner):
    slot = SlowSlot([0])
    slot.next_tick = time.time() - 3 * TICK
    started = time.time()
    asyncio.run(runner._tick_one(slot, {}, started))
    assert runner.lags[slot.shard][0] >= 3 * TICK
    assert slot.next_tick == pytest.approx(started + TICK, abs=0.05)
