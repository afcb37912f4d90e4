"""The billing banner of the workspace layout."""

import pytest

from billing.actions import do_cancel_at_period_end, do_expire, do_mark_past_due
from tests.billing.conftest import ahead, text


def banner(solo) -> str:
    response = solo.client().get("/bots/")
    content = response.content.decode()
    if 'id="billing-notice"' not in content:
        return ""
    start = content.index('id="billing-notice"')
    return text(content[start:content.index("</ul>", start)])


def test_a_fresh_trial_shows_no_banner(solo):
    assert banner(solo) == ""


def test_a_trial_within_the_reminder_days_says_when_it_ends(solo):
    solo.backdate(trial_ends_at=ahead(days=2, hours=3))
    assert "The Pro trial ends in 3 days; then the workspace moves to the Free plan." in banner(solo)


def test_an_overdue_payment_says_how_long_bots_keep_running(solo):
    do_mark_past_due(solo.on("basic"))
    assert "A payment failed. Bots keep running until" in banner(solo)


def test_an_expired_subscription_says_the_workspace_is_read_only(solo):
    do_expire(do_mark_past_due(solo.on("basic")))
    assert "bots are paused and the workspace is read-only" in banner(solo)


def test_a_canceled_plan_says_when_it_ends(solo):
    do_cancel_at_period_end(solo.on("pro"), actor=None)
    assert "The Pro plan is canceled and ends on" in banner(solo)


@pytest.mark.parametrize("plan", ["free", "premium"])
def test_an_active_plan_shows_no_banner(solo, plan):
    solo.on(plan)
    assert banner(solo) == ""
