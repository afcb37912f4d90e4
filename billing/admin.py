from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy, ngettext

from billing import actions
from billing.models import AddOn, BillingEvent, Plan, StripeEvent, Subscription
from tenants.admin import RecordAdmin


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ["name", "key", "price_per_month", "bots", "exchange_connections", "members",
                    "api_calls_per_month", "api_rate_per_minute", "webhooks_and_signal_bots", "pair_spread_hedge",
                    "is_public"]
    list_editable = ["is_public"]


@admin.register(AddOn)
class AddOnAdmin(admin.ModelAdmin):
    list_display = ["key", "price_per_month", "stripe_price_id"]


def _each(modeladmin, request, queryset, action, done):
    """Run an action on each chosen subscription; refusals are reported, not raised."""
    changed = 0
    for subscription in queryset.select_related("tenant"):
        try:
            action(subscription)
        except ValidationError as refused:
            modeladmin.message_user(request, f"{subscription.tenant}: {' '.join(refused.messages)}", messages.ERROR)
        else:
            changed += 1
    if changed:
        modeladmin.message_user(request, done(changed) % {"n": changed}, messages.SUCCESS)


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    """Plan and add-ons are edited here; every other change is an action from the list.
    Both go through billing.actions, which check the transition and the quotas."""

    list_display = ["tenant", "plan", "state", "current_period_end", "trial_ends_at", "grace_ends_at",
                    "extra_bot_slots", "extended_backup_retention"]
    list_filter = ["state", "plan"]
    search_fields = ["tenant__name", "tenant__slug", "stripe_customer_id", "stripe_subscription_id"]
    list_select_related = ["tenant", "plan"]
    fields = ["tenant", "plan", "extra_bot_slots", "extended_backup_retention", "state", "state_changed_at",
              "current_period_start", "current_period_end", "trial_ends_at", "grace_ends_at", "stripe_customer_id",
              "stripe_subscription_id", "created_at", "updated_at"]
    readonly_fields = [name for name in fields if name not in ("plan", "extra_bot_slots", "extended_backup_retention")]
    actions = ["activate_for_a_month", "renew", "mark_past_due", "expire", "cancel_at_period_end", "end_trial"]

    def has_add_permission(self, request):
        # Every workspace gets its subscription when it is created.
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        current = Subscription.objects.get(pk=obj.pk)
        try:
            if "plan" in form.changed_data:
                current = actions.do_change_plan(current, plan=obj.plan, actor=request.user)
            if {"extra_bot_slots", "extended_backup_retention"} & set(form.changed_data):
                actions.do_set_addons(current, extra_bot_slots=obj.extra_bot_slots,
                                      extended_backup_retention=obj.extended_backup_retention, actor=request.user)
        except ValidationError as refused:
            request.billing_refused = True
            self.message_user(request, " ".join(refused.messages), messages.ERROR)

    def message_user(self, request, message, level=messages.INFO, *args, **kwargs):
        if getattr(request, "billing_refused", False) and level == messages.SUCCESS:
            return
        super().message_user(request, message, level, *args, **kwargs)

    @admin.action(description=gettext_lazy("Activate on its plan for a month (no payment)"))
    def activate_for_a_month(self, request, queryset):
        _each(self, request, queryset, lambda s: actions.do_activate(
            s, plan=s.plan, period_end=actions.add_months(timezone.now()), actor=request.user),
            lambda n: ngettext("Activated %(n)d subscription.", "Activated %(n)d subscriptions.", n))

    @admin.action(description=gettext_lazy("Renew for the next month"))
    def renew(self, request, queryset):
        _each(self, request, queryset, lambda s: actions.do_renew(s, actor=request.user),
              lambda n: ngettext("Renewed %(n)d subscription.", "Renewed %(n)d subscriptions.", n))

    @admin.action(description=gettext_lazy("Mark the payment overdue (grace period)"))
    def mark_past_due(self, request, queryset):
        _each(self, request, queryset, lambda s: actions.do_mark_past_due(s, actor=request.user),
              lambda n: ngettext("Marked %(n)d subscription overdue.", "Marked %(n)d subscriptions overdue.", n))

    @admin.action(description=gettext_lazy("Expire now (pauses bots, read-only)"))
    def expire(self, request, queryset):
        _each(self, request, queryset, lambda s: actions.do_expire(s, actor=request.user),
              lambda n: ngettext("Expired %(n)d subscription.", "Expired %(n)d subscriptions.", n))

    @admin.action(description=gettext_lazy("Cancel at the end of the period"))
    def cancel_at_period_end(self, request, queryset):
        _each(self, request, queryset, lambda s: actions.do_cancel_at_period_end(s, actor=request.user),
              lambda n: ngettext("Canceled %(n)d subscription at the end of its period.",
                                       "Canceled %(n)d subscriptions at the end of their period.", n))

    @admin.action(description=gettext_lazy("End the trial now (Free plan)"))
    def end_trial(self, request, queryset):
        _each(self, request, queryset, lambda s: actions.do_end_trial(s, actor=request.user),
              lambda n: ngettext("Ended %(n)d trial.", "Ended %(n)d trials.", n))


@admin.register(BillingEvent)
class BillingEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "kind", "tenant", "notified"]
    list_filter = ["kind", "notified"]
    search_fields = ["tenant__name", "tenant__slug"]
    list_select_related = ["tenant"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(StripeEvent)
class StripeEventAdmin(RecordAdmin):
    """What Stripe told us and what became of it: a record, never edited."""

    list_display = ["received_at", "type", "outcome", "tenant", "event_id", "note"]
    list_filter = ["type", "outcome"]
    search_fields = ["event_id", "tenant__name", "tenant__slug"]
    list_select_related = ["tenant"]
