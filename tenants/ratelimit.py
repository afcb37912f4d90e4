"""A sliding-window rate limit in the cache (database cache by default, Redis with
REDIS_URL), shared by every process: the count of the current fixed window plus the
previous window's count weighted by how much of it still overlaps the sliding window."""

import math
import time

from django.core.cache import cache


def hit(key: str, limit: int, window: int = 60, now: float | None = None) -> tuple[bool, int]:
    """Count one request against `key`. Returns (allowed, seconds to wait when refused)."""
    now = time.time() if now is None else now
    current = math.floor(now / window)
    elapsed = now - current * window
    current_key, previous_key = f"rl:{key}:{current}", f"rl:{key}:{current - 1}"
    counts = cache.get_many([current_key, previous_key])
    previous_count = counts.get(previous_key, 0)
    weighted = previous_count * (window - elapsed) / window + counts.get(current_key, 0)
    if weighted + 1 > limit:
        # When enough of the previous window has slid out to make room for one more.
        if previous_count:
            wait = max(1, math.ceil((weighted + 1 - limit) * window / previous_count))
        else:
            wait = math.ceil(window - elapsed)
        return False, min(wait, window)
    if cache.add(current_key, 1, timeout=window * 2):
        return True, 0
    try:
        cache.incr(current_key)
    except ValueError:
        cache.set(current_key, 1, timeout=window * 2)
    return True, 0
