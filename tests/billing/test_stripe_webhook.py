"""The Stripe webhook on the public host: signatures, each event once, events out of
order, and what each event does to the subscription."""

import json

import pytest
from django.conf import settings

from billing import payments
from billing.models import BillingEvent, StripeEvent, Subscription
from tests.billing.stripe_support import WEBHOOK, deliver, deliver_since, post, sign, subscribe, sync_prices


@pytest.fixture
def paid(solo, fake_stripe):
    """Solo on Pro, paid through Checkout."""
    sync_prices()
    solo.stripe_id = subscribe(solo, fake_stripe, "pro")
    return solo


def snapshot(solo) -> tuple:
    s = solo.subscription
    return s.plan.key, s.state, s.current_period_end, s.stripe_subscription_id, s.grace_ends_at


def test_a_replayed_event_is_processed_once(paid, fake_stripe):
    fake_stripe.fail_payment(paid.stripe_id)
    failed = fake_stripe.last_event("invoice.payment_failed")
    assert deliver(fake_stripe, failed).status_code == 200
    assert deliver(fake_stripe, failed).status_code == 200
    assert StripeEvent.objects.filter(event_id=failed["id"]).count() == 1
    assert BillingEvent.objects.filter(tenant=paid.tenant, kind=BillingEvent.Kind.PAYMENT_FAILED).count() == 1


def test_a_replayed_checkout_does_not_activate_again(paid, fake_stripe):
    completed = fake_stripe.last_event("checkout.session.completed")
    before = snapshot(paid)
    assert deliver(fake_stripe, completed).status_code == 200
    assert snapshot(paid) == before
    assert StripeEvent.objects.get(event_id=completed["id"]).outcome == StripeEvent.Outcome.PROCESSED


@pytest.mark.parametrize("kind", ["tampered", "wrong_secret", "stale", "no_v1", "malformed", "missing"])
def test_a_bad_signature_is_refused_with_400_and_changes_nothing(paid, fake_stripe, kind):
    fake_stripe.fail_payment(paid.stripe_id)
    failed = fake_stripe.last_event("invoice.payment_failed")
    before = snapshot(paid)
    response = post(*fake_stripe.bad_signature(failed, kind))
    assert response.status_code == 400
    assert fake_stripe.webhook_secret not in response.content.decode()
    assert snapshot(paid) == before
    assert not StripeEvent.objects.filter(event_id=failed["id"]).exists()


def test_the_webhook_takes_only_post(public_client, fake_stripe):
    assert public_client.get(WEBHOOK).status_code == 405


def test_the_webhook_is_on_the_public_host_only(paid, fake_stripe):
    fake_stripe.fail_payment(paid.stripe_id)
    response = deliver(fake_stripe, fake_stripe.last_event("invoice.payment_failed"),
                       host=f"{paid.tenant.slug}.{settings.BASE_DOMAIN}")
    assert response.status_code == 404
    assert paid.subscription.state == Subscription.State.ACTIVE


def test_an_event_aviary_does_not_use_is_stored_as_ignored(paid, fake_stripe):
    created = fake_stripe.last_event("customer.created")
    assert deliver(fake_stripe, created).status_code == 200
    stored = StripeEvent.objects.get(event_id=created["id"])
    assert (stored.type, stored.outcome) == ("customer.created", StripeEvent.Outcome.IGNORED)


def test_a_failed_payment_makes_it_overdue_and_paying_makes_it_active_again(paid, fake_stripe):
    before = len(fake_stripe.events())
    fake_stripe.fail_payment(paid.stripe_id)
    assert set(deliver_since(fake_stripe, before)) == {200}
    assert paid.subscription.state == Subscription.State.PAST_DUE
    assert paid.subscription.grace_ends_at is not None
    before = len(fake_stripe.events())
    fake_stripe.pay_invoice(paid.stripe_id)
    assert set(deliver_since(fake_stripe, before)) == {200}
    subscription = paid.subscription
    assert (subscription.state, subscription.grace_ends_at) == (Subscription.State.ACTIVE, None)
    item = fake_stripe.object(paid.stripe_id)["items"]["data"][0]
    assert subscription.current_period_end.timestamp() == item["current_period_end"]


def test_a_paid_renewal_moves_the_period_on(paid, fake_stripe):
    first_end = paid.subscription.current_period_end
    before = len(fake_stripe.events())
    fake_stripe.advance_period(paid.stripe_id)
    assert set(deliver_since(fake_stripe, before)) == {200}
    subscription = paid.subscription
    assert subscription.state == Subscription.State.ACTIVE
    assert subscription.current_period_start == first_end
    assert subscription.current_period_end > first_end


def test_canceling_at_period_end_then_the_end_moves_the_workspace_to_free(paid, fake_stripe):
    before = len(fake_stripe.events())
    payments.cancel_at_period_end(paid.subscription)
    assert set(deliver_since(fake_stripe, before)) == {200}
    assert paid.subscription.state == Subscription.State.CANCELED
    before = len(fake_stripe.events())
    fake_stripe.advance_period(paid.stripe_id)
    assert set(deliver_since(fake_stripe, before)) == {200}
    subscription = paid.subscription
    assert (subscription.plan.key, subscription.state, subscription.stripe_subscription_id) == \
        ("free", Subscription.State.ACTIVE, None)


def test_stripe_giving_up_on_an_overdue_subscription_expires_it(paid, fake_stripe):
    before = len(fake_stripe.events())
    fake_stripe.fail_payment(paid.stripe_id)
    fake_stripe.exhaust_retries(paid.stripe_id)
    assert set(deliver_since(fake_stripe, before)) == {200}
    subscription = paid.subscription
    assert (subscription.state, subscription.stripe_subscription_id) == (Subscription.State.EXPIRED, None)


def test_an_updated_event_after_deleted_does_not_bring_the_subscription_back(paid, fake_stripe):
    payments.cancel_at_period_end(paid.subscription)
    canceling = fake_stripe.last_event("customer.subscription.updated")
    fake_stripe.advance_period(paid.stripe_id)
    assert deliver(fake_stripe, fake_stripe.last_event("customer.subscription.deleted")).status_code == 200
    after_delete = snapshot(paid)
    assert after_delete[:2] == ("free", Subscription.State.ACTIVE)
    # The earlier update arrives late.
    assert deliver(fake_stripe, canceling).status_code == 200
    assert snapshot(paid) == after_delete
    assert StripeEvent.objects.get(event_id=canceling["id"]).outcome == StripeEvent.Outcome.IGNORED


def test_an_older_event_does_not_undo_a_newer_one(paid, fake_stripe):
    fake_stripe.fail_payment(paid.stripe_id)  # the renewal fails: updated (past_due) + payment_failed
    overdue = fake_stripe.last_event("customer.subscription.updated")
    failed = fake_stripe.last_event("invoice.payment_failed")
    fake_stripe.advance_period(paid.stripe_id)  # a period later, paid in full
    paid_again = fake_stripe.last_event("invoice.paid")
    assert paid_again["created"] > failed["created"]
    assert deliver(fake_stripe, paid_again).status_code == 200
    assert paid.subscription.state == Subscription.State.ACTIVE
    for late in (overdue, failed):
        assert deliver(fake_stripe, late).status_code == 200
        assert StripeEvent.objects.get(event_id=late["id"]).note == "older than the last event applied"
    assert paid.subscription.state == Subscription.State.ACTIVE


def test_a_webhook_for_one_workspace_never_touches_another(paid, make_solo, fake_stripe):
    other = make_solo("Other")
    other_before = snapshot(other)
    before = len(fake_stripe.events())
    fake_stripe.fail_payment(paid.stripe_id)
    assert set(deliver_since(fake_stripe, before)) == {200}
    assert paid.subscription.state == Subscription.State.PAST_DUE
    assert snapshot(other) == other_before


def test_a_checkout_naming_a_customer_of_another_workspace_is_ignored(paid, make_solo, fake_stripe):
    other = make_solo("Other")
    completed = fake_stripe.last_event("checkout.session.completed")
    # Paid's completed checkout, as if made for the other workspace: only the mapping can stop it.
    body = json.loads(fake_stripe.webhook_payload(completed))
    body["id"] = "evt_forged"
    body["data"]["object"]["client_reference_id"] = str(other.tenant.pk)
    assert post(*sign(json.dumps(body).encode(), fake_stripe.webhook_secret)).status_code == 200
    assert StripeEvent.objects.get(event_id="evt_forged").note == "the customer belongs to another workspace"
    assert other.subscription.state == Subscription.State.TRIALING
    assert other.subscription.stripe_customer_id is None
