"""do_mark_past_due: a failed payment starts the grace period."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from billing.actions import do_mark_past_due
from billing.models import BillingEvent, Subscription
from tests.billing.conftest import ahead


def test_a_failed_payment_starts_a_grace_period_while_bots_keep_running(solo, settings):
    solo.bot(solo.connection(), start=True)
    solo.on("basic")
    subscription = do_mark_past_due(solo.subscription)
    assert subscription.state == Subscription.State.PAST_DUE
    assert abs(subscription.grace_ends_at - ahead(days=settings.BILLING_GRACE_DAYS)) < timedelta(minutes=1)
    assert solo.states() == {"Bot": "running"}
    event = BillingEvent.objects.get(tenant=solo.tenant)
    assert (event.kind, event.notified) == (BillingEvent.Kind.PAYMENT_FAILED, False)


def test_the_grace_period_is_a_setting(solo, settings):
    settings.BILLING_GRACE_DAYS = 3
    solo.on("basic")
    assert do_mark_past_due(solo.subscription).grace_ends_at < ahead(days=3, minutes=1)


def test_failing_again_does_not_extend_the_grace(solo):
    solo.on("basic")
    first = do_mark_past_due(solo.subscription).grace_ends_at
    assert do_mark_past_due(solo.subscription).grace_ends_at == first
    assert BillingEvent.objects.filter(tenant=solo.tenant).count() == 1


def test_a_trial_has_no_payment_to_fail(solo):
    with pytest.raises(ValidationError, match="has no payment to be overdue"):
        do_mark_past_due(solo.subscription)
