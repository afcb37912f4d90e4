"""The customer portal, where owners change the card and read invoices."""

import pytest

from tests.billing.conftest import text
from tests.billing.stripe_support import subscribe, sync_prices


@pytest.fixture
def paid(solo, fake_stripe):
    sync_prices()
    subscribe(solo, fake_stripe, "pro")
    return solo


def test_the_plan_page_offers_the_portal_to_a_paying_owner(paid):
    assert "Manage card and invoices" in text(paid.client().get("/settings/plan/"))


def test_the_portal_button_redirects_to_a_portal_session_for_the_workspace_s_customer(paid, fake_stripe):
    response = paid.client().post("/settings/plan/portal/")
    assert response.status_code == 302
    session = fake_stripe.last_event("billing_portal.session.created")["data"]["object"]
    assert response.url == session["url"]
    assert session["customer"] == paid.subscription.stripe_customer_id
    assert session["return_url"].endswith("/settings/plan/")


def test_members_cannot_open_the_portal(acme, fake_stripe):
    assert acme.client(acme.trader).post("/settings/plan/portal/").status_code == 403


def test_a_workspace_that_bought_nothing_has_no_portal(solo, fake_stripe):
    assert "Manage card and invoices" not in text(solo.client().get("/settings/plan/"))
    response = solo.client().post("/settings/plan/portal/", follow=True)
    assert "there are no cards or invoices to manage" in text(response)


def test_a_stripe_failure_opening_the_portal_shows_a_message(paid, fake_stripe):
    fake_stripe.fail_next("POST /v1/billing_portal/sessions", 401)
    response = paid.client().post("/settings/plan/portal/", follow=True)
    assert response.status_code == 200
    assert "The payment provider could not be reached" in text(response)
    assert fake_stripe.api_key not in response.content.decode()
