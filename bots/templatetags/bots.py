from datetime import UTC, datetime
from decimal import Decimal

from django import template
from django.utils.formats import date_format
from django.utils.timezone import localtime

from bots.models import Bot

register = template.Library()


@register.filter
def state_label(state: str) -> str:
    try:
        return Bot.State(state).label
    except ValueError:
        return state


@register.filter
def normalize(value):
    """A Decimal without trailing zeros, in plain notation (never 1E+3)."""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return value


@register.filter
def epoch_time(value):
    """Seconds since the epoch as a datetime in the active time zone."""
    if value in (None, ""):
        return ""
    return date_format(localtime(datetime.fromtimestamp(float(value), UTC)), "SHORT_DATETIME_FORMAT")
