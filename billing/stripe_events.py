"""Stripe webhook events applied to subscriptions, each exactly once.

The view verifies the signature; `do_process_stripe_event` stores the event id and
applies it in one transaction, so a delivery Stripe repeats is a no-op, and one that
fails is rolled back whole and applied when Stripe retries it. Events arrive in any
order: one older than the last applied to its subscription (`stripe_event_at`) is
ignored, and a subscription Stripe deleted is unlinked, so later news of it finds
nothing to change."""

from datetime import UTC, datetime

from django.core.exceptions import ValidationError
from django.db import transaction

from billing import actions, payments
from billing.models import Subscription, StripeEvent

State = Subscription.State
Outcome = StripeEvent.Outcome


def _time(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def do_process_stripe_event(event: dict) -> StripeEvent | None:
    """Apply a verified event. Returns its record, or None when it was received before."""
    created = _time(event["created"])
    with transaction.atomic():
        record, new = StripeEvent.objects.get_or_create(
            event_id=event["id"], defaults={"type": event["type"], "created": created, "outcome": Outcome.IGNORED})
        if not new:
            return None
        handler = HANDLERS.get(event["type"])
        if handler is None:
            record.note = "not an event Aviary uses"
        else:
            try:
                with transaction.atomic():
                    subscription, record.note, applied = handler(event["data"]["object"], created)
            except ValidationError as refused:
                # The state machine says no (say, the Free plan has nothing to cancel):
                # kept as ignored for staff to read, and Stripe is not asked to retry.
                subscription, applied = None, False
                record.note = f"refused: {' '.join(refused.messages)}"[:200]
            if subscription is not None:
                record.tenant_id = subscription.tenant_id
                _seen(subscription, created)
            if applied:
                record.outcome = Outcome.PROCESSED
        record.save()
    return record


# --- finding the subscription -------------------------------------------------------------


def _linked(stripe_subscription_id: str | None) -> Subscription | None:
    if not stripe_subscription_id:
        return None
    # Locked first, so that two events of one subscription are applied one after the other.
    return Subscription.objects.select_for_update(of=("self",)).filter(
        stripe_subscription_id=stripe_subscription_id).first()


def _stale(subscription: Subscription, created: datetime) -> bool:
    # Stripe's `created` has whole seconds, so events of one second are all applied.
    return subscription.stripe_event_at is not None and created < subscription.stripe_event_at


def _seen(subscription: Subscription, created: datetime) -> None:
    Subscription.objects.filter(pk=subscription.pk).exclude(stripe_event_at__gt=created).update(
        stripe_event_at=created)


# --- the handlers: (stripe object, created) -> (subscription, note, applied) ---------------------


def _checkout_completed(session, created):
    if session.get("mode") != "subscription" or not session.get("subscription"):
        return None, "not a subscription checkout", False
    tenant_id = session.get("client_reference_id") or (session.get("metadata") or {}).get("tenant_id")
    if not tenant_id or not str(tenant_id).isdigit():
        return None, "no workspace named", False
    subscription = Subscription.objects.select_for_update(of=("self",)).filter(tenant_id=int(tenant_id)).first()
    if subscription is None:
        return None, "no such workspace", False
    customer = session.get("customer")
    # A customer id is one workspace's: never move it onto another one.
    if customer and Subscription.objects.filter(stripe_customer_id=customer).exclude(pk=subscription.pk).exists():
        return None, "the customer belongs to another workspace", False
    if _stale(subscription, created):
        return subscription, "older than the last event applied", False
    lines = payments.read_lines(payments.retrieve_subscription(session["subscription"]))
    if lines.plan is None:
        return subscription, "no plan among the subscription's prices", False
    actions.do_activate(subscription, plan=lines.plan, period_start=lines.period_start, period_end=lines.period_end,
                        stripe_customer_id=customer, stripe_subscription_id=session["subscription"],
                        extra_bot_slots=lines.extra_bot_slots,
                        extended_backup_retention=lines.extended_backup_retention,
                        stop_bots=_ids((session.get("metadata") or {}).get("stop_bots", "")))
    return subscription, f"activated {lines.plan.key}", True


def _ids(text: str) -> list[int]:
    return [int(part) for part in str(text).split(",") if part.strip().isdigit()]


def _subscription_updated(stripe_subscription, created):
    subscription = _linked(stripe_subscription["id"])
    if subscription is None:
        return None, "subscription not linked to a workspace", False
    if _stale(subscription, created):
        return subscription, "older than the last event applied", False
    status = stripe_subscription["status"]
    if status not in ("active", "past_due", "unpaid"):
        # canceled is customer.subscription.deleted's; incomplete ones were never paid.
        return subscription, f"status {status}", False
    lines = payments.read_lines(stripe_subscription)
    if lines.plan is None:
        return subscription, "no plan among the subscription's prices", False
    done = []
    bought = (lines.plan.pk, lines.extra_bot_slots, lines.extended_backup_retention)
    if bought != (subscription.plan_id, subscription.extra_bot_slots, subscription.extended_backup_retention) \
            and status == "active":
        # Changed at Stripe (the portal, the dashboard) and paid for: applied like a purchase.
        subscription = actions.do_activate(
            subscription, plan=lines.plan, period_start=lines.period_start, period_end=lines.period_end,
            extra_bot_slots=lines.extra_bot_slots, extended_backup_retention=lines.extended_backup_retention)
        done.append("plan or add-ons")
    if status in ("past_due", "unpaid") and subscription.state == State.ACTIVE:
        subscription = actions.do_mark_past_due(subscription)
        done.append("past due")
    elif status == "active" and subscription.state in (State.PAST_DUE, State.EXPIRED):
        subscription = actions.do_renew(subscription, period_start=lines.period_start, period_end=lines.period_end)
        done.append("paid")
    if stripe_subscription.get("cancel_at_period_end") and subscription.state == State.ACTIVE:
        subscription = actions.do_cancel_at_period_end(subscription, actor=None)
        done.append("cancels at period end")
    elif not stripe_subscription.get("cancel_at_period_end") and subscription.state == State.CANCELED:
        subscription = actions.do_activate(subscription, plan=subscription.plan, period_start=lines.period_start,
                                           period_end=lines.period_end)
        done.append("cancellation withdrawn")
    return subscription, ", ".join(done) or "nothing new", bool(done)


def _subscription_deleted(stripe_subscription, created):
    subscription = _linked(stripe_subscription["id"])
    if subscription is None:
        return None, "subscription not linked to a workspace", False
    if _stale(subscription, created):
        return subscription, "older than the last event applied", False
    if subscription.state == State.PAST_DUE:
        # Stripe gave up collecting: expired (read-only) as when the grace runs out.
        subscription = actions.do_expire(subscription)
    elif subscription.state in (State.ACTIVE, State.TRIALING):
        # Ended at once (the dashboard): the end of a cancellation, now.
        subscription = actions.do_end_cancellation(actions.do_cancel_at_period_end(subscription, actor=None))
    elif subscription.state == State.CANCELED:
        subscription = actions.do_end_cancellation(subscription)
    # An expired workspace pays again through a new Checkout, and nothing more comes of this one.
    Subscription.objects.filter(pk=subscription.pk, stripe_subscription_id=stripe_subscription["id"]).update(
        stripe_subscription_id=None)
    return subscription, f"ended ({subscription.state})", True


def _invoice_subscription(invoice) -> str | None:
    details = (invoice.get("parent") or {}).get("subscription_details") or {}
    return details.get("subscription")


def _invoice_paid(invoice, created):
    subscription = _linked(_invoice_subscription(invoice))
    if subscription is None:
        # The first invoice comes before checkout.session.completed, which activates.
        return None, "subscription not linked to a workspace", False
    if _stale(subscription, created):
        return subscription, "older than the last event applied", False
    period = _plan_period(invoice, subscription)
    if period is None:
        return subscription, "no period on the invoice", False
    if subscription.state == State.ACTIVE and period[1] <= subscription.current_period_end:
        return subscription, "period already applied", False
    if subscription.state not in actions.ALLOWED["renew"]:
        return subscription, f"nothing to renew in state {subscription.state}", False
    actions.do_renew(subscription, period_start=period[0], period_end=period[1])
    return subscription, "renewed", True


def _plan_period(invoice, subscription) -> tuple[datetime, datetime] | None:
    """The service period of the plan's line (the invoice's own period is the one that ended)."""
    lines = invoice.get("lines", {}).get("data", [])
    for line in lines:
        price = ((line.get("pricing") or {}).get("price_details") or {}).get("price")
        if price and price == subscription.plan.stripe_price_id:
            return _time(line["period"]["start"]), _time(line["period"]["end"])
    if lines:
        return _time(lines[0]["period"]["start"]), _time(lines[0]["period"]["end"])
    return None


def _invoice_failed(invoice, created):
    subscription = _linked(_invoice_subscription(invoice))
    if subscription is None:
        return None, "subscription not linked to a workspace", False
    if _stale(subscription, created):
        return subscription, "older than the last event applied", False
    if subscription.state not in actions.ALLOWED["mark_past_due"]:
        return subscription, f"no payment due in state {subscription.state}", False
    actions.do_mark_past_due(subscription)
    return subscription, "past due", True


HANDLERS = {
    "checkout.session.completed": _checkout_completed,
    "customer.subscription.updated": _subscription_updated,
    "customer.subscription.deleted": _subscription_deleted,
    "invoice.paid": _invoice_paid,
    "invoice.payment_failed": _invoice_failed,
}
