"""The change-plan page: the Free plan at once, paid plans through payment, and a
downgrade that asks which bots to stop."""

import pytest

from accounts.models import Membership, Role
from tests.billing.conftest import text
from tests.conftest import make_user


@pytest.fixture
def busy(solo):
    """On the Pro trial with three bots, one of them a signal bot."""
    paper = solo.connection()
    solo.grids = [solo.bot(paper, name=f"Grid {n}", start=True) for n in (1, 2)]
    solo.signal = solo.bot(paper, "signal", name="Signals", start=True)
    return solo


def test_only_owners_and_admins_may_change_the_plan(acme):
    assert acme.client(acme.trader).get("/settings/plan/change/").status_code == 403
    assert acme.client(acme.trader).post("/settings/plan/change/", {"plan": "free"}).status_code == 403
    assert acme.client(acme.admin).get("/settings/plan/change/").status_code == 200


def test_the_page_lists_the_offered_plans(solo):
    response = solo.client().get("/settings/plan/change/")
    assert [plan.key for plan in response.context["plans"]] == ["free", "basic", "pro", "premium"]
    assert "Unlimited members" in text(response)


def test_a_paid_plan_without_stripe_says_billing_is_not_configured_and_changes_nothing(busy, settings):
    settings.STRIPE_SECRET_KEY = ""
    response = busy.client().post("/settings/plan/change/", {"plan": "premium"}, follow=True)
    assert "Billing is not configured on this server" in text(response)
    assert busy.subscription.plan.key == "pro"


def test_choosing_free_with_too_many_bots_lists_them_with_those_free_cannot_run_ticked(busy):
    response = busy.client().post("/settings/plan/change/", {"plan": "free"})
    assert response.status_code == 200
    page = text(response)
    assert "Free allows 1 bot, and this workspace has 3 that are not stopped." in page
    assert "Exchange connections: 1 / 2 · Members: 1 / 1" in page
    assert f'name="stop" value="{busy.signal.pk}" id="stop-{busy.signal.pk}" checked' in response.content.decode()
    assert busy.subscription.plan.key == "pro"


def test_confirming_with_too_few_bots_chosen_shows_what_is_left_and_changes_nothing(busy):
    response = busy.client().post("/settings/plan/change/", {"plan": "free", "confirm": "1",
                                                             "stop": [busy.signal.pk]})
    assert response.status_code == 400
    assert "The Free plan allows 1 bot; choose 1 more to stop." in text(response)
    assert busy.subscription.plan.key == "pro"
    assert set(busy.states().values()) == {"running"}


def test_confirming_with_enough_bots_chosen_stops_them_and_moves_to_free(busy):
    response = busy.client().post("/settings/plan/change/", {
        "plan": "free", "confirm": "1", "stop": [busy.signal.pk, busy.grids[1].pk]}, follow=True)
    assert "The workspace is on the Free plan now." in text(response)
    assert busy.subscription.plan.key == "free"
    assert busy.states() == {"Grid 1": "running", "Grid 2": "stopping", "Signals": "stopping"}


def test_members_over_the_new_limit_are_pointed_out_with_a_link(solo):
    Membership.objects.create(user=make_user("colleague"), tenant=solo.tenant, role=Role.TRADER)
    response = solo.client().post("/settings/plan/change/", {"plan": "free", "confirm": "1"})
    assert response.status_code == 400
    assert "The Free plan allows 1 member and this workspace has 2: remove some first." in text(response)
    assert b'href="/settings/members/"' in response.content


def test_a_workspace_that_fits_moves_to_free_at_once(solo):
    response = solo.client().post("/settings/plan/change/", {"plan": "free"})
    assert response.status_code == 302 and response.url == "/settings/plan/"
    assert solo.subscription.plan.key == "free"


def test_add_ons_go_through_payment_too(solo, settings):
    settings.STRIPE_SECRET_KEY = ""
    response = solo.client().post("/settings/plan/add-ons/", {"extra_bot_slots": "2"}, follow=True)
    assert "Billing is not configured on this server" in text(response)
    assert solo.subscription.extra_bot_slots == 0


def test_an_unknown_plan_is_not_found(solo):
    assert solo.client().post("/settings/plan/change/", {"plan": "gold"}).status_code == 404
