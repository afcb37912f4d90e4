"""do_start_subscription: what a new workspace is on."""

from datetime import timedelta

from accounts.models import AuditEvent
from billing.models import Subscription
from tests.billing.conftest import ahead


def test_a_new_workspace_starts_a_fourteen_day_pro_trial(solo):
    subscription = solo.subscription
    assert (subscription.plan.key, subscription.state) == ("pro", Subscription.State.TRIALING)
    assert abs(subscription.trial_ends_at - ahead(days=14)) < timedelta(minutes=1)
    assert subscription.current_period_end == subscription.trial_ends_at
    assert subscription.trial_days_left() == 14
    assert AuditEvent.objects.filter(action="billing.subscription_started", tenant=solo.tenant).exists()


def test_the_trial_s_length_and_plan_are_settings(make_solo, settings):
    settings.BILLING_TRIAL_DAYS, settings.BILLING_TRIAL_PLAN = 30, "premium"
    subscription = make_solo().subscription
    assert subscription.plan.key == "premium"
    assert subscription.trial_days_left() == 30


def test_with_no_trial_a_new_workspace_starts_on_the_free_plan(make_solo, settings):
    settings.BILLING_TRIAL_DAYS = 0
    subscription = make_solo().subscription
    assert (subscription.plan.key, subscription.state) == ("free", Subscription.State.ACTIVE)
    assert subscription.trial_ends_at is None
    assert abs(subscription.current_period_end - ahead(days=30)) < timedelta(days=2)
