"""django-q2 tasks and schedules of the bots app."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django_q.models import Schedule
from django_tenants.utils import schema_context

from bots.models import SeriesPoint
from tenants.models import Tenant

SCHEDULES = {
    # The engine's backstop: a runner for every shard with bots and no live lease.
    "engine revive": {"func": "bots.engine.runner.revive", "schedule_type": Schedule.MINUTES, "minutes": 1},
    "bot series retention": {"func": "bots.tasks.prune_series", "schedule_type": Schedule.DAILY},
    "rate counter cleanup": {"func": "tenants.ratelimit.prune", "schedule_type": Schedule.HOURLY},
    "billing sweep": {"func": "billing.tasks.sweep", "schedule_type": Schedule.HOURLY},
    "billing log retention": {"func": "billing.tasks.prune_logs", "schedule_type": Schedule.DAILY},
}


def ensure_schedules() -> None:
    for name, fields in SCHEDULES.items():
        Schedule.objects.update_or_create(name=name, defaults={"repeats": -1, **fields})


def prune_series() -> int:
    """Chart points older than the retention, in every workspace."""
    cutoff = timezone.now() - timedelta(days=settings.BOT_SERIES_RETENTION_DAYS)
    deleted = 0
    for schema in Tenant.objects.workspaces().values_list("schema_name", flat=True):
        with schema_context(schema):
            deleted += SeriesPoint.objects.filter(timestamp__lt=cutoff).delete()[0]
    return deleted
