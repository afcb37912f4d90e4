"""django-q2 tasks of billing: thin callers of billing.actions."""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone
from django_tenants.utils import schema_context

from billing import actions
from billing.models import Subscription
from bots.models import BotEvent, Signal

logger = logging.getLogger(__name__)
State = Subscription.State


def sweep() -> dict[str, int]:
    """Every hour: end trials, expire overdue subscriptions after their grace, move ended
    cancellations to Free, roll over unbilled periods (Free, or granted by staff; Stripe
    renews paid ones), and remind owners of what comes within BILLING_REMINDER_DAYS."""
    now = timezone.now()
    rows = Subscription.objects.select_related("tenant", "plan")
    due = {
        "trials ended": (rows.filter(state=State.TRIALING, trial_ends_at__lte=now), actions.do_end_trial),
        "expired": (rows.filter(state=State.PAST_DUE, grace_ends_at__lte=now), actions.do_expire),
        "cancellations ended": (rows.filter(state=State.CANCELED, current_period_end__lte=now),
                                actions.do_end_cancellation),
        "renewed": (rows.filter(state=State.ACTIVE, stripe_subscription_id__isnull=True,
                                current_period_end__lte=now), actions.do_renew),
    }
    done = {name: sum(_run(action, subscription) for subscription in subscriptions)
            for name, (subscriptions, action) in due.items()}
    soon = now + timedelta(days=settings.BILLING_REMINDER_DAYS)
    reminded = rows.filter(Q(state=State.TRIALING, trial_ends_at__lte=soon)
                           | Q(state__in=[State.ACTIVE, State.CANCELED], current_period_end__lte=soon)
                           | Q(state=State.PAST_DUE, grace_ends_at__lte=soon))
    done["reminders"] = sum(_run(actions.do_remind, subscription) for subscription in reminded)
    return done


def _run(action, subscription) -> bool:
    """One workspace's failure must not hold up the others'."""
    try:
        action(subscription)
    except ValidationError:
        # Changed since it was read (a webhook got there first): nothing left to do.
        return False
    except Exception:
        logger.exception("billing: %s failed for %s", action.__name__, subscription.tenant.schema_name)
        return False
    return True


def prune_logs() -> int:
    """Bot event and signal logs older than each workspace's plan keeps them."""
    deleted = 0
    now = timezone.now()
    for subscription in Subscription.objects.select_related("tenant", "plan"):
        cutoff = now - timedelta(days=subscription.plan.log_retention_days)
        with schema_context(subscription.tenant.schema_name):
            deleted += BotEvent.objects.filter(created_at__lt=cutoff).delete()[0]
            deleted += Signal.objects.filter(received_at__lt=cutoff).delete()[0]
    return deleted
