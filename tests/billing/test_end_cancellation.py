"""do_end_cancellation: a canceled plan reached the end of its period."""

import pytest
from django.core.exceptions import ValidationError

from billing.actions import do_activate, do_cancel_at_period_end, do_end_cancellation
from billing.models import BillingEvent, Subscription
from tests.billing.conftest import ahead, plan


def test_a_canceled_plan_ends_on_free_and_its_stripe_subscription_is_forgotten(solo):
    paper = solo.connection()
    solo.bot(paper, name="Grid", start=True)
    solo.bot(paper, "signal", name="Signals", start=True)
    do_activate(solo.subscription, plan=plan("pro"), period_end=ahead(days=30), stripe_customer_id="cus_1",
                stripe_subscription_id="sub_1")
    do_cancel_at_period_end(solo.subscription, actor=solo.owner)
    subscription = do_end_cancellation(solo.subscription)
    assert (subscription.plan.key, subscription.state) == ("free", Subscription.State.ACTIVE)
    assert (subscription.stripe_customer_id, subscription.stripe_subscription_id) == ("cus_1", None)
    assert solo.states() == {"Grid": "running", "Signals": "paused"}
    assert BillingEvent.objects.filter(tenant=solo.tenant, kind=BillingEvent.Kind.CANCELLATION_ENDED).exists()


def test_only_a_canceled_plan_ends_this_way(solo):
    solo.on("pro")
    with pytest.raises(ValidationError, match="is not canceled"):
        do_end_cancellation(solo.subscription)
