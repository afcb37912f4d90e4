"""Plans, add-ons and each workspace's subscription, in the public schema.

Every change of a subscription goes through billing/actions.py; the Stripe webhook
handler (later) calls the same actions."""

import math

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from billing.catalog import EXTENDED_BACKUP_RETENTION_DAYS

# What a plan limits, counted by billing.quotas.
BOTS, CONNECTIONS, MEMBERS, API_CALLS = "bots", "exchange_connections", "members", "api_calls_per_month"
QUOTAS = (BOTS, CONNECTIONS, MEMBERS, API_CALLS)
# Strategies a plan must include, by the plan's flag.
STRATEGY_FEATURES = {"signal": "webhooks_and_signal_bots", "pair_hedge": "pair_spread_hedge"}


class Plan(models.Model):
    """A price and its limits. A limit left empty is unlimited."""

    key = models.SlugField(_("key"), max_length=30, unique=True)
    name = models.CharField(_("name"), max_length=50)
    price_per_month = models.DecimalField(_("price per month (USD)"), max_digits=10, decimal_places=2)
    bots = models.PositiveIntegerField(_("bots"), null=True, blank=True)
    exchange_connections = models.PositiveIntegerField(_("exchange connections"), null=True, blank=True)
    members = models.PositiveIntegerField(_("members"), null=True, blank=True)
    api_calls_per_month = models.PositiveIntegerField(_("API calls a month"), null=True, blank=True)
    api_rate_per_minute = models.PositiveIntegerField(_("API and webhook requests a minute"))
    log_retention_days = models.PositiveIntegerField(_("log retention (days)"))
    backup_retention_days = models.PositiveIntegerField(_("backup retention (days)"))
    webhooks_and_signal_bots = models.BooleanField(_("webhooks and signal bots"), default=False)
    pair_spread_hedge = models.BooleanField(_("pair spread hedge"), default=False)
    is_public = models.BooleanField(_("offered"), default=True,
                                    help_text=_("Shown on the pricing page and offered to customers."))
    stripe_price_id = models.CharField(_("Stripe price id"), max_length=100, blank=True)

    class Meta:
        ordering = ["price_per_month", "key"]
        verbose_name = _("plan")
        verbose_name_plural = _("plans")

    def __str__(self):
        return self.name

    @property
    def is_free(self) -> bool:
        return self.price_per_month == 0

    def allows(self, strategy: str) -> bool:
        feature = STRATEGY_FEATURES.get(strategy)
        return feature is None or getattr(self, feature)


class AddOn(models.Model):
    """Something bought on top of a plan, priced per unit and month."""

    class Key(models.TextChoices):
        EXTRA_BOT_SLOT = "extra_bot_slot", _("Extra bot slot")
        EXTENDED_BACKUP_RETENTION = "extended_backup_retention", _("Extended backup retention")

    key = models.CharField(_("key"), max_length=30, choices=Key.choices, unique=True)
    price_per_month = models.DecimalField(_("price per month (USD)"), max_digits=10, decimal_places=2)
    stripe_price_id = models.CharField(_("Stripe price id"), max_length=100, blank=True)

    class Meta:
        ordering = ["key"]
        verbose_name = _("add-on")
        verbose_name_plural = _("add-ons")

    def __str__(self):
        return self.get_key_display()


class Subscription(models.Model):
    """A workspace's plan and where it stands.

    trialing -> active (paid, or the Free plan when the trial ends); active -> past_due
    (a payment failed: bots keep running for the grace period) -> expired (bots paused,
    read-only) or back to active when paid; active -> canceled (runs to the end of the
    period, then the Free plan). The transitions are billing.actions' do_* functions."""

    class State(models.TextChoices):
        TRIALING = "trialing", _("Trial")
        ACTIVE = "active", _("Active")
        PAST_DUE = "past_due", _("Overdue")
        CANCELED = "canceled", _("Canceled")
        EXPIRED = "expired", _("Expired")

    tenant = models.OneToOneField("tenants.Tenant", on_delete=models.CASCADE, related_name="subscription",
                                  verbose_name=_("workspace"))
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="subscriptions", verbose_name=_("plan"))
    state = models.CharField(_("state"), max_length=10, choices=State.choices)
    state_changed_at = models.DateTimeField(_("state changed"), default=timezone.now)
    current_period_start = models.DateTimeField(_("period start"))
    current_period_end = models.DateTimeField(_("period end"))
    trial_ends_at = models.DateTimeField(_("trial ends"), null=True, blank=True)
    grace_ends_at = models.DateTimeField(_("grace period ends"), null=True, blank=True)
    extra_bot_slots = models.PositiveSmallIntegerField(_("extra bot slots"), default=0)
    extended_backup_retention = models.BooleanField(_("extended backup retention"), default=False)
    stripe_customer_id = models.CharField(max_length=100, unique=True, null=True, blank=True)
    stripe_subscription_id = models.CharField(max_length=100, unique=True, null=True, blank=True)
    # When the newest Stripe event applied to this subscription was created at Stripe:
    # webhooks arrive in any order, and an older one must not undo a newer one.
    stripe_event_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("subscription")
        verbose_name_plural = _("subscriptions")

    def __str__(self):
        return f"{self.tenant} on {self.plan} ({self.state})"

    def limit(self, quota: str) -> int | None:
        """The quota's limit with add-ons; None is unlimited."""
        base = getattr(self.plan, quota)
        if quota == BOTS and base is not None:
            return base + self.extra_bot_slots
        return base

    @property
    def backup_retention_days(self) -> int:
        if self.extended_backup_retention:
            return max(self.plan.backup_retention_days, EXTENDED_BACKUP_RETENTION_DAYS)
        return self.plan.backup_retention_days

    @property
    def is_read_only(self) -> bool:
        return self.state == self.State.EXPIRED

    @property
    def is_paid(self) -> bool:
        """Billed by Stripe, which drives renewals and failed payments through webhooks."""
        return bool(self.stripe_subscription_id)

    def trial_days_left(self, now=None) -> int | None:
        """Started days left, so the last day of a trial reads 1."""
        if self.state != self.State.TRIALING or self.trial_ends_at is None:
            return None
        return max(0, math.ceil((self.trial_ends_at - (now or timezone.now())).total_seconds() / 86400))


class BillingEvent(models.Model):
    """Something the workspace's owners should hear about: reminders before a renewal or
    an expiry, a failed payment, an expiry, a quota at 80 %. The alerts app picks up the
    rows with notified=False and sends them to the owners in their own language, from
    `kind` and `data`."""

    class Kind(models.TextChoices):
        TRIAL_ENDING = "trial_ending", _("Trial ending soon")
        TRIAL_ENDED = "trial_ended", _("Trial ended")
        RENEWAL_UPCOMING = "renewal_upcoming", _("Renewal coming up")
        PAYMENT_FAILED = "payment_failed", _("Payment failed")
        EXPIRY_UPCOMING = "expiry_upcoming", _("Expiry coming up")
        EXPIRED = "expired", _("Subscription expired")
        CANCELLATION_ENDING = "cancellation_ending", _("Canceled plan ending soon")
        CANCELLATION_ENDED = "cancellation_ended", _("Canceled plan ended")
        QUOTA_WARNING = "quota_warning", _("Quota at 80 %")

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="billing_events",
                               verbose_name=_("workspace"))
    kind = models.CharField(_("kind"), max_length=30, choices=Kind.choices)
    data = models.JSONField(default=dict, blank=True)
    # Makes an event once-only (a reminder per deadline, a warning per quota and period).
    once_key = models.CharField(max_length=100, null=True, blank=True)
    notified = models.BooleanField(_("notified"), default=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "once_key"], name="billing_event_once")]
        indexes = [models.Index(fields=["notified", "created_at"])]
        ordering = ["-created_at", "-id"]
        verbose_name = _("billing event")
        verbose_name_plural = _("billing events")

    def __str__(self):
        return f"{self.get_kind_display()} ({self.tenant})"


class StripeEvent(models.Model):
    """A Stripe webhook event received, stored in the transaction that applies it, so
    that a delivery Stripe repeats (it retries until it gets a 2xx) is applied once."""

    class Outcome(models.TextChoices):
        PROCESSED = "processed", _("Processed")
        IGNORED = "ignored", _("Ignored")

    event_id = models.CharField(_("event id"), max_length=100, unique=True)
    type = models.CharField(_("type"), max_length=100)
    created = models.DateTimeField(_("created at Stripe"))
    received_at = models.DateTimeField(_("received"), auto_now_add=True)
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices)
    # Why it was ignored, or what it changed; for staff reading the admin.
    note = models.CharField(_("note"), max_length=200, blank=True)
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="+", verbose_name=_("workspace"))

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = _("Stripe event")
        verbose_name_plural = _("Stripe events")

    def __str__(self):
        return f"{self.type} {self.event_id}"


class ApiCallCount(models.Model):
    """API calls of a workspace in one billing period, for the monthly quota. Logged,
    unlike the per-minute counters: it is what the customer pays for."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    period_start = models.DateTimeField()
    calls = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "period_start"], name="api_calls_per_period")]
