"""A sliding-window rate limit shared by every process: the count of the current fixed
window plus the previous window's count weighted by how much of it still overlaps the
sliding window.

Counts live in Redis when REDIS_URL is set (the cache), otherwise in an unlogged
public table, where one statement counts the request and reads both windows: the
database cache would take ten queries per request. Refused requests count too, so a
client that keeps hammering stays refused."""

import math
import time

from django.conf import settings
from django.core.cache import cache

from tenants import rows

# One statement for every key: count the request in each key's current window, and read
# each key's previous window (the snapshot the statement started from).
COUNT_SQL = """
    WITH asked (key, "window", previous) AS (
        SELECT * FROM unnest(%s::varchar[], %s::bigint[], %s::bigint[]) WHERE {only_if}
    ),
    counted AS (
        INSERT INTO public.tenants_ratecounter AS c (key, "window", count)
        SELECT key, "window", 1 FROM asked ORDER BY key
        ON CONFLICT (key, "window") DO UPDATE SET count = c.count + 1
        RETURNING c.key, c.count
    )
    SELECT counted.key, counted.count, p.count FROM counted JOIN asked USING (key)
    LEFT JOIN public.tenants_ratecounter p ON p.key = asked.key AND p."window" = asked.previous
"""


def hit(key: str, limit: int, window: int = 60, now: float | None = None) -> tuple[bool, int]:
    """Count one request against `key`. Returns (allowed, seconds to wait when refused)."""
    return hit_all([(key, limit, window)], now)


def hit_all(limits: list[tuple[str, int, int]], now: float | None = None) -> tuple[bool, int]:
    """Count one request against several (key, limit, window) at once, such as a bot's
    and its workspace's: allowed when every one allows it, else the longest wait."""
    batch = rows.Batch()
    answer = queue_hits(batch, limits, now)
    batch.run()
    return answer()


def queue_hits(batch: rows.Batch, limits: list[tuple[str, int, int]], now: float | None = None, *,
               only_if: tuple[str, list] = ("true", [])):
    """hit_all's counting queued on `batch`, to travel with a request's reads; returns
    what gives hit_all's answer once the batch ran. Nothing is counted unless the SQL
    condition `only_if` (with its params) holds then, and the answer is then "allowed"
    (the webhook counts only signals to a bot that exists). With Redis, the counting
    happens when the answer is asked for, and `only_if` is the caller's to check first."""
    now = time.time() if now is None else now
    windows = [(key, window, math.floor(now / window)) for key, _limit, window in limits]
    if settings.REDIS_URL:
        return lambda: _answer(limits, _count_in_redis(windows), now)
    # Rows carry the window's start in seconds, so windows of any length share the table.
    keys = [f"{key}/{window}" for key, window, _current in windows]
    condition, condition_params = only_if
    found = batch.fetch(COUNT_SQL.format(only_if=condition), [
        keys, [current * window for _key, window, current in windows],
        [(current - 1) * window for _key, window, current in windows], *condition_params])

    def answer():
        counted = {key: (current_count, previous_count or 0) for key, current_count, previous_count in found}
        return _answer(limits, [counted.get(key, (0, 0)) for key in keys], now)
    return answer


def _answer(limits, counts: list[tuple[int, int]], now: float) -> tuple[bool, int]:
    """(allowed, seconds to wait) from each limit's (current, previous) window counts."""
    wait = 0
    for (key, limit, window), (current_count, previous_count) in zip(limits, counts, strict=True):
        elapsed = now - math.floor(now / window) * window
        weighted = previous_count * (window - elapsed) / window + current_count
        if weighted <= limit:
            continue
        if previous_count:
            # When enough of the previous window has slid out to make room for this one.
            key_wait = max(1, math.ceil((weighted - limit) * window / previous_count))
        else:
            key_wait = math.ceil(window - elapsed)
        wait = max(wait, max(1, min(key_wait, window)))
    return wait == 0, wait


def _count_in_redis(windows: list[tuple[str, int, int]]) -> list[tuple[int, int]]:
    """(current, previous) counts for each (key, window length, current window number)."""
    counts = []
    for key, window, current in windows:
        current_key = f"rl:{key}/{window}:{current}"
        cache.add(current_key, 0, timeout=window * 2)
        counts.append((cache.incr(current_key), cache.get(f"rl:{key}/{window}:{current - 1}", 0)))
    return counts


def prune(older_than: int = 2 * 86400) -> int:
    """Forget counts of windows that started long ago (a schedule)."""
    from tenants.models import RateCounter

    return RateCounter.objects.filter(window__lt=time.time() - older_than).delete()[0]
