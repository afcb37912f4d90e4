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
from django.db import connection

COUNT_SQL = """
    INSERT INTO public.tenants_ratecounter (key, "window", count) VALUES (%s, %s, 1)
    ON CONFLICT (key, "window") DO UPDATE SET count = tenants_ratecounter.count + 1
    RETURNING count, (SELECT count FROM public.tenants_ratecounter WHERE key = %s AND "window" = %s)
"""


def hit(key: str, limit: int, window: int = 60, now: float | None = None) -> tuple[bool, int]:
    """Count one request against `key`. Returns (allowed, seconds to wait when refused)."""
    now = time.time() if now is None else now
    current = math.floor(now / window)
    elapsed = now - current * window
    current_count, previous_count = _count(key, current, window)
    weighted = previous_count * (window - elapsed) / window + current_count
    if weighted <= limit:
        return True, 0
    if previous_count:
        # When enough of the previous window has slid out to make room for this one.
        wait = max(1, math.ceil((weighted - limit) * window / previous_count))
    else:
        wait = math.ceil(window - elapsed)
    return False, max(1, min(wait, window))


def _count(key: str, current: int, window: int) -> tuple[int, int]:
    if settings.REDIS_URL:
        current_key = f"rl:{key}/{window}:{current}"
        cache.add(current_key, 0, timeout=window * 2)
        return cache.incr(current_key), cache.get(f"rl:{key}/{window}:{current - 1}", 0)
    with connection.cursor() as cursor:
        # Rows carry the window's start in seconds, so windows of any length share the table.
        key = f"{key}/{window}"
        cursor.execute(COUNT_SQL, [key, current * window, key, (current - 1) * window])
        current_count, previous_count = cursor.fetchone()
    return current_count, previous_count or 0


def prune(older_than: int = 2 * 86400) -> int:
    """Forget counts of windows that started long ago (a schedule)."""
    from tenants.models import RateCounter

    return RateCounter.objects.filter(window__lt=time.time() - older_than).delete()[0]
