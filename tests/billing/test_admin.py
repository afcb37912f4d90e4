"""Plans and subscriptions in the staff admin: edits and actions go through billing.actions."""

from decimal import Decimal

import pytest

from accounts.models import AuditEvent, User
from billing.models import Plan, Subscription
from tests.billing.conftest import text


@pytest.fixture
def staff_client(public_client):
    public_client.force_login(User.objects.create_superuser("staff@example.com", "staff password 123"))
    return public_client


def change_form(subscription, **changes):
    return {"plan": subscription.plan_id, "extra_bot_slots": subscription.extra_bot_slots,
            "extended_backup_retention": "on" if subscription.extended_backup_retention else "", **changes}


@pytest.mark.parametrize("path", ["/admin/billing/plan/", "/admin/billing/addon/", "/admin/billing/subscription/",
                                  "/admin/billing/billingevent/", "/admin/billing/stripeevent/"])
def test_staff_reach_the_billing_admin(staff_client, solo, path):
    assert staff_client.get(path).status_code == 200


def test_staff_edit_a_plan_s_price_and_limits(staff_client):
    basic = Plan.objects.get(key="basic")
    form = {field: getattr(basic, field) for field in ("key", "name", "bots", "exchange_connections", "members",
                                                       "api_calls_per_month", "api_rate_per_minute",
                                                       "log_retention_days", "backup_retention_days")}
    form.update(price_per_month="25", bots="4", is_public="on", stripe_price_id="")
    assert staff_client.post(f"/admin/billing/plan/{basic.pk}/change/", form).status_code == 302
    basic.refresh_from_db()
    assert (basic.price_per_month, basic.bots) == (Decimal("25"), 4)


def test_a_plan_changed_in_the_admin_goes_through_the_action(staff_client, solo):
    subscription = solo.subscription
    premium = Plan.objects.get(key="premium")
    response = staff_client.post(f"/admin/billing/subscription/{subscription.pk}/change/",
                                 change_form(subscription, plan=premium.pk, extra_bot_slots="2"))
    assert response.status_code == 302
    subscription = solo.subscription
    assert (subscription.plan.key, subscription.state, subscription.extra_bot_slots) == ("premium", "active", 2)
    assert AuditEvent.objects.get(action="billing.plan_changed").actor.email == "staff@example.com"
    assert AuditEvent.objects.filter(action="billing.addons_changed").exists()


def test_a_change_the_action_refuses_is_reported_and_not_saved(staff_client, solo):
    paper = solo.connection()
    solo.bot(paper, name="One")
    solo.bot(paper, name="Two")
    subscription = solo.subscription
    response = staff_client.post(f"/admin/billing/subscription/{subscription.pk}/change/",
                                 change_form(subscription, plan=Plan.objects.get(key="free").pk), follow=True)
    page = text(response)
    assert "The Free plan allows 1 bot; choose 1 more to stop." in page
    assert "was changed successfully" not in page
    assert solo.subscription.plan.key == "pro"


def test_the_list_s_actions_run_the_transitions_and_report_refusals(staff_client, make_solo):
    trial, basic = make_solo("Trial"), make_solo("Basic")
    basic.on("basic")
    ids = [trial.subscription.pk, basic.subscription.pk]
    response = staff_client.post("/admin/billing/subscription/", {"action": "mark_past_due",
                                                                  "_selected_action": ids}, follow=True)
    page = text(response)
    assert "Marked 1 subscription overdue." in page
    assert "Trial: A subscription in the “Trial” state has no payment to be overdue." in page
    assert basic.subscription.state == Subscription.State.PAST_DUE
    staff_client.post("/admin/billing/subscription/", {"action": "expire", "_selected_action": ids})
    assert basic.subscription.state == Subscription.State.EXPIRED
    staff_client.post("/admin/billing/subscription/", {"action": "activate_for_a_month", "_selected_action": ids})
    assert {trial.subscription.state, basic.subscription.state} == {Subscription.State.ACTIVE}


def test_subscriptions_are_neither_added_nor_deleted_in_the_admin(staff_client, solo):
    assert staff_client.get("/admin/billing/subscription/add/").status_code == 403
    assert staff_client.get(f"/admin/billing/subscription/{solo.subscription.pk}/delete/").status_code == 403


def test_stripe_events_are_listed_for_staff_and_never_edited(staff_client, solo):
    from django.utils import timezone

    from billing.models import StripeEvent

    event = StripeEvent.objects.create(event_id="evt_test_1", type="invoice.paid", created=timezone.now(),
                                       outcome=StripeEvent.Outcome.IGNORED, note="period already applied",
                                       tenant=solo.tenant)
    listing = text(staff_client.get("/admin/billing/stripeevent/"))
    assert "evt_test_1" in listing and "period already applied" in listing
    assert staff_client.post(f"/admin/billing/stripeevent/{event.pk}/change/", {"note": "edited"}).status_code == 403
    assert staff_client.get("/admin/billing/stripeevent/add/").status_code == 403
