"""do_cancel_at_period_end: the plan runs to the end of the paid period."""

import pytest
from django.core.exceptions import ValidationError

from billing.actions import do_cancel_at_period_end
from billing.models import Subscription


def test_a_canceled_plan_keeps_running_until_the_period_ends(solo):
    solo.bot(solo.connection(), start=True)
    solo.on("pro")
    subscription = do_cancel_at_period_end(solo.subscription, actor=solo.owner)
    assert (subscription.state, subscription.plan.key) == (Subscription.State.CANCELED, "pro")
    assert solo.states() == {"Bot": "running"}
    assert not subscription.is_read_only


def test_the_free_plan_has_nothing_to_cancel(solo):
    solo.on("free")
    with pytest.raises(ValidationError, match="nothing to cancel"):
        do_cancel_at_period_end(solo.subscription, actor=solo.owner)


def test_a_trial_is_not_canceled_but_left_to_end(solo):
    with pytest.raises(ValidationError, match="cannot be canceled"):
        do_cancel_at_period_end(solo.subscription, actor=solo.owner)
