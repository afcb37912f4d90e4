from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from django import template
from django.utils.formats import date_format, number_format
from django.utils.timezone import localtime
from django.utils.translation import gettext_lazy as _

from bots.models import Bot

register = template.Library()

# Order sides and position sides as exchanges (ccxt) name them.
SIDES = {"buy": _("Buy"), "sell": _("Sell"), "long": _("Long"), "short": _("Short")}


@register.filter
def state_label(state: str) -> str:
    try:
        return Bot.State(state).label
    except ValueError:
        return state


@register.filter
def side_label(side: str) -> str:
    return SIDES.get(side, side)


@register.filter
def normalize(value):
    """An amount in the active locale's format, without trailing zeros and with every
    other digit kept: never rounded, never 1E+3. Takes Decimals and the decimal strings
    of live statuses; anything else ("market", None) is shown as it is."""
    if isinstance(value, str):
        try:
            value = Decimal(value)
        except InvalidOperation:
            return value
    if not isinstance(value, Decimal) or not value.is_finite():
        return value
    # Decimal.normalize() would round to the context's 28 digits; text does not.
    text = f"{value:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text == "-0":
        text = "0"
    return number_format(Decimal(text), use_l10n=True)


@register.filter
def epoch_time(value):
    """Seconds since the epoch as a date and time in the active time zone (the user's)."""
    if value in (None, ""):
        return ""
    return date_format(localtime(datetime.fromtimestamp(float(value), UTC)), "SHORT_DATETIME_FORMAT")
