"""The Stripe fake, driven by the real stripe library (16.1.0): its form encoding, its
retries and idempotency keys, its error mapping and its webhook verification. Stripe-side
actions (a buyer paying, a period ending, a card declining) are the fake's helpers. No
database: nothing here touches Django models."""

import calendar
import datetime as dt
import re
import socket
import threading
import time
from decimal import Decimal

import pytest
import requests
import stripe

from .stripe import API_VERSION, FakeStripe

BOT_SLOTS = 3


@pytest.fixture(autouse=True)
def _no_telemetry(monkeypatch):
    # With telemetry on, every request reads or writes ~/.config/stripe/telemetry_id.
    monkeypatch.setattr(stripe, "enable_telemetry", False)


@pytest.fixture
def fake():
    with FakeStripe() as fake:
        yield fake


@pytest.fixture
def http():
    # Its own pooled session, closed afterwards, so no connection outlives the test.
    client = stripe.RequestsClient(timeout=5)
    yield client
    client.close()


def make_client(fake, http, *, api_key=None, max_network_retries=0, **options) -> stripe.StripeClient:
    return stripe.StripeClient(
        fake.api_key if api_key is None else api_key,
        base_addresses={"api": fake.base_url},
        http_client=http,
        max_network_retries=max_network_retries,
        **options,
    )


@pytest.fixture
def client(fake, http):
    return make_client(fake, http)


@pytest.fixture
def plans(fake):
    return {
        "basic": fake.add_price("Basic", 2900, lookup_key="basic_monthly"),
        "pro": fake.add_price("Pro", 9900, lookup_key="pro_monthly"),
        "premium": fake.add_price("Premium", 29900, lookup_key="premium_monthly"),
        "bot_slot": fake.add_price("Extra bot slot", 500, lookup_key="bot_slot_monthly"),
    }


def subscribe(client, fake, *lines, **session_params) -> str:
    """Checkout for `lines` ((price, quantity), ...) and pay: the new subscription's id."""
    session = client.v1.checkout.sessions.create(
        {
            "mode": "subscription",
            "customer_email": "owner@example.com",
            "line_items": [{"price": price["id"], "quantity": quantity} for price, quantity in lines],
            "success_url": "https://acme.aviary.test/billing/done?session={CHECKOUT_SESSION_ID}",
            **session_params,
        }
    )
    return fake.complete_checkout(session.id)["subscription"]


def months_after(timestamp: int, months: int = 1) -> int:
    """Calendar months later, on the same day or the month's last: Jan 31 -> Feb 28 -> Mar 31."""
    start = dt.datetime.fromtimestamp(timestamp, dt.UTC)
    year, month = divmod(start.month - 1 + months, 12)
    year, month = start.year + year, month + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return int(start.replace(year=year, month=month, day=day).timestamp())


# ---------------------------------------------------------------------- version, customers, prices


def test_the_fake_renders_the_api_version_stripe_python_pins(fake, http):
    assert stripe.VERSION == "16.1.0"
    assert stripe.api_version == API_VERSION

    old = make_client(fake, http, stripe_version="2024-06-20")
    with pytest.raises(stripe.InvalidRequestError, match="renders API version 2026-10-28.endive only"):
        old.v1.customers.create({"email": "a@example.com"})


def test_a_customer_is_created_retrieved_and_updated_with_events(client, fake):
    customer = client.v1.customers.create({"email": "owner@example.com", "name": "Acme", "metadata": {"tenant": "acme", "seats": "5"}})
    assert customer.id.startswith("cus_")
    assert (customer.object, customer.email, customer.livemode) == ("customer", "owner@example.com", False)
    assert client.v1.customers.retrieve(customer.id).to_dict() == customer.to_dict()

    updated = client.v1.customers.update(customer.id, {"name": "Acme Corp", "metadata": {"seats": ""}})
    assert (updated.name, updated.metadata.to_dict()) == ("Acme Corp", {"tenant": "acme"})

    created, changed = fake.events("customer.created")[0], fake.events("customer.updated")[0]
    assert created["data"]["object"]["name"] == "Acme"
    assert changed["data"]["previous_attributes"] == {"metadata": {"tenant": "acme", "seats": "5"}, "name": "Acme"}
    # The event names the API request that caused it, with the key stripe-python generated.
    update_request = fake.requests[-1]
    assert changed["request"]["idempotency_key"] == update_request.idempotency_key is not None
    assert changed["request"]["id"].startswith("req_")


def test_plan_prices_are_created_and_found_by_lookup_key(client, fake):
    product = client.v1.products.create({"id": "prod_aviary_pro", "name": "Pro"})
    price = client.v1.prices.create(
        {"product": product.id, "currency": "usd", "unit_amount": 9900, "recurring": {"interval": "month"},
         "lookup_key": "pro_monthly"}
    )
    basic = client.v1.prices.create(
        {"product_data": {"name": "Basic"}, "currency": "usd", "unit_amount": 2900,
         "recurring": {"interval": "month"}, "lookup_key": "basic_monthly"}
    )
    client.v1.prices.create({"product": product.id, "currency": "usd", "unit_amount": 99000, "recurring": {"interval": "year"}})

    assert price.id.startswith("price_")
    # Sent as the string "9900"; stripe-python reads decimal strings into Decimal.
    assert (price.type, price.unit_amount, price.unit_amount_decimal, price.currency) == ("recurring", 9900, Decimal("9900"), "usd")
    assert (price.recurring.interval, price.recurring.interval_count, price.recurring.usage_type) == ("month", 1, "licensed")

    found = client.v1.prices.list({"lookup_keys": ["pro_monthly", "basic_monthly"], "expand": ["data.product"]})
    assert [(p.lookup_key, p.product.name) for p in found.data] == [("basic_monthly", "Basic"), ("pro_monthly", "Pro")]
    assert (found.object, found.has_more, found.url) == ("list", False, "/v1/prices")
    assert basic.product.startswith("prod_")
    assert client.v1.prices.retrieve(price.id).lookup_key == "pro_monthly"
    assert [p.id for p in client.v1.prices.list({"product": product.id}).data][-1] == price.id


def test_a_lookup_key_moves_to_a_new_price_only_when_transferred(client, plans):
    new_price = {"product": plans["pro"]["product"], "currency": "usd", "unit_amount": 11900,
                 "recurring": {"interval": "month"}, "lookup_key": "pro_monthly"}
    with pytest.raises(stripe.InvalidRequestError) as taken:
        client.v1.prices.create(new_price)
    assert taken.value.param == "lookup_key"

    moved = client.v1.prices.create({**new_price, "transfer_lookup_key": True})
    assert [p.id for p in client.v1.prices.list({"lookup_keys": ["pro_monthly"]}).data] == [moved.id]
    assert client.v1.prices.retrieve(plans["pro"]["id"]).lookup_key is None


# ---------------------------------------------------------------------- checkout and portal


def test_checkout_completion_creates_the_customer_subscription_and_paid_invoice(client, fake, plans):
    session = client.v1.checkout.sessions.create(
        {
            "mode": "subscription",
            "customer_email": "owner@example.com",
            "line_items": [{"price": plans["pro"]["id"], "quantity": 1},
                           {"price": plans["bot_slot"]["id"], "quantity": BOT_SLOTS}],
            "success_url": "https://acme.aviary.test/billing/done?session={CHECKOUT_SESSION_ID}",
            "cancel_url": "https://acme.aviary.test/billing",
            "client_reference_id": "acme",
            "metadata": {"tenant": "acme"},
            "subscription_data": {"metadata": {"tenant": "acme", "plan": "pro"}},
        }
    )
    assert session.id.startswith("cs_test_")
    assert session.url == f"{fake.base_url}/checkout/{session.id}"
    assert (session.status, session.payment_status, session.customer, session.subscription) == ("open", "unpaid", None, None)
    assert session.amount_total == 9900 + BOT_SLOTS * 500
    assert fake.requests[-1].params["line_items"][1] == {"price": plans["bot_slot"]["id"], "quantity": "3"}

    fake.complete_checkout(session.id, name="Ada Owner")

    done = client.v1.checkout.sessions.retrieve(session.id, {"expand": ["subscription", "line_items"]})
    assert (done.status, done.payment_status, done.url) == ("complete", "paid", None)
    assert (done.client_reference_id, done.metadata.to_dict()) == ("acme", {"tenant": "acme"})
    assert done.customer_details.email == "owner@example.com"
    assert [(li.price.id, li.quantity) for li in done.line_items.data] == [(plans["pro"]["id"], 1), (plans["bot_slot"]["id"], BOT_SLOTS)]

    subscription = done.subscription
    assert subscription.id.startswith("sub_")
    assert (subscription.status, subscription.customer, subscription.cancel_at_period_end) == ("active", done.customer, False)
    assert subscription.metadata.to_dict() == {"tenant": "acme", "plan": "pro"}
    assert subscription.billing_mode.type == "flexible"
    items = subscription["items"].data
    assert [(i.price.lookup_key, i.quantity) for i in items] == [("pro_monthly", 1), ("bot_slot_monthly", BOT_SLOTS)]
    # In this API version the period lives on the items, a calendar month long.
    assert "current_period_end" not in subscription
    assert items[0].current_period_start == subscription.start_date
    assert items[0].current_period_end == months_after(subscription.start_date)
    assert items[0].plan.amount == 9900

    customer = client.v1.customers.retrieve(done.customer)
    assert (customer.email, customer.name) == ("owner@example.com", "Ada Owner")

    invoice = client.v1.invoices.retrieve(subscription.latest_invoice)
    assert invoice.id.startswith("in_")
    assert (invoice.status, invoice.billing_reason, invoice.amount_paid) == ("paid", "subscription_create", 11400)
    assert invoice.parent.subscription_details.subscription == subscription.id
    assert [line.pricing.price_details.price for line in invoice.lines.data] == [plans["pro"]["id"], plans["bot_slot"]["id"]]
    assert invoice.lines.data[1].period.end == items[1].current_period_end
    assert done.invoice == invoice.id

    assert [e["type"] for e in fake.events()][-5:] == [
        "customer.created",
        "customer.subscription.created",
        "invoice.paid",
        "invoice.payment_succeeded",
        "checkout.session.completed",
    ]
    completed = fake.last_event("checkout.session.completed")
    # Stripe's own doing, not an API request's.
    assert completed["request"] == {"id": None, "idempotency_key": None}
    assert completed["data"]["object"]["subscription"] == subscription.id


def test_checkout_refuses_what_stripe_refuses(client, fake, plans):
    one_time = client.v1.prices.create({"product": plans["pro"]["product"], "currency": "usd", "unit_amount": 100})
    customer = client.v1.customers.create({"email": "owner@example.com"})
    base = {"mode": "subscription", "success_url": "https://acme.aviary.test/done"}
    cases = [
        ({**base, "line_items": [{"price": one_time.id, "quantity": 1}]}, "line_items[0][price]"),
        ({**base, "line_items": [{"price": "price_missing", "quantity": 1}]}, "line_items[0][price]"),
        ({**base, "line_items": [{"price": plans["pro"]["id"]}]}, "line_items[0][quantity]"),
        ({**base, "customer": customer.id, "customer_email": "x@example.com",
          "line_items": [{"price": plans["pro"]["id"], "quantity": 1}]}, "customer_email"),
        ({**base, "customer": "cus_missing", "line_items": [{"price": plans["pro"]["id"], "quantity": 1}]}, "customer"),
        ({**base, "line_items": []}, "line_items"),
        ({**base, "mode": "payment", "line_items": [{"price": one_time.id, "quantity": 1}]}, "mode"),
    ]
    for params, param in cases:
        with pytest.raises(stripe.InvalidRequestError) as refused:
            client.v1.checkout.sessions.create(params)
        assert (refused.value.http_status, refused.value.param) == (400, param), params
    assert not fake.events("checkout.session.completed")


def test_the_hosted_checkout_page_pays_and_redirects_to_success_url(client, fake, plans):
    session = client.v1.checkout.sessions.create(
        {"mode": "subscription", "customer_email": "owner@example.com",
         "line_items": [{"price": plans["basic"]["id"], "quantity": 1}],
         "success_url": "https://acme.aviary.test/billing/done?session={CHECKOUT_SESSION_ID}"}
    )
    # The page is for a browser, not for the library: plain requests stands in for one.
    with requests.Session() as browser:
        page = browser.get(session.url, timeout=5)
        assert page.status_code == 200 and "Pay" in page.text and "$29.00" in page.text
        paid = browser.post(session.url, timeout=5, allow_redirects=False)
        assert paid.status_code == 303
        assert paid.headers["Location"] == f"https://acme.aviary.test/billing/done?session={session.id}"
        assert "no longer active" in browser.get(session.url, timeout=5).text
    assert client.v1.checkout.sessions.retrieve(session.id).status == "complete"


def test_an_abandoned_checkout_expires(client, fake, plans):
    session = client.v1.checkout.sessions.create(
        {"mode": "subscription", "line_items": [{"price": plans["basic"]["id"], "quantity": 1}]}
    )
    fake.expire_checkout(session.id)
    assert client.v1.checkout.sessions.retrieve(session.id).status == "expired"
    assert fake.last_event("checkout.session.expired")["data"]["object"]["id"] == session.id
    with pytest.raises(ValueError):
        fake.complete_checkout(session.id)


def test_the_portal_session_opens_on_the_fake_and_links_back(client, fake):
    customer = client.v1.customers.create({"email": "owner@example.com"})
    portal = client.v1.billing_portal.sessions.create({"customer": customer.id, "return_url": "https://acme.aviary.test/billing"})
    assert portal.id.startswith("bps_")
    assert portal.url == f"{fake.base_url}/p/session/{portal.id}"
    assert (portal.customer, portal.configuration[:4]) == (customer.id, "bpc_")
    assert fake.last_event("billing_portal.session.created")["data"]["object"]["id"] == portal.id
    with requests.Session() as browser:  # a browser's view of the page
        assert 'href="https://acme.aviary.test/billing"' in browser.get(portal.url, timeout=5).text

    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.billing_portal.sessions.create({"customer": "cus_missing"})
    assert (missing.value.http_status, missing.value.code, missing.value.param) == (400, "resource_missing", "customer")


# ---------------------------------------------------------------------- subscription changes


def test_upgrading_replaces_the_item_price_and_reports_the_old_items(client, fake, plans):
    subscription_id = subscribe(client, fake, (plans["basic"], 1), (plans["bot_slot"], BOT_SLOTS))
    plan_item, slot_item = client.v1.subscriptions.retrieve(subscription_id)["items"].data

    upgraded = client.v1.subscriptions.update(
        subscription_id,
        {"items": [{"id": plan_item.id, "price": plans["pro"]["id"]}, {"id": slot_item.id, "quantity": 5}],
         "proration_behavior": "create_prorations"},
    )
    items = upgraded["items"].data
    assert [(i.id, i.price.id, i.quantity) for i in items] == [
        (plan_item.id, plans["pro"]["id"], 1),
        (slot_item.id, plans["bot_slot"]["id"], 5),
    ]
    assert items[0].current_period_end == plan_item.current_period_end

    event = fake.last_event("customer.subscription.updated")
    assert list(event["data"]["previous_attributes"]) == ["items"]
    old_items = event["data"]["previous_attributes"]["items"]["data"]
    assert [(i["price"]["id"], i["quantity"]) for i in old_items] == [(plans["basic"]["id"], 1), (plans["bot_slot"]["id"], BOT_SLOTS)]
    assert event["data"]["object"]["items"]["data"][0]["price"]["id"] == plans["pro"]["id"]

    # Add-ons come and go as items of their own.
    dropped = client.v1.subscriptions.update(subscription_id, {"items": [{"id": slot_item.id, "deleted": True}]})
    assert [i.price.id for i in dropped["items"].data] == [plans["pro"]["id"]]
    added = client.v1.subscriptions.update(subscription_id, {"items": [{"price": plans["bot_slot"]["id"], "quantity": 2}]})
    assert [(i.price.id, i.quantity) for i in added["items"].data] == [(plans["pro"]["id"], 1), (plans["bot_slot"]["id"], 2)]
    assert added["items"].data[1].id.startswith("si_")

    for params, param in [
        ({"items": [{"price": plans["pro"]["id"]}]}, "items"),  # the same price twice
        ({"items": [{"id": "si_missing", "quantity": 2}]}, "items[0][id]"),
        ({"proration_behavior": "always_invoice"}, "proration_behavior"),
    ]:
        with pytest.raises(stripe.InvalidRequestError) as refused:
            client.v1.subscriptions.update(subscription_id, params)
        assert refused.value.param == param


def test_an_update_that_changes_nothing_emits_no_event(client, fake, plans):
    subscription_id = subscribe(client, fake, (plans["pro"], 1))
    before = len(fake.events())
    client.v1.subscriptions.update(subscription_id, {"cancel_at_period_end": False})
    assert len(fake.events()) == before


def test_cancel_at_period_end_keeps_the_subscription_until_the_period_ends(client, fake, plans):
    subscription_id = subscribe(client, fake, (plans["pro"], 1))
    period_end = client.v1.subscriptions.retrieve(subscription_id)["items"].data[0].current_period_end

    scheduled = client.v1.subscriptions.update(subscription_id, {"cancel_at_period_end": True})
    assert (scheduled.status, scheduled.cancel_at_period_end, scheduled.cancel_at) == ("active", True, period_end)
    assert scheduled.canceled_at is not None and scheduled.cancellation_details.reason == "cancellation_requested"
    assert fake.last_event("customer.subscription.updated")["data"]["previous_attributes"] == {
        "cancel_at": None,
        "cancel_at_period_end": False,
        "canceled_at": None,
        "cancellation_details": {"comment": None, "feedback": None, "reason": None},
    }

    fake.advance_period(subscription_id)
    ended = client.v1.subscriptions.retrieve(subscription_id)
    assert (ended.status, ended.ended_at, ended.canceled_at) == ("canceled", period_end, scheduled.canceled_at)
    deleted = fake.last_event("customer.subscription.deleted")
    assert deleted["data"]["object"]["status"] == "canceled"
    assert fake.now() >= period_end
    assert not fake.events("invoice.payment_failed") and len(fake.events("invoice.paid")) == 1


def test_a_scheduled_cancellation_can_be_taken_back(client, fake, plans):
    subscription_id = subscribe(client, fake, (plans["pro"], 1))
    client.v1.subscriptions.update(subscription_id, {"cancel_at_period_end": True})
    resumed = client.v1.subscriptions.update(subscription_id, {"cancel_at_period_end": False})
    assert (resumed.cancel_at_period_end, resumed.cancel_at, resumed.canceled_at) == (False, None, None)
    assert fake.advance_period(subscription_id)["status"] == "active"


def test_deleting_cancels_at_once_and_leaves_only_metadata_editable(client, fake, plans):
    subscription_id = subscribe(client, fake, (plans["pro"], 1))
    canceled = client.v1.subscriptions.cancel(
        subscription_id, {"cancellation_details": {"comment": "Too pricey", "feedback": "too_expensive"}}
    )
    assert (canceled.status, canceled.cancellation_details.feedback) == ("canceled", "too_expensive")
    assert canceled.ended_at == canceled.canceled_at
    deleted = fake.last_event("customer.subscription.deleted")
    assert deleted["request"]["id"] is not None and deleted["data"]["object"]["id"] == subscription_id

    with pytest.raises(stripe.InvalidRequestError, match="canceled subscription can only update"):
        client.v1.subscriptions.update(subscription_id, {"items": [{"price": plans["basic"]["id"]}]})
    assert client.v1.subscriptions.update(subscription_id, {"metadata": {"note": "churned"}}).metadata.note == "churned"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.subscriptions.cancel(subscription_id)

    assert client.v1.subscriptions.list({"customer": canceled.customer}).data == []
    assert [s.id for s in client.v1.subscriptions.list({"customer": canceled.customer, "status": "all"}).data] == [subscription_id]


# ---------------------------------------------------------------------- renewals and payments


def test_a_renewal_rolls_the_items_a_period_forward_and_charges(client, fake, plans):
    subscription_id = subscribe(client, fake, (plans["pro"], 1), (plans["bot_slot"], 2))
    first = client.v1.subscriptions.retrieve(subscription_id)["items"].data[0]

    fake.advance_period(subscription_id)

    renewed = client.v1.subscriptions.retrieve(subscription_id, {"expand": ["latest_invoice"]})
    item = renewed["items"].data[0]
    # Anchored on the start date, not chained from period to period.
    assert (item.current_period_start, item.current_period_end) == (
        first.current_period_end,
        months_after(renewed.billing_cycle_anchor, 2),
    )
    invoice = renewed.latest_invoice
    assert (invoice.status, invoice.billing_reason, invoice.amount_paid) == ("paid", "subscription_cycle", 9900 + 2 * 500)
    # The invoice's own period is the one that just ended; its lines charge for the new one.
    assert (invoice.period_start, invoice.period_end) == (first.current_period_start, first.current_period_end)
    assert invoice.lines.data[0].period.start == first.current_period_end
    assert [i.id for i in client.v1.invoices.list({"subscription": subscription_id}).data][0] == invoice.id
    assert [e["type"] for e in fake.events()][-3:] == ["customer.subscription.updated", "invoice.paid", "invoice.payment_succeeded"]


def test_a_failed_payment_makes_the_subscription_past_due_until_the_invoice_is_paid(client, fake, plans):
    subscription_id = subscribe(client, fake, (plans["pro"], 1))

    failed = fake.fail_payment(subscription_id)
    assert (failed["status"], failed["attempt_count"], failed["billing_reason"]) == ("open", 1, "subscription_cycle")
    assert failed["next_payment_attempt"] > fake.now()
    assert client.v1.subscriptions.retrieve(subscription_id).status == "past_due"
    assert fake.last_event("invoice.payment_failed")["data"]["object"]["id"] == failed["id"]
    assert fake.last_event("customer.subscription.updated")["data"]["previous_attributes"] == {"status": "active"}

    again = fake.fail_payment(subscription_id)
    assert (again["id"], again["attempt_count"]) == (failed["id"], 2)

    paid = fake.pay_invoice(subscription_id)
    assert (paid["id"], paid["status"], paid["amount_remaining"]) == (failed["id"], "paid", 0)
    assert client.v1.subscriptions.retrieve(subscription_id).status == "active"
    assert [e["type"] for e in fake.events()][-3:] == ["invoice.paid", "invoice.payment_succeeded", "customer.subscription.updated"]
    with pytest.raises(ValueError):
        fake.pay_invoice(subscription_id)
    assert [i.status for i in client.v1.invoices.list({"subscription": subscription_id, "status": "open"}).data] == []


def test_when_retries_are_exhausted_stripe_cancels_or_marks_unpaid(client, fake, plans):
    canceled_id = subscribe(client, fake, (plans["pro"], 1))
    fake.fail_payment(canceled_id)
    fake.exhaust_retries(canceled_id)
    canceled = client.v1.subscriptions.retrieve(canceled_id)
    assert (canceled.status, canceled.cancellation_details.reason) == ("canceled", "payment_failed")
    assert fake.last_event("customer.subscription.deleted")["data"]["object"]["id"] == canceled_id

    unpaid_id = subscribe(client, fake, (plans["pro"], 1))
    fake.fail_payment(unpaid_id)
    fake.exhaust_retries(unpaid_id, cancel=False)
    assert client.v1.subscriptions.retrieve(unpaid_id).status == "unpaid"


# ---------------------------------------------------------------------- webhooks


def test_construct_event_accepts_the_fakes_signed_deliveries_and_their_replays(client, fake, plans):
    subscribe(client, fake, (plans["pro"], 1))
    completed = fake.last_event("checkout.session.completed")
    payload, header = fake.signed_webhook(completed)

    event = stripe.Webhook.construct_event(payload, header, fake.webhook_secret)
    assert (event.id, event.type, event.api_version) == (completed["id"], "checkout.session.completed", API_VERSION)
    assert event.data.object.subscription == completed["data"]["object"]["subscription"]
    assert client.construct_event(payload, header, fake.webhook_secret).id == event.id
    # The header is exactly what stripe-python's own test helper computes.
    timestamp = int(header.split(",")[0][2:])
    assert header == stripe.WebhookSignature.generate_signature_header(payload.decode(), fake.webhook_secret, timestamp)
    assert payload.startswith(b'{\n  "id": "evt_')

    replay, replay_header = fake.signed_webhook(completed["id"], timestamp=timestamp + 60)
    assert replay == payload and replay_header != header
    assert stripe.Webhook.construct_event(replay, replay_header, fake.webhook_secret).id == event.id


@pytest.mark.parametrize("kind", ["tampered", "wrong_secret", "stale", "no_v1", "malformed", "missing"])
def test_signature_verification_refuses_bad_deliveries(client, fake, kind):
    client.v1.customers.create({"email": "owner@example.com"})
    payload, header = fake.bad_signature(fake.last_event("customer.created"), kind)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload, header, fake.webhook_secret)


def test_the_signature_timestamp_is_checked_against_the_tolerance(client, fake):
    client.v1.customers.create({"email": "owner@example.com"})
    payload, header = fake.signed_webhook(fake.last_event("customer.created"), timestamp=int(time.time()) - 100)
    assert stripe.Webhook.construct_event(payload, header, fake.webhook_secret).type == "customer.created"
    with pytest.raises(stripe.SignatureVerificationError, match="tolerance"):
        stripe.Webhook.construct_event(payload, header, fake.webhook_secret, tolerance=60)


def test_events_are_snapshots_so_an_older_update_can_arrive_after_the_deletion(client, fake, plans):
    subscription_id = subscribe(client, fake, (plans["pro"], 1))
    client.v1.subscriptions.update(subscription_id, {"metadata": {"note": "upgraded"}})
    client.v1.subscriptions.cancel(subscription_id)
    updated, deleted = fake.last_event("customer.subscription.updated"), fake.last_event("customer.subscription.deleted")

    # Delivered out of order, each still verifies and still shows the state it was made in.
    late = stripe.Webhook.construct_event(*fake.signed_webhook(updated), fake.webhook_secret)
    early = stripe.Webhook.construct_event(*fake.signed_webhook(deleted), fake.webhook_secret)
    assert (early.data.object.status, late.data.object.status) == ("canceled", "active")
    assert late.created <= early.created


def test_events_are_listed_newest_first_and_paged(client, fake, plans):
    subscribe(client, fake, (plans["pro"], 1))
    everything = [e["id"] for e in reversed(fake.events())]

    first_page = client.v1.events.list({"limit": 3})
    assert [e.id for e in first_page.data] == everything[:3] and first_page.has_more
    assert [e.id for e in first_page.auto_paging_iter()] == everything
    assert [e.type for e in client.v1.events.list({"type": "invoice.*"}).data] == ["invoice.payment_succeeded", "invoice.paid"]
    assert [e.type for e in client.v1.events.list({"types": ["customer.created", "price.created"]}).data][0] == "customer.created"
    assert client.v1.events.retrieve(everything[0]).type == "checkout.session.completed"


# ---------------------------------------------------------------------- errors and faults


def test_a_missing_or_wrong_api_key_is_an_authentication_error(fake, http):
    wrong = "sk_test_wrong0000000001234"
    for key, message in [("", "You did not provide an API key"), (wrong, "sk_test_" + "*" * 14 + "1234")]:
        with pytest.raises(stripe.AuthenticationError, match=re.escape(message)) as refused:
            make_client(fake, http, api_key=key).v1.customers.create({"email": "a@example.com"})
        assert refused.value.http_status == 401
        assert refused.value.json_body["error"]["type"] == "invalid_request_error"
    assert not fake.events()


def test_unknown_ids_urls_and_parameters_are_invalid_request_errors(client, fake):
    with pytest.raises(stripe.InvalidRequestError, match="No such subscription: 'sub_missing'") as missing:
        client.v1.subscriptions.retrieve("sub_missing")
    assert (missing.value.http_status, missing.value.code, missing.value.param) == (404, "resource_missing", "id")

    with pytest.raises(stripe.InvalidRequestError, match=r"Unrecognized request URL \(GET: /v1/nothing\)") as unknown:
        client.raw_request("get", "/v1/nothing")
    assert unknown.value.http_status == 404

    for params, code, param in [
        ({"line_items": [{"price": "price_x", "quantity": 1}]}, "parameter_missing", "mode"),
        ({"mode": "subscription", "line_items": [{"price": "price_x", "quantity": "two"}]},
         "parameter_invalid_integer", "line_items[0][quantity]"),
        ({"mode": "subscription", "allow_promotion_codes": True}, "parameter_unknown", "allow_promotion_codes"),
    ]:
        with pytest.raises(stripe.InvalidRequestError) as refused:
            client.v1.checkout.sessions.create(params)
        assert (refused.value.http_status, refused.value.code, refused.value.param) == (400, code, param)
        assert set(refused.value.json_body["error"]) >= {"type", "code", "message", "param", "doc_url"}


@pytest.mark.parametrize(
    "fault, expected",
    [
        (401, stripe.AuthenticationError),
        (409, stripe.APIError),
        (429, stripe.RateLimitError),
        (500, stripe.APIError),
        (503, stripe.APIError),
    ],
)
def test_a_fault_maps_to_the_stripe_exception(client, fake, fault, expected):
    fake.fail_next("POST /v1/customers", fault)
    with pytest.raises(stripe.StripeError) as raised:
        client.v1.customers.create({"email": "a@example.com"})
    assert type(raised.value) is expected
    assert raised.value.http_status == fault
    assert not fake.events()
    assert client.v1.customers.create({"email": "a@example.com"}).id.startswith("cus_")


def test_a_timeout_is_an_api_connection_error(fake):
    fake.fault_delay = 2
    fake.fail_next("*", "timeout")
    impatient = stripe.RequestsClient(timeout=0.2)
    try:
        with pytest.raises(stripe.APIConnectionError):
            make_client(fake, impatient).v1.customers.create({"email": "a@example.com"})
    finally:
        impatient.close()
    assert not fake.events()


@pytest.fixture
def fast_retries(monkeypatch):
    # stripe-python backs off 0.5 s to 5 s between retries; milliseconds will do here.
    monkeypatch.setattr(stripe.HTTPClient, "INITIAL_DELAY", 0.01)
    monkeypatch.setattr(stripe.HTTPClient, "MAX_DELAY", 0.02)


def test_server_errors_are_retried_with_the_same_idempotency_key(fake, http, fast_retries):
    fake.fail_next("POST /v1/customers", 500, count=2)
    customer = make_client(fake, http, max_network_retries=2).v1.customers.create({"email": "a@example.com"})

    attempts = [r for r in fake.requests if r.endpoint == "POST /v1/customers"]
    assert len(attempts) == 3 and len({r.idempotency_key for r in attempts}) == 1
    assert [e["data"]["object"]["id"] for e in fake.events("customer.created")] == [customer.id]


def test_an_answer_lost_after_processing_is_replayed_to_the_retry(fake, fast_retries):
    fake.fault_delay = 2
    fake.fail_next("POST /v1/customers", "timeout_after_processing")
    impatient = stripe.RequestsClient(timeout=0.3)
    try:
        customer = make_client(fake, impatient, max_network_retries=1).v1.customers.create({"email": "a@example.com"})
    finally:
        impatient.close()
    assert customer.last_response.headers["Idempotent-Replayed"] == "true"
    assert [e["data"]["object"]["id"] for e in fake.events("customer.created")] == [customer.id]


def test_an_idempotency_key_replays_its_request_and_refuses_other_parameters(client, fake):
    first = client.v1.customers.create({"email": "a@example.com"}, {"idempotency_key": "signup-acme"})
    again = client.v1.customers.create({"email": "a@example.com"}, {"idempotency_key": "signup-acme"})
    assert again.id == first.id and len(fake.events("customer.created")) == 1

    with pytest.raises(stripe.IdempotencyError, match="signup-acme"):
        client.v1.customers.create({"email": "b@example.com"}, {"idempotency_key": "signup-acme"})


def test_the_fake_stripe_fixture_points_settings_and_the_stripe_module_at_the_fake(fake_stripe, settings):
    assert settings.STRIPE_API_BASE == stripe.api_base == fake_stripe.base_url
    assert settings.STRIPE_SECRET_KEY == stripe.api_key == fake_stripe.api_key
    assert settings.STRIPE_SECRET_KEY.startswith("sk_test_") and settings.STRIPE_WEBHOOK_SECRET.startswith("whsec_")

    customer = stripe.Customer.create(email="owner@example.com")
    http = stripe.RequestsClient(timeout=5)
    try:
        client = stripe.StripeClient(settings.STRIPE_SECRET_KEY, base_addresses={"api": settings.STRIPE_API_BASE},
                                     http_client=http)
        assert client.v1.customers.retrieve(customer.id).email == "owner@example.com"
    finally:
        http.close()
    payload, header = fake_stripe.signed_webhook(fake_stripe.last_event("customer.created"))
    assert stripe.Webhook.construct_event(payload, header, settings.STRIPE_WEBHOOK_SECRET).data.object.id == customer.id


# ---------------------------------------------------------------------- lifecycle


def test_stopping_is_quick_and_leaves_no_thread_or_port(http):
    fake = FakeStripe(fault_delay=30).start()
    port = int(fake.base_url.rsplit(":", 1)[1])
    try:
        make_client(fake, http).v1.customers.create({"email": "a@example.com"})
        # A client still waiting on a delayed answer must not hold the server up.
        fake.fail_next("*", "timeout")
        waiter = threading.Thread(
            target=lambda: pytest.raises(stripe.APIConnectionError, make_client(fake, http).v1.customers.create, {})
        )
        waiter.start()
        deadline = time.monotonic() + 5
        while len(fake.requests) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        started = time.monotonic()
        fake.stop()
        elapsed = time.monotonic() - started
    waiter.join(timeout=5)
    assert elapsed < 2 and not waiter.is_alive()
    assert not [t for t in threading.enumerate() if t.name.startswith("FakeStripe:")]
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    fake.stop()  # idempotent
