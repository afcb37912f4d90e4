"""Subscribing through Stripe Checkout, from the change-plan page to the webhook that
activates the plan."""

from urllib.parse import parse_qs

import pytest

from billing.models import Subscription
from tests.billing.conftest import text
from tests.billing.stripe_support import deliver_since, session_id, subscribe, sync_prices


@pytest.fixture
def stripe_ready(fake_stripe):
    sync_prices()
    return fake_stripe


def test_choosing_pro_sends_the_owner_to_a_checkout_session_for_the_workspace(solo, stripe_ready):
    response = solo.client().post("/settings/plan/change/", {"plan": "pro"})
    assert response.status_code == 302
    session = stripe_ready.object(session_id(response.url))
    assert session["mode"] == "subscription"
    assert session["client_reference_id"] == str(solo.tenant.pk)
    assert session["customer"] == solo.subscription.stripe_customer_id
    assert session["success_url"].startswith(f"http://{solo.tenant.slug}.")
    assert session["success_url"].endswith("/settings/plan/?checkout=done")
    # Nothing changes here until Stripe says it is paid.
    assert solo.subscription.state == Subscription.State.TRIALING


def test_a_completed_checkout_makes_the_workspace_active_on_pro(solo, stripe_ready):
    stripe_id = subscribe(solo, stripe_ready, "pro")
    subscription = solo.subscription
    assert (subscription.plan.key, subscription.state) == ("pro", "active")
    assert subscription.stripe_subscription_id == stripe_id
    item = stripe_ready.object(stripe_id)["items"]["data"][0]
    assert subscription.current_period_end.timestamp() == item["current_period_end"]
    assert subscription.trial_ends_at is not None  # history, no longer read once active


def test_the_owner_is_thanked_on_the_way_back_from_checkout(solo, stripe_ready):
    assert "as soon as Stripe confirms the payment" in text(solo.client().get("/settings/plan/?checkout=done"))


def test_add_ons_bought_with_checkout_arrive_with_the_plan(solo, stripe_ready):
    solo.on("basic")
    subscribe(solo, stripe_ready, extra_bot_slots="2", extended_backup_retention="on")
    subscription = solo.subscription
    assert (subscription.plan.key, subscription.extra_bot_slots, subscription.extended_backup_retention) == \
        ("basic", 2, True)


def test_a_second_purchase_reuses_the_workspace_s_stripe_customer(solo, stripe_ready):
    first = solo.client().post("/settings/plan/change/", {"plan": "pro"})
    second = solo.client().post("/settings/plan/change/", {"plan": "premium"})
    customers = {stripe_ready.object(session_id(r.url))["customer"] for r in (first, second)}
    assert customers == {solo.subscription.stripe_customer_id}


def test_a_stripe_failure_on_checkout_shows_a_message_not_an_error_page(solo, stripe_ready):
    stripe_ready.fail_next("POST /v1/checkout/sessions", 500, count=5)
    response = solo.client().post("/settings/plan/change/", {"plan": "pro"}, follow=True)
    assert response.status_code == 200
    assert "The payment provider could not be reached" in text(response)
    assert stripe_ready.api_key not in response.content.decode()
    assert solo.subscription.state == Subscription.State.TRIALING


def test_a_plan_without_a_stripe_price_says_so(solo, fake_stripe):
    response = solo.client().post("/settings/plan/change/", {"plan": "pro"}, follow=True)
    assert "The Pro plan cannot be bought yet: it has no Stripe price." in text(response)


def test_without_keys_the_plan_page_says_billing_is_not_configured_and_nothing_calls_stripe(solo, settings):
    settings.STRIPE_SECRET_KEY = ""
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens: a call would fail loudly
    page = text(solo.client().get("/settings/plan/"))
    assert "Billing is not configured on this server" in page
    assert "Manage card and invoices" not in page
    response = solo.client().post("/settings/plan/change/", {"plan": "pro"}, follow=True)
    assert "Billing is not configured on this server" in text(response)


def test_checkout_from_htmx_redirects_with_hx_redirect(solo, stripe_ready):
    response = solo.client().post("/settings/plan/change/", {"plan": "pro"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 204
    assert response["HX-Redirect"].startswith(stripe_ready.base_url + "/checkout/")


def test_the_checkout_session_returns_to_the_change_plan_page_when_canceled(solo, stripe_ready):
    response = solo.client().post("/settings/plan/change/", {"plan": "pro"})
    session = stripe_ready.object(session_id(response.url))
    assert session["cancel_url"].endswith("/settings/plan/change/")
    assert not parse_qs(session["cancel_url"].partition("?")[2])
    before = len(stripe_ready.events())
    stripe_ready.expire_checkout(session["id"])
    assert deliver_since(stripe_ready, before) == [200]
    assert solo.subscription.state == Subscription.State.TRIALING


def test_the_bots_chosen_to_stop_for_a_smaller_plan_stop_when_checkout_completes(solo, stripe_ready):
    paper = solo.connection()
    bots = [solo.bot(paper, name=f"Grid {n}", start=True) for n in range(4)]
    client = solo.client()
    # Basic runs 3 bots: the page asks which to stop before sending the owner to pay.
    assert "Grid 0" in text(client.post("/settings/plan/change/", {"plan": "basic"}))
    before = len(stripe_ready.events())
    response = client.post("/settings/plan/change/", {"plan": "basic", "stop": [str(bots[1].pk)], "confirm": "1"})
    assert response.status_code == 302
    session = stripe_ready.object(session_id(response.url))
    assert session["metadata"]["stop_bots"] == str(bots[1].pk)
    # Nothing stops before the payment.
    assert solo.states()["Grid 1"] == "running"

    stripe_ready.complete_checkout(session["id"])
    assert set(deliver_since(stripe_ready, before)) == {200}
    assert solo.subscription.plan.key == "basic"
    # Stopping: the engine cancels its open orders, then it is stopped.
    assert solo.states() == {"Grid 0": "running", "Grid 1": "stopping", "Grid 2": "running", "Grid 3": "running"}
