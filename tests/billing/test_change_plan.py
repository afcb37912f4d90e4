"""do_change_plan: upgrades and downgrades at once; a downgrade that leaves the
workspace over the new plan's limits stops only the bots the owner chose."""

import pytest
from django.core.exceptions import ValidationError

from accounts.models import AuditEvent, Membership, Role
from billing.actions import do_change_plan, do_expire, do_mark_past_due
from billing.models import Subscription
from tests.billing.conftest import plan
from tests.conftest import make_user

State = Subscription.State


@pytest.fixture
def busy(solo):
    """On Pro: one paper account, three grid bots (two running) and a signal bot."""
    solo.on("pro")
    paper = solo.connection()
    solo.grids = [solo.bot(paper, name=f"Grid {n}", start=n < 3) for n in (1, 2, 3)]
    solo.signal = solo.bot(paper, "signal", name="Signals", start=True)
    return solo


def test_an_upgrade_applies_at_once(solo):
    solo.on("basic")
    subscription = do_change_plan(solo.subscription, plan=plan("premium"), actor=solo.owner)
    assert (subscription.plan.key, subscription.state) == ("premium", State.ACTIVE)
    assert subscription.limit("bots") == 50
    assert AuditEvent.objects.get(action="billing.plan_changed", target="premium").data["previous"] == "basic"


def test_a_downgrade_over_the_limits_says_what_must_go_and_changes_nothing(busy):
    with pytest.raises(ValidationError) as refused:
        do_change_plan(busy.subscription, plan=plan("free"), actor=busy.owner)
    assert refused.value.messages == [
        "The Free plan does not include the strategy of: Signals. Stop those bots.",
        "The Free plan allows 1 bot; choose 3 more to stop.",
    ]
    assert busy.subscription.plan.key == "pro"
    assert set(busy.states().values()) == {"running", "draft"}


def test_the_chosen_bots_are_stopped_and_the_plan_applies(busy):
    chosen = [busy.grids[1].pk, busy.grids[2].pk, busy.signal.pk]
    subscription = do_change_plan(busy.subscription, plan=plan("free"), actor=busy.owner, stop_bots=chosen)
    assert subscription.plan.key == "free"
    # Running bots cancel their orders first; a draft is stopped at once.
    assert busy.states() == {"Grid 1": "running", "Grid 2": "stopping", "Grid 3": "stopped", "Signals": "stopping"}
    assert AuditEvent.objects.get(action="billing.plan_changed", target="free").data["stopped_bots"] == sorted(chosen)


def test_bots_the_new_plan_cannot_run_must_be_among_those_stopped(busy):
    busy.on("premium")
    with pytest.raises(ValidationError, match="does not include the strategy of: Signals"):
        do_change_plan(busy.subscription, plan=plan("basic"), actor=busy.owner, stop_bots=[busy.grids[0].pk])
    do_change_plan(busy.subscription, plan=plan("basic"), actor=busy.owner, stop_bots=[busy.signal.pk])
    assert busy.subscription.plan.key == "basic"


def test_connections_and_members_over_the_new_limits_must_go_first(solo):
    solo.on("basic")
    for label in ("One", "Two", "Three"):
        solo.connection(label)
    Membership.objects.create(user=make_user("colleague"), tenant=solo.tenant, role=Role.TRADER)
    with pytest.raises(ValidationError) as refused:
        do_change_plan(solo.subscription, plan=plan("free"), actor=solo.owner)
    assert refused.value.messages == [
        "The Free plan allows 2 exchange connections and this workspace has 3: delete some first.",
        "The Free plan allows 1 member and this workspace has 2: remove some first.",
    ]


def test_only_bots_that_are_not_stopped_can_be_chosen(busy):
    with pytest.raises(ValidationError, match="Only bots that are not stopped yet"):
        do_change_plan(busy.subscription, plan=plan("free"), actor=busy.owner, stop_bots=[987654])


def test_choosing_free_ends_a_trial(solo):
    subscription = do_change_plan(solo.subscription, plan=plan("free"), actor=solo.owner)
    assert (subscription.plan.key, subscription.state) == ("free", State.ACTIVE)


def test_choosing_free_opens_an_expired_workspace_again(solo):
    solo.on("basic")
    do_expire(do_mark_past_due(solo.subscription))
    with pytest.raises(ValidationError, match="needs a payment"):
        do_change_plan(solo.subscription, plan=plan("pro"), actor=solo.owner)
    assert do_change_plan(solo.subscription, plan=plan("free"), actor=solo.owner).state == State.ACTIVE


def test_staff_granting_the_trial_s_plan_converts_the_trial(solo):
    subscription = solo.on("pro")
    assert (subscription.state, subscription.trial_days_left()) == (State.ACTIVE, None)


def test_moving_to_the_plan_one_is_on_is_refused(solo):
    solo.on("basic")
    with pytest.raises(ValidationError, match="on the Basic plan already"):
        solo.on("basic")
