"""do_activate: a plan paid for (Checkout completed), from any state."""

import pytest
from django.core.exceptions import ValidationError

from accounts.models import AuditEvent
from billing.actions import do_activate, do_expire, do_mark_past_due
from billing.models import Subscription
from tests.billing.conftest import ahead, plan

State = Subscription.State


def test_paying_during_the_trial_makes_it_active_on_the_plan_with_the_stripe_ids(solo):
    subscription = do_activate(solo.subscription, plan=plan("basic"), period_end=ahead(days=30),
                               stripe_customer_id="cus_1", stripe_subscription_id="sub_1", actor=solo.owner)
    assert (subscription.state, subscription.plan.key) == (State.ACTIVE, "basic")
    assert (subscription.stripe_customer_id, subscription.stripe_subscription_id) == ("cus_1", "sub_1")
    assert subscription.is_paid
    assert AuditEvent.objects.get(action="billing.activated").data["previous_state"] == State.TRIALING


def test_an_expired_workspace_paid_again_is_writable_but_its_bots_stay_paused_until_resumed(solo):
    solo.bot(solo.connection(), start=True)
    solo.on("pro")
    do_expire(do_mark_past_due(solo.subscription))
    do_activate(solo.subscription, plan=plan("pro"), period_end=ahead(days=30))
    assert solo.subscription.state == State.ACTIVE
    solo.bot(solo.connection("Second"), name="Another")  # no longer read-only
    assert solo.states() == {"Bot": "paused", "Another": "draft"}


def test_activating_a_smaller_plan_never_refuses_but_pauses_what_it_cannot_run(solo):
    paper = solo.connection()
    for name in ("Grid 1", "Grid 2"):
        solo.bot(paper, name=name, start=True)
    solo.bot(paper, "signal", name="Signals", start=True)
    do_activate(solo.subscription, plan=plan("free"), period_end=ahead(days=30))
    assert solo.states() == {"Grid 1": "running", "Grid 2": "paused", "Signals": "paused"}
    with pytest.raises(ValidationError, match="allows 1 bot"):
        solo.bot(paper, name="More")
