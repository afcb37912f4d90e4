"""do_renew: a new period (an invoice paid, or an unbilled plan rolling over)."""

import pytest
from django.core.exceptions import ValidationError

from billing.actions import add_months, do_expire, do_mark_past_due, do_renew
from billing.models import Subscription
from tests.billing.conftest import ago, ahead

State = Subscription.State


def test_a_paid_renewal_takes_the_invoice_s_period_and_clears_an_overdue_payment(solo):
    solo.on("basic")
    do_mark_past_due(solo.subscription)
    start, end = ahead(days=1), ahead(days=31)
    subscription = do_renew(solo.subscription, period_start=start, period_end=end)
    assert (subscription.state, subscription.grace_ends_at) == (State.ACTIVE, None)
    assert (subscription.current_period_start, subscription.current_period_end) == (start, end)


def test_without_dates_the_period_rolls_over_to_the_next_month(solo):
    solo.on("free")
    end = solo.subscription.current_period_end
    subscription = do_renew(solo.subscription)
    assert (subscription.current_period_start, subscription.current_period_end) == (end, add_months(end))


def test_a_period_long_past_rolls_over_from_now(solo):
    solo.on("free")
    solo.backdate(current_period_start=ago(days=100), current_period_end=ago(days=70))
    subscription = do_renew(solo.subscription)
    assert subscription.current_period_end > ahead(days=27)


def test_renewing_an_expired_subscription_opens_the_workspace_again(solo):
    solo.on("basic")
    do_expire(do_mark_past_due(solo.subscription))
    assert do_renew(solo.subscription, period_end=ahead(days=30)).state == State.ACTIVE


def test_a_trial_is_not_renewed(solo):
    with pytest.raises(ValidationError, match="cannot be renewed"):
        do_renew(solo.subscription)


def test_months_keep_their_day_or_take_the_last_one():
    from datetime import UTC, datetime

    assert add_months(datetime(2026, 1, 31, 12, tzinfo=UTC)) == datetime(2026, 2, 28, 12, tzinfo=UTC)
    assert add_months(datetime(2026, 12, 15, tzinfo=UTC)) == datetime(2027, 1, 15, tzinfo=UTC)
