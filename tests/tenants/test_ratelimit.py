"""The shared sliding-window rate limit (tenants/ratelimit.py)."""

import time

from tenants.models import RateCounter
from tenants.ratelimit import hit, hit_all, prune

WINDOW_START = 1_800_000_000  # a whole minute


def test_it_allows_up_to_the_limit_and_then_refuses_with_the_rest_of_the_window(db):
    answers = [hit("k", 3, 60, now=WINDOW_START + 15) for _ in range(4)]
    assert answers == [(True, 0), (True, 0), (True, 0), (False, 45)]


def test_the_previous_window_counts_for_the_part_that_still_overlaps(db):
    for _ in range(10):
        hit("k", 10, 60, now=WINDOW_START + 50)
    # A quarter into the next window, three quarters of the last ten still count: 7.5.
    assert [hit("k", 10, 60, now=WINDOW_START + 75)[0] for _ in range(3)] == [True, True, False]
    # Half-way through, five of them count.
    assert hit("k", 10, 60, now=WINDOW_START + 90)[0] is True


def test_a_refusal_says_when_the_sliding_window_has_room_again(db):
    for _ in range(10):
        hit("k", 10, 60, now=WINDOW_START + 30)
    allowed, retry_after = hit("k", 10, 60, now=WINDOW_START + 61)
    assert not allowed
    assert 1 <= retry_after <= 60


def test_keys_and_window_lengths_are_counted_apart(db):
    assert hit("a", 1, 60, now=WINDOW_START)[0] is True
    assert hit("b", 1, 60, now=WINDOW_START)[0] is True
    assert hit("a", 1, 3600, now=WINDOW_START)[0] is True
    assert hit("a", 1, 60, now=WINDOW_START)[0] is False


def test_pruning_forgets_windows_that_started_long_ago(db):
    hit("old", 5, 60, now=time.time() - 3 * 86400)
    hit("new", 5, 60)
    assert prune() == 1
    assert list(RateCounter.objects.values_list("key", flat=True)) == ["new/60"]


def test_several_keys_are_counted_in_one_go_and_each_holds_to_its_own_limit(db):
    bot_a, bot_b, workspace = ("bot-a", 2, 60), ("bot-b", 2, 60), ("workspace", 3, 60)
    answers = [hit_all([bot, workspace], now=WINDOW_START + 15) for bot in (bot_a, bot_a, bot_b, bot_a, bot_b)]
    # The workspace's third request is its last; bot a's third would have been refused on its own too.
    assert answers == [(True, 0), (True, 0), (True, 0), (False, 45), (False, 45)]
    assert dict(RateCounter.objects.values_list("key", "count")) == {"bot-a/60": 3, "bot-b/60": 2, "workspace/60": 5}


def test_the_longest_wait_of_the_refusing_keys_is_the_answer(db):
    hit_all([("short", 1, 10), ("long", 1, 3600)], now=WINDOW_START)
    assert hit_all([("short", 1, 10), ("long", 1, 3600)], now=WINDOW_START + 2) == (False, 3598)


def test_queued_hits_travel_with_the_batch_they_are_queued_on(db):
    from tenants import rows
    from tenants.ratelimit import queue_hits

    batch = rows.Batch()
    answer = queue_hits(batch, [("queued", 1, 60)], now=WINDOW_START)
    assert not RateCounter.objects.exists()  # nothing is counted before the batch runs
    batch.run()

    assert answer() == (True, 0)
    assert dict(RateCounter.objects.values_list("key", "count")) == {"queued/60": 1}


def test_queued_hits_count_nothing_and_allow_when_their_condition_fails(db):
    from tenants import rows
    from tenants.ratelimit import queue_hits

    for condition, params in [("false", []), ("%s = 1", [2])]:
        batch = rows.Batch()
        answer = queue_hits(batch, [("guarded", 0, 60)], now=WINDOW_START, only_if=(condition, params))
        batch.run()
        assert answer() == (True, 0)
    assert not RateCounter.objects.exists()

    batch = rows.Batch()
    answer = queue_hits(batch, [("guarded", 0, 60)], now=WINDOW_START, only_if=("%s = 1", [1]))
    batch.run()
    assert answer() == (False, 60)
