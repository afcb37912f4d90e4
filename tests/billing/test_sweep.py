"""billing.tasks.sweep, the hourly django-q2 schedule that moves subscriptions along."""

from django_q.models import Schedule

from billing.actions import do_activate, do_cancel_at_period_end, do_mark_past_due
from billing.models import BillingEvent, Subscription
from billing.tasks import sweep
from bots.tasks import ensure_schedules
from tests.billing.conftest import ago, ahead, plan

State = Subscription.State


def kinds(solo) -> list[str]:
    return sorted(BillingEvent.objects.filter(tenant=solo.tenant).values_list("kind", flat=True))


def test_it_is_scheduled_every_hour(db):
    ensure_schedules()
    schedule = Schedule.objects.get(name="billing sweep")
    assert (schedule.func, schedule.schedule_type) == ("billing.tasks.sweep", Schedule.HOURLY)


def test_a_trial_that_ran_out_moves_to_free(solo):
    solo.bot(solo.connection(), "signal", name="Signals", start=True)
    solo.backdate(trial_ends_at=ago(minutes=1))
    assert sweep()["trials ended"] == 1
    assert (solo.subscription.plan.key, solo.subscription.state) == ("free", State.ACTIVE)
    assert solo.states() == {"Signals": "paused"}


def test_a_past_due_subscription_expires_after_the_grace_period_and_pauses_bots(solo):
    solo.bot(solo.connection(), start=True)
    solo.on("basic")
    do_mark_past_due(solo.subscription)
    assert sweep()["expired"] == 0
    assert solo.states() == {"Bot": "running"}
    solo.backdate(grace_ends_at=ago(seconds=1))
    assert sweep()["expired"] == 1
    assert solo.subscription.state == State.EXPIRED
    assert solo.states() == {"Bot": "paused"}


def test_a_canceled_plan_moves_to_free_when_its_period_ends(solo):
    solo.on("pro")
    do_cancel_at_period_end(solo.subscription, actor=solo.owner)
    solo.backdate(current_period_end=ago(minutes=5))
    assert sweep()["cancellations ended"] == 1
    assert solo.subscription.plan.key == "free"


def test_an_unbilled_period_rolls_over_but_stripe_renews_its_own(make_solo):
    free, paid = make_solo("Free one"), make_solo("Paid one")
    free.on("free")
    do_activate(paid.subscription, plan=plan("pro"), period_end=ahead(days=30), stripe_subscription_id="sub_1")
    for solo in (free, paid):
        solo.backdate(current_period_end=ago(minutes=1))
    assert sweep()["renewed"] == 1
    assert free.subscription.current_period_end > ahead(days=27)
    assert paid.subscription.current_period_end < ago(seconds=59)


def test_owners_are_reminded_once_of_each_deadline_within_the_reminder_days(make_solo, settings):
    settings.BILLING_REMINDER_DAYS = 3
    trial, paid, canceled, overdue, later = (make_solo(name) for name in ("Trial", "Paid", "Canceled", "Overdue",
                                                                            "Later"))
    trial.backdate(trial_ends_at=ahead(days=2))
    do_activate(paid.subscription, plan=plan("pro"), period_end=ahead(days=2), stripe_subscription_id="sub_p")
    do_cancel_at_period_end(do_activate(canceled.subscription, plan=plan("pro"), period_end=ahead(days=1)),
                            actor=None)
    do_mark_past_due(overdue.on("basic"))
    overdue.backdate(grace_ends_at=ahead(days=1))
    do_activate(later.subscription, plan=plan("pro"), period_end=ahead(days=10), stripe_subscription_id="sub_l")
    assert sweep()["reminders"] == 4
    sweep()
    assert kinds(trial) == ["trial_ending"]
    assert kinds(paid) == ["renewal_upcoming"]
    assert kinds(canceled) == ["cancellation_ending"]
    assert kinds(overdue) == ["expiry_upcoming", "payment_failed"]
    assert kinds(later) == []
    assert BillingEvent.objects.get(tenant=trial.tenant).data["at"] == trial.subscription.trial_ends_at.isoformat()


def test_a_sweep_only_touches_the_workspaces_that_are_due(make_solo):
    due, other = make_solo("Due"), make_solo("Other")
    due.backdate(trial_ends_at=ago(minutes=1))
    sweep()
    assert due.subscription.plan.key == "free"
    assert other.subscription.state == State.TRIALING
    assert kinds(other) == []
