"""A workspace already paying through Stripe changes plan: an upgrade applies at once
through subscriptions.update, a downgrade over quota asks which bots to stop first, and
Free cancels at the end of the paid period."""

import pytest

from billing.models import Subscription
from tests.billing.conftest import text
from tests.billing.stripe_support import deliver_since, subscribe, sync_prices


@pytest.fixture
def paid(solo, fake_stripe):
    solo.prices = sync_prices()
    solo.on("basic")
    solo.stripe_id = subscribe(solo, fake_stripe, "basic")
    return solo


def plan_price(fake, stripe_id) -> str:
    return fake.object(stripe_id)["items"]["data"][0]["price"]["id"]


def test_an_upgrade_changes_the_stripe_price_and_the_plan_at_once(paid, fake_stripe):
    before = len(fake_stripe.events())
    response = paid.client().post("/settings/plan/change/", {"plan": "premium"}, follow=True)
    assert "The workspace is on the Premium plan now." in text(response)
    assert paid.subscription.plan.key == "premium"
    stripe_item = fake_stripe.object(paid.stripe_id)["items"]["data"]
    assert [item["price"]["id"] for item in stripe_item] == [paid.prices["premium"]]
    # The webhook that follows finds the change applied already.
    assert set(deliver_since(fake_stripe, before)) == {200}
    subscription = paid.subscription
    assert (subscription.plan.key, subscription.state) == ("premium", Subscription.State.ACTIVE)


def test_a_downgrade_over_quota_asks_which_bots_to_stop_before_touching_stripe(paid, fake_stripe):
    paid.on("pro")  # as if upgraded earlier; Stripe still bills Basic, which is fine for this test
    paper = paid.connection()
    bots = [paid.bot(paper, name=f"Grid {n}", start=True) for n in range(4)]
    response = paid.client().post("/settings/plan/change/", {"plan": "basic"})
    assert "Basic allows 3 bots, and this workspace has 4 that are not stopped." in text(response)
    assert paid.subscription.plan.key == "pro"
    response = paid.client().post("/settings/plan/change/", {"plan": "basic", "confirm": "1",
                                                             "stop": [bots[0].pk]}, follow=True)
    assert "The workspace is on the Basic plan now." in text(response)
    assert paid.subscription.plan.key == "basic"
    assert paid.states()["Grid 0"] in ("stopping", "stopped")
    assert plan_price(fake_stripe, paid.stripe_id) == paid.prices["basic"]


def test_a_stripe_failure_on_upgrade_changes_nothing_and_says_so(paid, fake_stripe):
    fake_stripe.fail_next("POST /v1/subscriptions/{id}", 503, count=5)
    response = paid.client().post("/settings/plan/change/", {"plan": "premium"}, follow=True)
    assert response.status_code == 200
    assert "The payment provider could not be reached" in text(response)
    assert paid.subscription.plan.key == "basic"
    assert plan_price(fake_stripe, paid.stripe_id) == paid.prices["basic"]


def test_choosing_free_cancels_at_the_end_of_the_paid_period(paid, fake_stripe):
    response = paid.client().post("/settings/plan/change/", {"plan": "free"}, follow=True)
    assert "then the workspace moves to the Free plan" in text(response)
    assert paid.subscription.state == Subscription.State.CANCELED
    assert fake_stripe.object(paid.stripe_id)["cancel_at_period_end"] is True


def test_add_ons_of_a_paid_subscription_change_its_stripe_items(paid, fake_stripe):
    response = paid.client().post("/settings/plan/add-ons/", {"extra_bot_slots": "3"}, follow=True)
    assert "The add-ons are changed." in text(response)
    assert paid.subscription.extra_bot_slots == 3
    items = {item["price"]["id"]: item["quantity"] for item in fake_stripe.object(paid.stripe_id)["items"]["data"]}
    assert items == {paid.prices["basic"]: 1, paid.prices["extra_bot_slot"]: 3}
