"""Taking payment. The Stripe step fills this in (Checkout for a new subscription, the
customer portal for a running one); every Subscribe / pay button goes through
`checkout_url`, so that is the one place it changes."""

from django.conf import settings
from django.utils.translation import gettext as _


class NotConfigured(Exception):
    """No payment provider is set up on this server."""


def configured() -> bool:
    return bool(settings.STRIPE_SECRET_KEY)


def checkout_url(request, subscription, *, plan, extra_bot_slots: int, extended_backup_retention: bool) -> str:
    """Where to send the owner to pay for `plan` with these add-ons."""
    if not configured():
        raise NotConfigured(_("Billing is not configured on this server, so plans and add-ons cannot be bought "
                              "here. The workspace keeps running on its current plan."))
    raise NotImplementedError("Stripe Checkout arrives with the Stripe integration.")
