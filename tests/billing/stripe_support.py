"""Driving billing through the fake Stripe: prices synced, a Checkout paid, and its
events delivered to the webhook on the public host, signed as Stripe signs them."""

import hashlib
import hmac
import time

from django.conf import settings
from django.test import Client

from billing.actions import do_ensure_stripe_prices

WEBHOOK = "/stripe/webhook/"


def sync_prices() -> dict[str, str]:
    return do_ensure_stripe_prices()


def post(payload: bytes, signature: str, host: str | None = None):
    return Client(HTTP_HOST=host or settings.BASE_DOMAIN).post(
        WEBHOOK, payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature)


def sign(payload: bytes, secret: str) -> tuple[bytes, str]:
    """A body of our own, signed as Stripe signs (for deliveries the fake would not make)."""
    timestamp = int(time.time())
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return payload, f"t={timestamp},v1={digest}"


def deliver(fake, event, host: str | None = None):
    return post(*fake.signed_webhook(event), host=host)


def deliver_since(fake, count: int) -> list:
    """Deliver, in order, the events the fake emitted after the first `count`."""
    events = fake.events()[count:]
    return [deliver(fake, event).status_code for event in events]


def session_id(url: str) -> str:
    return url.rsplit("/", 1)[-1]


def subscribe(solo, fake, plan: str = "pro", **addons) -> str:
    """The owner buys `plan` through Checkout and Stripe's events arrive; the Stripe subscription id."""
    before = len(fake.events())
    if addons:
        response = solo.client().post("/settings/plan/add-ons/", addons)
    else:
        response = solo.client().post("/settings/plan/change/", {"plan": plan})
    assert response.status_code == 302 and response.url.startswith(fake.base_url), response
    session = fake.complete_checkout(session_id(response.url))
    assert set(deliver_since(fake, before)) == {200}
    return session["subscription"]
