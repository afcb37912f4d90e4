from django.urls import reverse
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _


def error_html(error) -> SafeString:
    """An action's refusal for a page: its messages, and for a plan's limit a link to
    the plans."""
    text = " ".join(getattr(error, "messages", [str(error)]))
    if getattr(error, "code", None) == "quota":
        return format_html('{} <a href="{}">{}</a>', text, reverse("billing"), _("See plans and usage"))
    return conditional_escape(text)
