"""do_expire: the grace period ran out unpaid."""

import pytest
from django.core.exceptions import ValidationError

from accounts.actions import do_invite_member
from billing.actions import do_expire, do_mark_past_due
from billing.models import BillingEvent, Subscription
from bots.actions import do_resume_bot, do_start_bot
from exchanges.actions import do_create_connection


@pytest.fixture
def expired(solo):
    solo.paper = paper = solo.connection()
    solo.running = solo.bot(paper, name="Running", start=True)
    solo.draft = solo.bot(paper, name="Draft")
    solo.on("basic")
    do_expire(do_mark_past_due(solo.subscription))
    return solo


def test_expiry_pauses_the_running_bots_and_keeps_the_data(expired):
    assert expired.subscription.state == Subscription.State.EXPIRED
    assert expired.states() == {"Running": "paused", "Draft": "draft"}
    event = BillingEvent.objects.get(tenant=expired.tenant, kind=BillingEvent.Kind.EXPIRED)
    assert event.data["paused_bots"] == [expired.running.pk]


def test_an_expired_workspace_cannot_add_or_start_anything(expired):
    read_only = "read-only because its subscription expired"
    with pytest.raises(ValidationError, match=read_only):
        do_resume_bot(expired.tenant, expired.running, actor=expired.owner)
    with pytest.raises(ValidationError, match=read_only):
        do_start_bot(expired.tenant, expired.draft, actor=expired.owner)
    with pytest.raises(ValidationError, match=read_only):
        expired.bot(expired.paper, name="New")
    with pytest.raises(ValidationError, match=read_only):
        do_create_connection(expired.tenant, label="More", exchange="paper", actor=expired.owner)
    with pytest.raises(ValidationError, match=read_only):
        do_invite_member(expired.tenant, email="new@example.com", role="viewer", actor=expired.owner)


def test_only_an_overdue_subscription_expires(solo):
    solo.on("basic")
    with pytest.raises(ValidationError, match="only an overdue one can"):
        do_expire(solo.subscription)
