"""State changes of plans and subscriptions: the subscription state machine.

Each transition locks the subscription row, checks the state it leaves, audits, and
leaves billing events for the owners. Signup, the change-plan page, the admin, the
hourly sweep and (later) the Stripe webhook handler all call these same functions:
Stripe's `checkout.session.completed` -> do_activate, `invoice.paid` -> do_renew,
`invoice.payment_failed` -> do_mark_past_due, a subscription set to cancel at period
end -> do_cancel_at_period_end, a plan change -> do_change_plan."""

import calendar
from datetime import datetime, timedelta

import stripe
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_tenants.utils import schema_context

from accounts import audit
from billing import catalog, events, payments, quotas
from billing.models import API_CALLS, BOTS, CONNECTIONS, MEMBERS, AddOn, BillingEvent, Plan, Subscription
from bots import actions as bot_actions
from bots.models import Bot
from tenants.models import Tenant

State = Subscription.State

ALLOWED = {
    "activate": set(State.values),
    "renew": {State.ACTIVE, State.PAST_DUE, State.EXPIRED},
    "mark_past_due": {State.ACTIVE, State.PAST_DUE},
    "cancel_at_period_end": {State.ACTIVE},
    "expire": {State.PAST_DUE},
    "end_trial": {State.TRIALING},
    "end_cancellation": {State.CANCELED},
    "change_plan": set(State.values),
    "set_addons": set(State.values),
}
REFUSED = {
    "renew": gettext_lazy("A subscription in the “%(state)s” state cannot be renewed."),
    "mark_past_due": gettext_lazy("A subscription in the “%(state)s” state has no payment to be overdue."),
    "cancel_at_period_end": gettext_lazy("A subscription in the “%(state)s” state cannot be canceled."),
    "expire": gettext_lazy("A subscription in the “%(state)s” state cannot expire; only an overdue one can."),
    "end_trial": gettext_lazy("A subscription in the “%(state)s” state has no trial to end."),
    "end_cancellation": gettext_lazy("A subscription in the “%(state)s” state is not canceled."),
}


def add_months(moment: datetime, months: int = 1) -> datetime:
    """The same day and time `months` later; the month's last day where it is shorter."""
    month = moment.month - 1 + months
    year, month = moment.year + month // 12, month % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


# --- platform rows --------------------------------------------------------------------------


def do_ensure_plans() -> None:
    """The published plans and add-ons, where missing. Idempotent; never touches edits."""
    existing = set(Plan.objects.values_list("key", flat=True))
    Plan.objects.bulk_create([Plan(**plan) for plan in catalog.PLANS if plan["key"] not in existing])
    existing = set(AddOn.objects.values_list("key", flat=True))
    AddOn.objects.bulk_create([AddOn(key=key, price_per_month=price) for key, price in catalog.ADDONS.items()
                               if key not in existing])


def do_ensure_stripe_prices(*, actor=None) -> dict[str, str]:
    """A Stripe price for every paid plan and add-on, found by lookup key (the plan's or
    add-on's key) or made, stored as its stripe_price_id. Idempotent. Returns key -> price."""
    api = payments.client()
    found = {}
    rows = [*Plan.objects.exclude(price_per_month=0), *AddOn.objects.all()]
    for row in rows:
        name = row.name if isinstance(row, Plan) else str(row.get_key_display())
        try:
            price_id = payments.ensure_price(api, lookup_key=row.key, name=name, price_per_month=row.price_per_month)
        except stripe.StripeError as error:
            raise payments.failed(error, "syncing prices") from error
        found[row.key] = price_id
        if row.stripe_price_id != price_id:
            type(row).objects.filter(pk=row.pk).update(stripe_price_id=price_id)
            audit.record("billing.stripe_price_set", actor=actor, target=row.key, price=price_id)
    return found


def do_ensure_subscriptions() -> int:
    """A subscription for every workspace without one (those from before billing), as a
    new signup gets. Idempotent; returns how many were started."""
    started = 0
    for tenant in Tenant.objects.workspaces().filter(subscription__isnull=True):
        do_start_subscription(tenant, actor=None)
        started += 1
    return started


# --- the state machine ------------------------------------------------------------------------


def do_start_subscription(tenant, *, actor) -> Subscription:
    """A new workspace's subscription: a trial of BILLING_TRIAL_PLAN for
    BILLING_TRIAL_DAYS, or the Free plan when there is no trial."""
    now = timezone.now()
    with transaction.atomic():
        if settings.BILLING_TRIAL_DAYS > 0:
            ends = now + timedelta(days=settings.BILLING_TRIAL_DAYS)
            subscription = Subscription.objects.create(
                tenant=tenant, plan=Plan.objects.get(key=settings.BILLING_TRIAL_PLAN), state=State.TRIALING,
                current_period_start=now, current_period_end=ends, trial_ends_at=ends,
            )
        else:
            subscription = Subscription.objects.create(
                tenant=tenant, plan=_free_plan(), state=State.ACTIVE, current_period_start=now,
                current_period_end=add_months(now),
            )
        audit.record("billing.subscription_started", actor=actor, tenant=tenant, target=subscription.plan.key,
                     state=subscription.state)
    return subscription


def do_activate(subscription: Subscription, *, plan: Plan, period_end: datetime, period_start: datetime | None = None,
                stripe_customer_id: str | None = None, stripe_subscription_id: str | None = None,
                extra_bot_slots: int | None = None, extended_backup_retention: bool | None = None,
                stop_bots=(), actor=None) -> Subscription:
    """Paid for (Checkout completed, or staff granting a plan): active on `plan` for the
    period, from any state, with the add-ons paid for when given. The bots the owner
    chose to stop for it (`stop_bots`, ids) stop first. It never refuses over quotas, as
    the money is taken: bots the plan still cannot run are paused, and the workspace
    cannot add more until it fits."""
    with transaction.atomic():
        subscription = _locked(subscription, "activate")
        previous = (subscription.state, subscription.plan.key)
        subscription.plan, subscription.state = plan, State.ACTIVE
        if extra_bot_slots is not None:
            subscription.extra_bot_slots = extra_bot_slots
        if extended_backup_retention is not None:
            subscription.extended_backup_retention = extended_backup_retention
        subscription.current_period_start = period_start or timezone.now()
        subscription.current_period_end = period_end
        subscription.grace_ends_at = None
        if stripe_customer_id:
            subscription.stripe_customer_id = stripe_customer_id
        if stripe_subscription_id:
            subscription.stripe_subscription_id = stripe_subscription_id
        _save(subscription)
        stopped = _stop_chosen(subscription.tenant, stop_bots, actor,
                               _("Stopped for the move to the %(plan)s plan.") % {"plan": plan.name})
        paused = _pause_what_the_plan_cannot_run(
            subscription, _("Paused: the %(plan)s plan does not run this bot.") % {"plan": plan.name})
        audit.record("billing.activated", actor=actor, tenant=subscription.tenant, target=plan.key,
                     previous_state=previous[0], previous_plan=previous[1], period_end=period_end.isoformat(),
                     stopped_bots=stopped, paused_bots=paused)
    return subscription


def do_renew(subscription: Subscription, *, period_end: datetime | None = None, period_start: datetime | None = None,
             actor=None) -> Subscription:
    """A new period began (an invoice was paid, or an unbilled plan rolled over). Without
    dates, the next month after the current period. Bots paused by an expiry stay paused
    until someone resumes them: markets moved meanwhile."""
    with transaction.atomic():
        subscription = _locked(subscription, "renew")
        if period_end is None:
            period_start = subscription.current_period_end
            period_end = add_months(period_start)
            if period_end <= timezone.now():
                period_start = timezone.now()
                period_end = add_months(period_start)
        subscription.current_period_start = period_start or subscription.current_period_end
        subscription.current_period_end = period_end
        previous = subscription.state
        subscription.state, subscription.grace_ends_at = State.ACTIVE, None
        _save(subscription)
        audit.record("billing.renewed", actor=actor, tenant=subscription.tenant, target=subscription.plan.key,
                     previous_state=previous, period_end=period_end.isoformat())
    return subscription


def do_mark_past_due(subscription: Subscription, *, actor=None) -> Subscription:
    """A payment failed: bots keep running through the grace period, then it expires.
    Retries failing again do not extend the grace."""
    with transaction.atomic():
        subscription = _locked(subscription, "mark_past_due")
        if subscription.state == State.PAST_DUE:
            return subscription
        subscription.state = State.PAST_DUE
        subscription.grace_ends_at = timezone.now() + timedelta(days=settings.BILLING_GRACE_DAYS)
        _save(subscription)
        events.record(subscription.tenant, BillingEvent.Kind.PAYMENT_FAILED,
                      grace_ends_at=subscription.grace_ends_at.isoformat(), plan=subscription.plan.key)
        audit.record("billing.past_due", actor=actor, tenant=subscription.tenant, target=subscription.plan.key,
                     grace_ends_at=subscription.grace_ends_at.isoformat())
    return subscription


def do_cancel_at_period_end(subscription: Subscription, *, actor) -> Subscription:
    """The plan runs to the end of the paid period, then the workspace is on Free."""
    with transaction.atomic():
        subscription = _locked(subscription, "cancel_at_period_end")
        if subscription.plan.is_free:
            raise ValidationError(_("The Free plan has nothing to cancel."))
        subscription.state = State.CANCELED
        _save(subscription)
        audit.record("billing.canceled", actor=actor, tenant=subscription.tenant, target=subscription.plan.key,
                     ends_at=subscription.current_period_end.isoformat())
    return subscription


def do_expire(subscription: Subscription, *, actor=None) -> Subscription:
    """The grace period ran out unpaid: running bots are paused and the workspace is
    read-only. Its data is kept; paying (do_renew, do_activate) or choosing the Free plan
    (do_change_plan) opens it again."""
    with transaction.atomic():
        subscription = _locked(subscription, "expire")
        subscription.state = State.EXPIRED
        _save(subscription)
        paused = _pause_running(subscription.tenant, lambda bot: True,
                                _("Paused: the workspace's subscription expired."))
        events.record(subscription.tenant, BillingEvent.Kind.EXPIRED, plan=subscription.plan.key, paused_bots=paused)
        audit.record("billing.expired", actor=actor, tenant=subscription.tenant, target=subscription.plan.key,
                     paused_bots=paused)
    return subscription


def do_end_trial(subscription: Subscription, *, actor=None) -> Subscription:
    """The trial is over and nothing was bought: the Free plan, with the bots it cannot
    run paused."""
    return _fall_back_to_free(subscription, "end_trial", BillingEvent.Kind.TRIAL_ENDED, actor=actor,
                              reason=_("Paused: the trial ended, and the Free plan does not run this bot."))


def do_end_cancellation(subscription: Subscription, *, actor=None) -> Subscription:
    """A canceled plan reached the end of its period: the Free plan, with the bots it
    cannot run paused."""
    return _fall_back_to_free(subscription, "end_cancellation", BillingEvent.Kind.CANCELLATION_ENDED, actor=actor,
                              reason=_("Paused: the canceled plan ended, and the Free plan does not run this bot."))


def do_change_plan(subscription: Subscription, *, plan: Plan, actor, stop_bots=()) -> Subscription:
    """Move to another plan at once. When the workspace has more than the plan allows,
    the caller says which bots to stop (`stop_bots`, ids); connections and members over
    the limit must go first. Refuses rather than stopping anything it was not told to.

    The Free plan can be chosen from any state (ending a trial, an overdue or expired
    subscription). A paid plan needs the subscription paid for: a trial converts to it,
    an expired one must be activated with a payment instead."""
    stop_ids = {int(pk) for pk in stop_bots}
    with transaction.atomic():
        subscription = _locked(subscription, "change_plan")
        if plan.pk == subscription.plan_id and subscription.state in (State.ACTIVE, State.PAST_DUE, State.CANCELED):
            raise ValidationError(_("This workspace is on the %(plan)s plan already.") % {"plan": plan.name})
        if not plan.is_free and subscription.state == State.EXPIRED:
            raise ValidationError(_("An expired subscription needs a payment to move to a paid plan."))
        change = quotas.plan_change(subscription, plan)
        unknown = stop_ids - {bot.pk for bot in change.bots}
        if unknown:
            raise ValidationError(_("Only bots that are not stopped yet can be chosen to stop."))
        problems = change.problems(stop_ids)
        if problems:
            raise ValidationError(problems)
        previous = subscription.plan
        reason = _("Stopped for the move to the %(plan)s plan.") % {"plan": plan.name}
        for bot in change.bots:
            if bot.pk in stop_ids:
                bot_actions.do_stop_bot(subscription.tenant, bot, actor=actor, reason=reason)
        subscription.plan = plan
        if plan.is_free:
            _restart_period(subscription)
            subscription.stripe_subscription_id = None
        elif subscription.state == State.TRIALING:
            _restart_period(subscription)
        _save(subscription)
        for quota in (BOTS, CONNECTIONS, MEMBERS):
            quotas.warn_if_near_limit(subscription, quota, quotas.used(subscription, quota))
        audit.record("billing.plan_changed", actor=actor, tenant=subscription.tenant, target=plan.key,
                     previous=previous.key, stopped_bots=sorted(stop_ids))
    return subscription


def do_set_addons(subscription: Subscription, *, extra_bot_slots: int, extended_backup_retention: bool,
                  actor) -> Subscription:
    if extra_bot_slots < 0:
        raise ValidationError(_("The number of extra bot slots cannot be negative."))
    with transaction.atomic():
        subscription = _locked(subscription, "set_addons")
        quotas.require_writable(subscription)
        if subscription.plan.bots is not None and extra_bot_slots < subscription.extra_bot_slots:
            bots = quotas.used(subscription, BOTS)
            if bots > subscription.plan.bots + extra_bot_slots:
                raise ValidationError(_("This workspace has %(bots)d bots that are not stopped; stop some before "
                                        "giving up bot slots.") % {"bots": bots})
        previous = {"extra_bot_slots": subscription.extra_bot_slots,
                    "extended_backup_retention": subscription.extended_backup_retention}
        subscription.extra_bot_slots = extra_bot_slots
        subscription.extended_backup_retention = extended_backup_retention
        _save(subscription)
        audit.record("billing.addons_changed", actor=actor, tenant=subscription.tenant, target=subscription.plan.key,
                     previous=previous, extra_bot_slots=extra_bot_slots,
                     extended_backup_retention=extended_backup_retention)
    return subscription


# --- reminders and metering ---------------------------------------------------------------


def do_remind(subscription: Subscription) -> None:
    """Reminders of what happens within BILLING_REMINDER_DAYS: a trial ending, a paid
    renewal, a canceled plan ending, an overdue subscription expiring. Each deadline is
    announced once."""
    soon = timezone.now() + timedelta(days=settings.BILLING_REMINDER_DAYS)
    deadline, kind = {
        State.TRIALING: (subscription.trial_ends_at, BillingEvent.Kind.TRIAL_ENDING),
        State.ACTIVE: (subscription.current_period_end if subscription.is_paid else None,
                       BillingEvent.Kind.RENEWAL_UPCOMING),
        State.CANCELED: (subscription.current_period_end, BillingEvent.Kind.CANCELLATION_ENDING),
        State.PAST_DUE: (subscription.grace_ends_at, BillingEvent.Kind.EXPIRY_UPCOMING),
    }.get(subscription.state, (None, None))
    if deadline is not None and deadline <= soon:
        events.record(subscription.tenant, kind, once=deadline.isoformat(), at=deadline.isoformat(),
                      plan=subscription.plan.key)


# Refused calls are not counted: the row stops at the limit.
COUNT_API_CALL = """
    INSERT INTO public.billing_apicallcount AS c (tenant_id, period_start, calls) VALUES (%(tenant)s, %(period)s, 1)
    ON CONFLICT (tenant_id, period_start) DO UPDATE SET calls = c.calls + 1
    WHERE %(limit)s::bigint IS NULL OR c.calls < %(limit)s::bigint
    RETURNING calls
"""


def do_count_api_call(subscription: Subscription) -> int | None:
    """Count one API call against the period's quota, in one statement. Returns the
    period's calls so far, or None when the quota is used up. The call that reaches 80 %
    of the quota warns the owners."""
    limit = subscription.limit(API_CALLS)
    with connection.cursor() as cursor:
        cursor.execute(COUNT_API_CALL, {"tenant": subscription.tenant_id, "period": subscription.current_period_start,
                                        "limit": limit})
        row = cursor.fetchone()
    if row is None:
        return None
    calls = row[0]
    if limit is not None and 5 * calls >= 4 * limit > 5 * (calls - 1):
        quotas.warn_if_near_limit(subscription, API_CALLS, calls)
    return calls


# --- helpers ----------------------------------------------------------------------------------


def _free_plan() -> Plan:
    return Plan.objects.get(key=catalog.FREE)


def _locked(subscription: Subscription, verb: str) -> Subscription:
    locked = Subscription.objects.select_for_update(of=("self",)).select_related("plan", "tenant").get(
        pk=subscription.pk)
    if locked.state not in ALLOWED[verb]:
        raise ValidationError(REFUSED[verb] % {"state": locked.get_state_display()}, code="state")
    locked.locked_state = locked.state
    return locked


def _save(subscription: Subscription) -> None:
    if subscription.state != subscription.locked_state:
        subscription.state_changed_at = timezone.now()
    subscription.save()


def _restart_period(subscription: Subscription) -> None:
    now = timezone.now()
    subscription.state, subscription.grace_ends_at = State.ACTIVE, None
    subscription.current_period_start, subscription.current_period_end = now, add_months(now)


def _fall_back_to_free(subscription, verb, kind, *, actor, reason) -> Subscription:
    with transaction.atomic():
        subscription = _locked(subscription, verb)
        previous = subscription.plan
        subscription.plan = _free_plan()
        subscription.stripe_subscription_id = None
        _restart_period(subscription)
        _save(subscription)
        paused = _pause_what_the_plan_cannot_run(subscription, reason)
        events.record(subscription.tenant, kind, previous_plan=previous.key, paused_bots=paused)
        audit.record(f"billing.{verb}", actor=actor, tenant=subscription.tenant, target=subscription.plan.key,
                     previous_plan=previous.key, paused_bots=paused)
    return subscription


def _pause_what_the_plan_cannot_run(subscription: Subscription, reason: str) -> list[int]:
    """Pause running bots the plan lacks the feature for, and those beyond its bot limit
    (the most recently created first)."""
    plan, limit = subscription.plan, subscription.limit(BOTS)
    keep = []

    def over(bot) -> bool:
        if not plan.allows(bot.strategy) or (limit is not None and len(keep) >= limit):
            return True
        keep.append(bot.pk)
        return False

    return _pause_running(subscription.tenant, over, reason)


def _stop_chosen(tenant, bot_ids, actor, reason: str) -> list[int]:
    ids = {int(pk) for pk in bot_ids}
    with schema_context(tenant.schema_name):
        chosen = list(Bot.objects.filter(pk__in=ids).exclude(state__in=[Bot.State.STOPPED, Bot.State.STOPPING]))
    for bot in chosen:
        bot_actions.do_stop_bot(tenant, bot, actor=actor, reason=reason)
    return sorted(bot.pk for bot in chosen)


def _pause_running(tenant, should_pause, reason: str) -> list[int]:
    with schema_context(tenant.schema_name):
        running = list(Bot.objects.filter(state=Bot.State.RUNNING).order_by("created_at", "id"))
    paused = []
    for bot in running:
        if should_pause(bot):
            try:
                bot_actions.do_pause_bot(tenant, bot, actor=None, reason=reason)
            except ValidationError:
                continue  # paused or stopped meanwhile (by the engine's risk checks, or a person)
            paused.append(bot.pk)
    return paused
