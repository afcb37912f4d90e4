from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from billing.models import Subscription
from tenants.models import Tenant


def billing_notice(request):
    """Which billing banner the workspace layout shows, if any: an overdue payment, an
    expired subscription, a canceled plan or a trial about to end."""
    tenant = getattr(request, "tenant", None)
    if tenant is None or tenant.kind != Tenant.Kind.WORKSPACE:
        return {}
    subscription = getattr(tenant, "subscription", None)  # read with the tenant
    if subscription is None:
        return {}
    State = Subscription.State
    notice = subscription.state if subscription.state in (State.PAST_DUE, State.EXPIRED, State.CANCELED) else None
    soon = timezone.now() + timedelta(days=settings.BILLING_REMINDER_DAYS)
    if subscription.state == State.TRIALING and subscription.trial_ends_at <= soon:
        notice = "trial_ending"
    return {"billing_notice": notice, "billing_subscription": subscription}
