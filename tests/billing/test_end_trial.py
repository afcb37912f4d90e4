"""do_end_trial: the trial ran out with nothing bought."""

import pytest
from django.core.exceptions import ValidationError
from django_tenants.utils import schema_context

from billing.actions import do_end_trial
from billing.models import BillingEvent, Subscription
from bots.actions import do_resume_bot
from bots.models import Bot


def test_the_workspace_moves_to_free_and_the_bots_free_cannot_run_are_paused(solo):
    paper = solo.connection()
    for name in ("Oldest grid", "Newer grid"):
        solo.bot(paper, name=name, start=True)
    solo.bot(paper, "signal", name="Signals", start=True)
    solo.bot(paper, "pair_hedge", name="Pair", start=True)
    subscription = do_end_trial(solo.subscription)
    assert (subscription.plan.key, subscription.state) == ("free", Subscription.State.ACTIVE)
    assert solo.states() == {"Oldest grid": "running", "Newer grid": "paused", "Signals": "paused", "Pair": "paused"}
    with schema_context(solo.tenant.schema_name):
        assert Bot.objects.get(name="Signals").state_reason.startswith("Paused: the trial ended")
    event = BillingEvent.objects.get(tenant=solo.tenant, kind=BillingEvent.Kind.TRIAL_ENDED)
    assert len(event.data["paused_bots"]) == 3


def test_a_paused_bot_cannot_be_resumed_while_the_workspace_is_over_the_free_plan(solo):
    paper = solo.connection()
    solo.bot(paper, name="First", start=True)
    second = solo.bot(paper, name="Second", start=True)
    do_end_trial(solo.subscription)
    with pytest.raises(ValidationError, match="The Free plan allows 1 bot, and this workspace has 1"):
        do_resume_bot(solo.tenant, second, actor=solo.owner)


def test_nothing_is_paused_when_the_workspace_fits_the_free_plan(solo):
    solo.bot(solo.connection(), start=True)
    do_end_trial(solo.subscription)
    assert solo.states() == {"Bot": "running"}


def test_only_a_trial_ends(solo):
    solo.on("basic")
    with pytest.raises(ValidationError, match="has no trial to end"):
        do_end_trial(solo.subscription)
