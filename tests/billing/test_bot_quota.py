"""The plan's bots and strategies, enforced by creating, starting and resuming bots."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from billing import quotas
from billing.models import BillingEvent
from bots.actions import do_pause_bot, do_resume_bot, do_start_bot, do_stop_bot


def test_creating_a_bot_beyond_the_plan_is_refused_with_a_clear_message(solo):
    solo.on("free")
    paper = solo.connection()
    solo.bot(paper, name="Only")
    with pytest.raises(quotas.QuotaExceeded) as refused:
        solo.bot(paper, name="Second")
    assert refused.value.code == "quota"
    assert refused.value.messages == ["The Free plan allows 1 bot, and this workspace has 1 (stopped bots do not "
                                      "count). Stop or delete a bot, or upgrade the plan."]
    assert solo.states() == {"Only": "draft"}


def test_stopped_bots_do_not_count(solo):
    solo.on("free")
    paper = solo.connection()
    do_stop_bot(solo.tenant, solo.bot(paper, name="Old"), actor=solo.owner)
    solo.bot(paper, name="New")
    assert solo.states() == {"Old": "stopped", "New": "draft"}


def test_starting_a_stopped_bot_again_needs_a_free_slot(solo):
    solo.on("free")
    paper = solo.connection()
    old = solo.bot(paper, name="Old")
    do_stop_bot(solo.tenant, old, actor=solo.owner)
    solo.bot(paper, name="New")
    with pytest.raises(ValidationError, match="allows 1 bot"):
        do_start_bot(solo.tenant, old, actor=solo.owner)


def test_a_draft_takes_its_own_slot_so_it_can_start_at_the_limit(solo):
    solo.on("free")
    bot = solo.bot(solo.connection())
    do_pause_bot(solo.tenant, do_start_bot(solo.tenant, bot, actor=solo.owner), actor=solo.owner)
    do_resume_bot(solo.tenant, bot, actor=solo.owner)
    assert solo.states() == {"Bot": "running"}


@pytest.mark.parametrize("strategy, message", [
    ("signal", "Signal bots and webhooks are not part of the Basic plan"),
    ("pair_hedge", "The pair spread hedge is not part of the Basic plan"),
])
def test_signal_and_pair_hedge_bots_need_a_plan_that_includes_them(solo, strategy, message):
    solo.on("basic")
    with pytest.raises(quotas.QuotaExceeded, match=message):
        solo.bot(solo.connection(), strategy)


def test_the_owners_are_warned_once_a_period_when_a_quota_reaches_80_percent(solo):
    solo.on("basic")
    paper = solo.connection()
    warnings = BillingEvent.objects.filter(tenant=solo.tenant, kind=BillingEvent.Kind.QUOTA_WARNING,
                                           data__quota="bots")
    solo.bot(paper, name="1")
    solo.bot(paper, name="2")  # 2 of 3: 67 %
    assert not warnings.exists()
    third = solo.bot(paper, name="3")
    do_stop_bot(solo.tenant, third, actor=solo.owner)
    solo.bot(paper, name="4")
    assert [(w.data["used"], w.data["limit"], w.notified) for w in warnings] == [(3, 3, False)]


def test_two_requests_racing_for_the_last_slot_are_served_one_after_the_other(transactional_db, make_solo):
    solo = make_solo("Racing")
    solo.on("free")
    paper = solo.connection()
    outcome = {}

    def second_request():
        try:
            solo.bot(paper, name="Second")
            outcome["second"] = "created"
        except ValidationError as refused:
            outcome["second"] = refused.messages[0]
        finally:
            connection.close()

    with transaction.atomic():
        solo.bot(paper, name="First")  # holds the subscription's lock until commit
        racer = threading.Thread(target=second_request)
        racer.start()
        racer.join(timeout=1)
        assert racer.is_alive(), "the second request must wait for the first to commit"
    racer.join(timeout=10)
    assert outcome["second"].startswith("The Free plan allows 1 bot, and this workspace has 1")
    assert solo.states() == {"First": "draft"}
