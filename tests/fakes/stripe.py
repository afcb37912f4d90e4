"""A local fake of the Stripe API: the subset a subscription billing integration uses
(customers, products and prices, Checkout in subscription mode, the customer portal,
subscriptions, invoices, events) and signed webhooks, so tests run the real `stripe`
library against a loopback server.

    with FakeStripe() as fake:
        client = stripe.StripeClient(fake.api_key, base_addresses={"api": fake.base_url},
                                     http_client=stripe.RequestsClient(timeout=5))
        # or, module-level: stripe.api_key = fake.api_key; stripe.api_base = fake.base_url
        price = fake.add_price("Pro", 9900, lookup_key="pro_monthly")
        session = client.v1.checkout.sessions.create({"mode": "subscription", ...})
        fake.complete_checkout(session.id)
        for event in fake.events():
            payload, signature = fake.signed_webhook(event)   # what Stripe would POST

The server runs on its own event loop in a background thread. stripe-python 16.1.0 is
synchronous on `requests` (stripe.RequestsClient, one pooled Session per thread; its
async methods would use aiohttp, httpx being absent); it sends v1 parameters form-encoded
with indexed brackets (`line_items[0][price]=...`, `expand[0]=...`, booleans as
"true"/"false"), `Authorization: Bearer <key>`, `Stripe-Version` and, on every POST, an
`Idempotency-Key` it generates once and reuses across its own retries. Set the address with
`StripeClient(..., base_addresses={"api": base_url})` or `stripe.api_base`; the paths
start with /v1. Tests should set `stripe.enable_telemetry = False`: with it on, every
request reads or creates ~/.config/stripe/telemetry_id.

Shapes are those of API version 2026-10-28.endive, the version stripe-python 16.1.0 pins
(stripe._api_version) and sends; a request asking for another version is refused, as the
fake renders only this one. What that version means for billing code, from the library's
generated types:
  - a subscription has no current_period_start/end (gone since 2025-03-31.basil): each
    subscription item has its own; subscriptions default to billing_mode flexible;
  - an invoice names its subscription at parent.subscription_details.subscription, a
    line's price at pricing.price_details.price; an invoice's period_start/period_end are
    the period that just ended (its creation time for the first invoice), while each
    line's period is the service period it charges for;
  - setting cancel_at_period_end also sets cancel_at to the period end and canceled_at
    to the time of the request; the subscription is deleted when the period ends.
Fields of these objects that the fake does not model are absent rather than guessed.
JSON is rendered like Stripe's: two-space indentation, "id" and "object" first, then the
other keys in alphabetical order. Webhook bodies are the same bytes every time.

Endpoints (Bearer auth with `api_key`, which must be a sk_test_ key):
    customers: create, retrieve, update          products: create, list, retrieve
    prices: create (product or product_data, recurring, lookup_key, transfer_lookup_key),
        list (lookup_keys, product, active, type, currency), retrieve
    checkout/sessions: create (mode=subscription only), retrieve (expand line_items)
    billing_portal/sessions: create              invoices: list, retrieve
    subscriptions: list, retrieve, update (items, cancel_at_period_end, metadata,
        proration_behavior create_prorations or none), cancel (DELETE)
    events: list (type, types[]), retrieve
Lists are newest first with limit/starting_after/ending_before, and `expand` works on any
id field that names an object the fake holds. Every POST honours Idempotency-Key like
Stripe: the same key and parameters replay the saved answer (header Idempotent-Replayed:
true), other parameters are refused (idempotency_error). Only 2xx answers are saved.
The session URLs are served too: GET <base_url>/checkout/<id> is a page whose Pay button
completes the session and redirects (303) to success_url with {CHECKOUT_SESSION_ID}
filled in; GET <base_url>/p/session/<id> links back to return_url.

What Stripe does on its own, helpers do here (each emits the events Stripe would, with
request null as for automatic events):
    complete_checkout(session)  customer (if the session had none), subscription (active),
                                first invoice paid: customer.created,
                                customer.subscription.created, invoice.paid,
                                invoice.payment_succeeded, checkout.session.completed
    expire_checkout(session)    checkout.session.expired
    advance_period(sub, pay=True)  the period ends: a subscription set to cancel at period
                                end is deleted (customer.subscription.deleted); otherwise
                                the items roll one interval and a renewal invoice is
                                charged: customer.subscription.updated, then invoice.paid
                                + invoice.payment_succeeded, or with pay=False
                                invoice.payment_failed and status past_due (updated)
    fail_payment(sub)           a failed charge: a retry of the open invoice, or else the
                                renewal (advance_period(pay=False))
    pay_invoice(sub)            the open invoice is paid (a retry succeeds, or the customer
                                fixed their card in the portal); past_due/unpaid -> active
    exhaust_retries(sub, cancel=True)  dunning gave up: deleted with cancellation_details
                                reason payment_failed, or (cancel=False) status unpaid
    add_price(...)              a product and a monthly price, as a dashboard user would
API writes emit customer.created/updated, product.created, price.created/updated,
billing_portal.session.created and customer.subscription.updated/deleted, with the API
request's id and idempotency key; *.updated events carry data.previous_attributes, and
an update that changes nothing emits none. invoice.created/finalized/updated, proration
invoices and payment methods are not modelled. Event bodies are snapshots taken when the
event is emitted, like Stripe's; pending_webhooks is 1, as for one configured endpoint.

Time: the fake's clock is the wall clock plus whatever advance_period skipped, like a
Stripe test clock; object and event timestamps use it. Signature timestamps use the real
wall clock, which is what verification compares them to.

Webhooks: signed_webhook(event, secret=None, timestamp=None) returns the body and the
Stripe-Signature header Stripe sends, `t=<unix time>,v1=<hex HMAC-SHA256 of
"<t>.<body>" keyed by the whole whsec_ secret>`; the secret defaults to webhook_secret.
Replaying an event is signing it again. bad_signature(event, kind) gives a delivery that
stripe.Webhook.construct_event (default tolerance 300 s) refuses with
SignatureVerificationError: "tampered" (body changed after signing), "wrong_secret",
"stale" (signed 10 minutes ago), "no_v1" (only a v0 signature), "malformed" (no
timestamp) and "missing" (empty header).

Faults, and what stripe-python 16.1.0 raises for each, as verified by
tests/fakes/test_stripe_fake.py. fail_next(endpoint, fault, count=1) takes an endpoint
such as "POST /v1/checkout/sessions" or "GET /v1/subscriptions/{id}", or "*":

    fault                     the fake does                                 stripe raises
    ------------------------  --------------------------------------------  ----------------
    401                       {"error": {"type": "invalid_request_error",   AuthenticationError
                              "message": "Invalid API Key provided: ..."}}
                              (a rolled key)
    409                       lock_timeout, invalid_request_error           APIError, after
                                                                            retries (1)
    429                       rate_limit, invalid_request_error             RateLimitError (2)
    500, 502, 503, 504        {"error": {"type": "api_error", ...}}         APIError, after
                                                                            retries (1)
    timeout                   nothing; answers 504 after fault_delay        APIConnectionError,
                                                                            after retries (1)
    timeout_after_processing  processes the request (and saves it under     nothing if a retry
                              its idempotency key), answers after           comes in time: it
                              fault_delay                                   replays the saved
                                                                            answer (1)

Every fault but timeout_after_processing replaces the request's processing and saves
nothing under its idempotency key. A fault's delayed answer is dropped when the server
stops.

(1) stripe-python retries 409s, 5xx and connection errors max_network_retries times
    (default 2, with 0.5 s to 5 s of backoff; a StripeClient or stripe.max_network_retries
    can set 0), resending the same Idempotency-Key, so a fault with count <= retries is
    invisible to the caller. A Stripe-Should-Retry header would override this; the fake
    sends none.
(2) Not retried: stripe-python retries a 429 only when Stripe-Should-Retry says so.

Errors the fake returns on its own, like Stripe (stripe-python exception in brackets):
    no key, or not the fake's key: 401 invalid_request_error, which is what Stripe sends
        for a bad key ("authentication_error" is not a type Stripe uses) [AuthenticationError]
    unknown URL: 404 "Unrecognized request URL (GET: /v1/...)" [InvalidRequestError]
    unknown id in the path: 404 resource_missing, param "id"; in a parameter: 400
        resource_missing, param naming it [InvalidRequestError, .code and .param set]
    missing parameter 400 parameter_missing; parameter the fake does not know (whether a
        typo or part of the API it does not model) 400 parameter_unknown; malformed
        integer parameter_invalid_integer; other bad values 400 with param
        [InvalidRequestError]
    reused Idempotency-Key with other parameters: 400 idempotency_error [IdempotencyError]
    Stripe-Version other than 2026-10-28.endive: 400 [InvalidRequestError]
"""

from __future__ import annotations

import asyncio
import calendar
import copy
import datetime as dt
import hashlib
import hmac
import html
import json
import random
import re
import string
import threading
import time
from typing import Callable, NamedTuple
from urllib.parse import parse_qsl

from aiohttp import web

from tests.fakes.loopback import LoopbackServer

API_VERSION = "2026-10-28.endive"  # stripe._api_version._ApiVersion.CURRENT in stripe 16.1.0
DEFAULT_API_KEY = "sk_test_FakeStripe0000000000000000"
DEFAULT_WEBHOOK_SECRET = "whsec_FakeStripeWebhookSecret000000000"
DEFAULT_FAULT_DELAY = 10.0  # seconds; far beyond any client timeout a test should use
SIGNATURE_TOLERANCE = 300  # stripe.Webhook.DEFAULT_TOLERANCE
FAULTS = frozenset({401, 409, 429, 500, 502, 503, 504, "timeout", "timeout_after_processing"})
RETRY_DELAY = 3 * 86_400  # when a failed invoice is next attempted; Smart Retries vary it
INTERVALS = ("day", "week", "month", "year")
SUBSCRIPTION_STATUSES = ("active", "past_due", "unpaid", "canceled", "incomplete", "incomplete_expired",
                         "trialing", "paused")
ID_CHARS = string.ascii_letters + string.digits

# Parameter schemas: what each endpoint accepts, and how to read it. "string" is nullable
# (Stripe reads an empty string as "unset"), "metadata" is a hash of strings, [schema] an
# array (sent as a[0], a[1]... or a[]), a dict a hash with those keys.
S, I, B, M = "string", "integer", "boolean", "metadata"
EXPAND = {"expand": [S]}
PAGE = {"limit": I, "starting_after": S, "ending_before": S, **EXPAND}
CUSTOMER_WRITE = {"email": S, "name": S, "description": S, "metadata": M, **EXPAND}
PRODUCT_CREATE = {"id": S, "name": S, "description": S, "active": B, "metadata": M, **EXPAND}
PRODUCT_LIST = {"active": B, "ids": [S], **PAGE}
PRICE_CREATE = {
    "currency": S, "product": S, "product_data": {"name": S, "metadata": M}, "unit_amount": I,
    "recurring": {"interval": S, "interval_count": I}, "lookup_key": S, "transfer_lookup_key": B,
    "nickname": S, "active": B, "metadata": M, **EXPAND,
}
PRICE_LIST = {"active": B, "currency": S, "product": S, "type": S, "lookup_keys": [S], **PAGE}
CHECKOUT_CREATE = {
    "mode": S, "customer": S, "customer_email": S, "line_items": [{"price": S, "quantity": I}],
    "success_url": S, "cancel_url": S, "client_reference_id": S, "metadata": M,
    "subscription_data": {"metadata": M}, **EXPAND,
}
PORTAL_CREATE = {"customer": S, "return_url": S, **EXPAND}
SUBSCRIPTION_UPDATE = {
    "items": [{"id": S, "price": S, "quantity": I, "deleted": B}], "cancel_at_period_end": B,
    "metadata": M, "proration_behavior": S, **EXPAND,
}
SUBSCRIPTION_CANCEL = {"invoice_now": B, "prorate": B, "cancellation_details": {"comment": S, "feedback": S}, **EXPAND}
SUBSCRIPTION_LIST = {"customer": S, "price": S, "status": S, **PAGE}
INVOICE_LIST = {"customer": S, "subscription": S, "status": S, **PAGE}
EVENT_LIST = {"type": S, "types": [S], **PAGE}


class LoggedRequest(NamedTuple):
    method: str
    path: str
    endpoint: str  # the route, as fail_next names it: "POST /v1/subscriptions/{id}"
    params: dict  # query and form parameters as sent (strings), nested; a[0], a[1]... as lists
    idempotency_key: str | None


class StripeError(Exception):
    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error", code=None, param=None):
        super().__init__(message)
        self.status, self.message, self.type, self.code, self.param = status, message, type, code, param

    def body(self, request_id: str) -> dict:
        error = {"message": self.message, "type": self.type}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = f"https://docs.stripe.com/error-codes/{self.code.replace('_', '-')}"
        if self.param:
            error["param"] = self.param
        error["request_log_url"] = f"https://dashboard.stripe.com/test/logs/{request_id}"
        return {"error": error}


def _missing(param: str) -> StripeError:
    return StripeError(400, f"Missing required param: {param}.", code="parameter_missing", param=param)


def _no_such(kind: str, object_id: str, param: str) -> StripeError:
    # An id in the path is a missing resource (404); one named by a parameter is a bad request.
    status = 404 if param == "id" else 400
    return StripeError(status, f"No such {kind}: '{object_id}'", code="resource_missing", param=param)


class Route(NamedTuple):
    endpoint: str
    method: str
    pattern: re.Pattern
    handler: Callable
    api: bool  # an authenticated /v1 call, as opposed to a hosted page


# ---------------------------------------------------------------------- encoding


def _decode_form(pairs) -> dict:
    """Stripe's bracket notation into nested dicts: a[b][0][c]=x -> {"a": {"b": {"0": {"c": "x"}}}};
    "a[]" appends. Arrays stay dicts keyed by index until a schema says they are arrays."""
    root: dict = {}
    for key, value in pairs:
        head, bracket, rest = key.partition("[")
        parts = [head]
        if bracket:
            parts += re.findall(r"\[([^\[\]]*)\]", "[" + rest)
            if "".join(f"[{part}]" for part in parts[1:]) != "[" + rest:
                raise StripeError(400, f"Invalid parameter name: {key}", param=key)
        node = root
        for depth, part in enumerate(parts):
            part = part or str(len(node))
            if depth == len(parts) - 1:
                if isinstance(node.get(part), dict):
                    raise StripeError(400, "Invalid hash", param=head)
                node[part] = value
            else:
                node = node.setdefault(part, {})
                if not isinstance(node, dict):
                    raise StripeError(400, "Invalid hash", param=head)
    return root


def _listify(value):
    """Index-keyed hashes as lists, for the request log."""
    if isinstance(value, dict):
        if value and all(k.isdigit() for k in value):
            return [_listify(v) for _, v in sorted(value.items(), key=lambda kv: int(kv[0]))]
        return {k: _listify(v) for k, v in value.items()}
    return value


def _conform(value, schema, name: str = ""):
    """Check `value` against `schema` and convert it; unknown keys are refused, as Stripe does."""
    if schema == S:
        if not isinstance(value, str):
            raise StripeError(400, "Invalid string", param=name)
        return value or None
    if schema == I:
        if not isinstance(value, str) or not re.fullmatch(r"-?[0-9]+", value):
            raise StripeError(400, f"Invalid integer: {value}", code="parameter_invalid_integer", param=name)
        return int(value)
    if schema == B:
        if value not in ("true", "false"):
            raise StripeError(400, f"Invalid boolean: {value}", param=name)
        return value == "true"
    if schema == M:
        if value == "":
            return {}  # metadata="" unsets every key
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise StripeError(400, "Invalid hash", param=name)
        return dict(value)
    if isinstance(schema, list):
        if not isinstance(value, dict) or not all(k.isdigit() for k in value):
            raise StripeError(400, "Invalid array", param=name)
        ordered = sorted(value.items(), key=lambda kv: int(kv[0]))
        return [_conform(v, schema[0], f"{name}[{k}]") for k, v in ordered]
    if not isinstance(value, dict):
        raise StripeError(400, "Invalid hash", param=name)
    result = {}
    for key, item in value.items():
        full = f"{name}[{key}]" if name else key
        if key not in schema:
            raise StripeError(
                400,
                f"Received unknown parameter: {full}. FakeStripe does not model it (tests/fakes/stripe.py).",
                code="parameter_unknown",
                param=full,
            )
        result[key] = _conform(item, schema[key], full)
    return result


def _stripe_order(value):
    """Stripe's key order: "id", "object", then the rest alphabetically, at every level."""
    if isinstance(value, dict):
        keys = [k for k in ("id", "object") if k in value] + sorted(k for k in value if k not in ("id", "object"))
        return {k: _stripe_order(value[k]) for k in keys}
    if isinstance(value, list):
        return [_stripe_order(v) for v in value]
    return value


def _dumps(payload) -> bytes:
    return json.dumps(_stripe_order(payload), indent=2, ensure_ascii=False).encode()


def _merge_metadata(current: dict, update: dict) -> dict:
    if not update:  # only metadata="" decodes to nothing
        return {}
    merged = dict(current)
    for key, value in update.items():
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def _add_interval(anchor: int, interval: str, count: int) -> int:
    """`count` intervals after `anchor`, on the anchor's day of month (or the month's last day),
    as Stripe bills: Jan 31, Feb 28, Mar 31."""
    start = dt.datetime.fromtimestamp(anchor, dt.UTC)
    if interval == "day":
        return anchor + count * 86_400
    if interval == "week":
        return anchor + count * 7 * 86_400
    months = count * (12 if interval == "year" else 1)
    year, month = divmod(start.month - 1 + months, 12)
    year, month = start.year + year, month + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return int(start.replace(year=year, month=month, day=day).timestamp())


def _money(amount: int, currency: str) -> str:
    return f"${amount / 100:,.2f}" if currency == "usd" else f"{amount / 100:,.2f} {currency.upper()}"


def _json_response(body: bytes, status: int, headers: dict) -> web.Response:
    return web.Response(body=body, status=status, content_type="application/json", charset="utf-8", headers=headers)


def _page(title: str, body: str, status: int = 200) -> web.Response:
    text = f"<!doctype html><html><head><title>{html.escape(title)}</title></head><body>{body}</body></html>"
    return web.Response(text=text, status=status, content_type="text/html")


class FakeStripe(LoopbackServer):
    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        webhook_secret: str = DEFAULT_WEBHOOK_SECRET,
        fault_delay: float = DEFAULT_FAULT_DELAY,
        seed: int = 0,
    ):
        if not api_key.startswith("sk_test_"):
            raise ValueError("the fake is test mode: its api_key must start with sk_test_")
        if not webhook_secret.startswith("whsec_"):
            raise ValueError("webhook secrets start with whsec_")
        super().__init__()
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.fault_delay = fault_delay
        self.requests: list[LoggedRequest] = []

        # One lock for all state: the server thread and the test thread both mutate it.
        self._lock = threading.RLock()
        self._rng = random.Random(seed)  # ids are reproducible from run to run
        self._objects: dict[str, dict] = {}  # id -> object, in creation order
        self._events: list[dict] = []
        self._idempotent: dict[str, tuple[str, int, bytes]] = {}  # key -> (fingerprint, status, body)
        self._clock_offset = 0
        self._cycles: dict[str, int] = {}  # subscription id -> periods completed since its anchor
        self._request_context: dict | None = None  # the API request being processed, for events
        # Per Checkout Session, what is not part of its JSON: its line items (only listed when
        # expanded) and the metadata for the subscription it will create.
        self._checkout: dict[str, dict] = {}
        self._portal_configuration = self._new_id("bpc_")

        self._routes = [
            self._route("POST", "/v1/customers", self._create_customer),
            self._route("GET", "/v1/customers/{id}", self._retrieve_customer),
            self._route("POST", "/v1/customers/{id}", self._update_customer),
            self._route("POST", "/v1/products", self._create_product),
            self._route("GET", "/v1/products", self._list_products),
            self._route("GET", "/v1/products/{id}", self._retrieve_product),
            self._route("POST", "/v1/prices", self._create_price),
            self._route("GET", "/v1/prices", self._list_prices),
            self._route("GET", "/v1/prices/{id}", self._retrieve_price),
            self._route("POST", "/v1/checkout/sessions", self._create_checkout_session),
            self._route("GET", "/v1/checkout/sessions/{id}", self._retrieve_checkout_session),
            self._route("POST", "/v1/billing_portal/sessions", self._create_portal_session),
            self._route("GET", "/v1/subscriptions", self._list_subscriptions),
            self._route("GET", "/v1/subscriptions/{id}", self._retrieve_subscription),
            self._route("POST", "/v1/subscriptions/{id}", self._update_subscription),
            self._route("DELETE", "/v1/subscriptions/{id}", self._cancel_subscription),
            self._route("GET", "/v1/invoices", self._list_invoices),
            self._route("GET", "/v1/invoices/{id}", self._retrieve_invoice),
            self._route("GET", "/v1/events", self._list_events),
            self._route("GET", "/v1/events/{id}", self._retrieve_event),
            self._route("GET", "/checkout/{id}", self._checkout_page, api=False),
            self._route("POST", "/checkout/{id}", self._checkout_pay, api=False),
            self._route("GET", "/p/session/{id}", self._portal_page, api=False),
        ]


    @staticmethod
    def _route(method: str, template: str, handler, api: bool = True) -> Route:
        pattern = re.compile("^" + re.escape(template).replace(re.escape("{id}"), "(?P<id>[^/]+)") + "$")
        return Route(f"{method} {template}", method, pattern, handler, api)

    # ----------------------------------------------------------------- test-side view

    def now(self) -> int:
        return int(time.time()) + self._clock_offset

    def object(self, object_id: str) -> dict:
        """Any object the fake holds, as the API would return it."""
        with self._lock:
            return self._render(self._objects[object_id])

    def events(self, type: str | None = None) -> list[dict]:
        """Events in the order they happened (the API lists them newest first)."""
        with self._lock:
            return [copy.deepcopy(e) for e in self._events if type is None or e["type"] == type]

    def last_event(self, type: str) -> dict:
        found = self.events(type)
        if not found:
            raise LookupError(f"no {type} event; the fake has {[e['type'] for e in self.events()]}")
        return found[-1]

    def add_price(self, product_name: str, unit_amount: int, *, lookup_key: str | None = None,
                  interval: str = "month", currency: str = "usd", metadata: dict | None = None) -> dict:
        """A product and a recurring price for it, as if made in the dashboard."""
        with self._lock:
            product = self._new_product({"name": product_name})
            params = {"currency": currency, "product": product["id"], "unit_amount": unit_amount,
                      "recurring": {"interval": interval}, "lookup_key": lookup_key, "metadata": metadata or {}}
            return self._render(self._new_price(params))

    # ----------------------------------------------------------------- webhooks

    def webhook_payload(self, event) -> bytes:
        """The body Stripe would POST for `event` (an event or its id): the same bytes every time."""
        event_id = event if isinstance(event, str) else event["id"]
        with self._lock:
            stored = self._objects.get(event_id)
            if stored is None or stored["object"] != "event":
                raise KeyError(f"no event {event_id!r}")
            return _dumps(stored)

    def signed_webhook(self, event, secret: str | None = None, *, timestamp: int | None = None) -> tuple[bytes, str]:
        """(body, Stripe-Signature header) of a delivery of `event`, signed now or at `timestamp`."""
        payload = self.webhook_payload(event)
        timestamp = int(time.time()) if timestamp is None else timestamp
        return payload, f"t={timestamp},v1={self._signature(payload, secret or self.webhook_secret, timestamp)}"

    def bad_signature(self, event, kind: str, secret: str | None = None) -> tuple[bytes, str]:
        """A delivery of `event` that signature verification must refuse; see the module doc."""
        secret = secret or self.webhook_secret
        payload, header = self.signed_webhook(event, secret)
        timestamp = int(time.time())
        if kind == "tampered":
            # Still valid JSON, so only the signature can tell.
            return payload.replace(b'"livemode": false', b'"livemode": true', 1), header
        if kind == "wrong_secret":
            return self.signed_webhook(event, secret + "x")
        if kind == "stale":
            return self.signed_webhook(event, secret, timestamp=timestamp - 2 * SIGNATURE_TOLERANCE)
        if kind == "no_v1":
            return payload, f"t={timestamp},v0={self._signature(payload, secret, timestamp)}"
        if kind == "malformed":
            return payload, f"v1={self._signature(payload, secret, timestamp)}"
        if kind == "missing":
            return payload, ""
        raise ValueError(f"unknown kind {kind!r}")

    @staticmethod
    def _signature(payload: bytes, secret: str, timestamp: int) -> str:
        return hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()

    # ----------------------------------------------------------------- what Stripe does on its own

    def complete_checkout(self, session_id: str, *, email: str | None = None, name: str | None = None) -> dict:
        """The buyer pays on the Checkout page (with `email` and `name` if the session has no
        customer): Stripe makes the customer, the subscription and its paid first invoice."""
        with self._lock:
            session = self._stored("checkout.session", session_id)
            if session["status"] != "open":
                raise ValueError(f"checkout session {session_id} is {session['status']}, not open")
            if session["customer"]:
                customer = self._objects[session["customer"]]
            else:
                email = email or session["customer_email"] or f"buyer-{self._rng.randrange(10**6):06d}@example.com"
                customer = self._new_customer({"email": email, "name": name})
            pending = self._checkout[session_id]
            lines = [(item["price"]["id"], item["quantity"]) for item in pending["lines"]]
            subscription = self._new_subscription(customer, lines, pending["subscription_metadata"])
            invoice = self._new_invoice(subscription, "subscription_create", self.now(), self.now())
            subscription["latest_invoice"] = invoice["id"]
            self._emit("customer.subscription.created", subscription)
            self._settle(invoice)
            session.update(
                customer=customer["id"],
                customer_details={
                    "address": {"city": None, "country": "US", "line1": None, "line2": None,
                                "postal_code": None, "state": None},
                    "email": customer["email"],
                    "name": customer["name"],
                    "phone": None,
                    "tax_exempt": "none",
                    "tax_ids": [],
                },
                invoice=invoice["id"],
                payment_status="paid",
                status="complete",
                subscription=subscription["id"],
                url=None,
            )
            self._emit("checkout.session.completed", session)
            return self._render(session)

    def expire_checkout(self, session_id: str) -> dict:
        with self._lock:
            session = self._stored("checkout.session", session_id)
            if session["status"] != "open":
                raise ValueError(f"checkout session {session_id} is {session['status']}, not open")
            session.update(status="expired", url=None)
            self._emit("checkout.session.expired", session)
            return self._render(session)

    def advance_period(self, subscription_id: str, *, pay: bool = True) -> dict:
        """The current period ends; the fake's clock moves to that moment if it is behind."""
        with self._lock:
            subscription = self._live_subscription(subscription_id)
            first = subscription["items"]["data"][0]
            old_start, old_end = first["current_period_start"], first["current_period_end"]
            self._clock_offset += max(0, old_end - self.now())
            if subscription["cancel_at_period_end"]:
                self._end(subscription, "cancellation_requested", ended_at=old_end)
                return self._render(subscription)
            before = self._render(subscription)
            self._cycles[subscription_id] += 1
            recurring = self._objects[first["price"]]["recurring"]
            new_end = _add_interval(subscription["billing_cycle_anchor"], recurring["interval"],
                                    recurring["interval_count"] * (self._cycles[subscription_id] + 1))
            for item in subscription["items"]["data"]:
                item.update(current_period_start=old_end, current_period_end=new_end)
            invoice = self._new_invoice(subscription, "subscription_cycle", old_start, old_end)
            subscription["latest_invoice"] = invoice["id"]
            self._emit_update(subscription, before)
            if pay:
                self._settle(invoice)
            else:
                self._fail(invoice)
            return self._render(subscription)

    def fail_payment(self, subscription_id: str) -> dict:
        """A charge fails: another attempt at the open invoice, or else the renewal's."""
        with self._lock:
            subscription = self._live_subscription(subscription_id)
            invoice = self._objects[subscription["latest_invoice"]]
            if invoice["status"] != "open":
                self.advance_period(subscription_id, pay=False)
                invoice = self._objects[subscription["latest_invoice"]]
            else:
                self._fail(invoice)
            return self._render(invoice)

    def pay_invoice(self, subscription_id: str) -> dict:
        """The subscription's open invoice gets paid."""
        with self._lock:
            subscription = self._live_subscription(subscription_id)
            invoice = self._objects[subscription["latest_invoice"]]
            if invoice["status"] != "open":
                raise ValueError(f"{subscription_id} has no open invoice (advance_period renews and pays)")
            self._settle(invoice)
            return self._render(invoice)

    def exhaust_retries(self, subscription_id: str, *, cancel: bool = True) -> dict:
        """Stripe stops retrying the open invoice and cancels the subscription, or marks it unpaid."""
        with self._lock:
            subscription = self._live_subscription(subscription_id)
            invoice = self._objects[subscription["latest_invoice"]]
            if invoice["status"] != "open":
                raise ValueError(f"{subscription_id} has no open invoice to give up on")
            invoice["next_payment_attempt"] = None
            if cancel:
                self._end(subscription, "payment_failed", ended_at=self.now())
            else:
                before = self._render(subscription)
                subscription["status"] = "unpaid"
                self._emit_update(subscription, before)
            return self._render(subscription)

    # ----------------------------------------------------------------- faults

    def fail_next(self, endpoint: str, fault, count: int = 1) -> None:
        """Answer the next `count` requests to `endpoint` ("POST /v1/checkout/sessions", or "*"
        for any) with `fault`. Endpoint-specific faults are used before "*" ones."""
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; known: {sorted(map(str, FAULTS))}")
        if endpoint != "*" and endpoint not in {route.endpoint for route in self._routes}:
            raise ValueError(f"unknown endpoint {endpoint!r}; use '*' or one of {[r.endpoint for r in self._routes]}")
        self._queue_fault(endpoint, fault, count)

    def _fault_response(self, fault: int, request_id: str) -> web.Response:
        if fault == 401:
            error = StripeError(401, f"Invalid API Key provided: {self._masked(self.api_key)}")
        elif fault == 409:
            error = StripeError(
                409,
                "This object cannot be accessed right now because another API request or Stripe process is "
                "currently accessing it. If you see this error intermittently, retry the request.",
                code="lock_timeout",
            )
        elif fault == 429:
            error = StripeError(429, "Request rate limit exceeded. Learn more about rate limits here "
                                     "https://docs.stripe.com/rate-limits.", code="rate_limit")
        else:
            error = StripeError(fault, "An unknown error occurred", type="api_error")
        return _json_response(_dumps(error.body(request_id)), error.status, {"Request-Id": request_id})

    # ----------------------------------------------------------------- HTTP

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw_query = request.rel_url.raw_query_string
        raw_body = await request.text() if request.can_read_body else ""
        route, object_id = self._match(request.method, request.path)
        endpoint = route.endpoint if route else f"{request.method} {request.path}"
        pairs = parse_qsl(raw_query, keep_blank_values=True) + parse_qsl(raw_body, keep_blank_values=True)
        try:
            params, decode_error = _decode_form(pairs), None
        except StripeError as error:
            params, decode_error = {}, error
        idempotency_key = request.headers.get("Idempotency-Key") if request.method in ("POST", "DELETE") else None
        self.requests.append(LoggedRequest(request.method, request.path, endpoint, _listify(params), idempotency_key))
        request_id = self._new_id("req_", 14)

        fault = self._queued_fault(endpoint)
        if fault == "timeout":
            await self._sleep_fault_delay()
            return self._fault_response(504, request_id)
        if fault is not None and fault != "timeout_after_processing":
            return self._fault_response(fault, request_id)

        if route is not None and not route.api:
            with self._lock:
                response = route.handler(object_id, params)
        else:
            fingerprint = f"{request.method} {request.path}?{raw_query}\n{raw_body}"
            response = self._process(request, route, object_id, params, decode_error, idempotency_key,
                                     fingerprint, request_id)
        if fault == "timeout_after_processing":
            await self._sleep_fault_delay()
        return response

    def _match(self, method: str, path: str) -> tuple[Route | None, str | None]:
        for route in self._routes:
            if route.method == method:
                found = route.pattern.match(path)
                if found:
                    return route, found.groupdict().get("id")
        return None, None

    def _process(self, request, route, object_id, params, decode_error, idempotency_key, fingerprint,
                 request_id) -> web.Response:
        headers = {"Request-Id": request_id, "Stripe-Version": API_VERSION}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        with self._lock:
            try:
                self._authenticate(request.headers.get("Authorization", ""))
                version = request.headers.get("Stripe-Version")
                if version is not None and version != API_VERSION:
                    raise StripeError(400, f"FakeStripe renders API version {API_VERSION} only, not {version!r}.")
                if route is None:
                    raise StripeError(
                        404,
                        f"Unrecognized request URL ({request.method}: {request.path}). Please see "
                        "https://docs.stripe.com or we can help at https://support.stripe.com/.",
                    )
                if idempotency_key in self._idempotent:
                    saved_fingerprint, status, body = self._idempotent[idempotency_key]
                    if saved_fingerprint != fingerprint:
                        raise StripeError(
                            400,
                            "Keys for idempotent requests can only be used with the same parameters they were "
                            f"first used with. Try using a key other than '{idempotency_key}' if you meant to "
                            "execute a different request.",
                            type="idempotency_error",
                        )
                    return _json_response(body, status, {**headers, "Idempotent-Replayed": "true"})
                if decode_error is not None:
                    raise decode_error
                self._request_context = {"id": request_id, "idempotency_key": idempotency_key}
                try:
                    body = _dumps(route.handler(object_id, params))
                finally:
                    self._request_context = None
            except StripeError as error:
                return _json_response(_dumps(error.body(request_id)), error.status, headers)
            if idempotency_key:
                self._idempotent[idempotency_key] = (fingerprint, 200, body)
            return _json_response(body, 200, headers)

    def _authenticate(self, authorization: str) -> None:
        scheme, _, key = authorization.partition(" ")
        if scheme != "Bearer" or not key:
            raise StripeError(
                401,
                "You did not provide an API key. You need to provide your API key in the Authorization header, "
                "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
                "https://docs.stripe.com/api#authentication for details, or we can help at "
                "https://support.stripe.com/.",
            )
        if not hmac.compare_digest(key.encode(), self.api_key.encode()):
            raise StripeError(401, f"Invalid API Key provided: {self._masked(key)}")

    @staticmethod
    def _masked(key: str) -> str:
        prefix = key[: key.find("_", key.find("_") + 1) + 1] if key.count("_") >= 2 else ""
        return prefix + "*" * max(0, len(key) - len(prefix) - 4) + key[-4:]

    # ----------------------------------------------------------------- hosted pages

    def _checkout_page(self, session_id: str, _params: dict) -> web.Response:
        session = self._objects.get(session_id)
        if session is None or session["object"] != "checkout.session":
            return _page("Not found", "<p>No such Checkout Session.</p>", status=404)
        if session["status"] != "open":
            return _page("Checkout", "<p>This Checkout Session is no longer active.</p>")
        rows = "".join(
            f"<li>{item['quantity']} × {html.escape(item['description'])}: "
            f"{_money(item['amount_total'], item['currency'])}</li>"
            for item in self._checkout[session_id]["lines"]
        )
        cancel = session["cancel_url"]
        return _page(
            "Checkout",
            f"<h1>Subscribe</h1><ul>{rows}</ul><p>Total {_money(session['amount_total'], session['currency'])}</p>"
            f'<form method="post"><button type="submit">Pay</button></form>'
            + (f'<a href="{html.escape(cancel)}">Cancel</a>' if cancel else ""),
        )

    def _checkout_pay(self, session_id: str, _params: dict) -> web.Response:
        session = self._objects.get(session_id)
        if session is None or session["object"] != "checkout.session" or session["status"] != "open":
            return _page("Checkout", "<p>This Checkout Session is no longer active.</p>", status=400)
        self.complete_checkout(session_id)
        if session["success_url"]:
            location = session["success_url"].replace("{CHECKOUT_SESSION_ID}", session_id)
            return web.Response(status=303, headers={"Location": location})
        return _page("Checkout", "<p>Thanks for your order.</p>")

    def _portal_page(self, session_id: str, _params: dict) -> web.Response:
        session = self._objects.get(session_id)
        if session is None or session["object"] != "billing_portal.session":
            return _page("Not found", "<p>No such portal session.</p>", status=404)
        back = session["return_url"]
        return _page(
            "Billing portal",
            f"<h1>Billing portal</h1><p>Customer {html.escape(session['customer'])}</p>"
            + (f'<a href="{html.escape(back)}">Return</a>' if back else ""),
        )

    # ----------------------------------------------------------------- storage, rendering, events

    def _new_id(self, prefix: str, length: int = 24) -> str:
        return prefix + "".join(self._rng.choice(ID_CHARS) for _ in range(length))

    def _get(self, kind: str, object_id: str | None, param: str = "id") -> dict:
        """An object named by a request, or Stripe's resource_missing error."""
        found = self._objects.get(object_id) if object_id else None
        if found is None or found["object"] != kind:
            raise _no_such(kind, object_id, param)
        return found

    def _stored(self, kind: str, object_id: str) -> dict:
        """An object named by a test helper's caller."""
        found = self._objects.get(object_id)
        if found is None or found["object"] != kind:
            raise KeyError(f"no {kind} {object_id!r}")
        return found

    def _render(self, obj: dict) -> dict:
        """The API's view of a stored object: a copy, with subscription items' prices filled in."""
        view = copy.deepcopy(obj)
        if view["object"] == "subscription":
            for item in view["items"]["data"]:
                price = self._render(self._objects[item["price"]])
                item["price"] = price
                item["plan"] = self._plan(price)
        return view

    @staticmethod
    def _plan(price: dict) -> dict:
        # The legacy Plan every subscription item still carries, mirroring its price.
        return {
            "id": price["id"], "object": "plan", "active": price["active"], "amount": price["unit_amount"],
            "amount_decimal": price["unit_amount_decimal"], "billing_scheme": "per_unit", "created": price["created"],
            "currency": price["currency"], "interval": price["recurring"]["interval"],
            "interval_count": price["recurring"]["interval_count"], "livemode": False, "metadata": price["metadata"],
            "meter": None, "nickname": price["nickname"], "product": price["product"], "tiers_mode": None,
            "transform_usage": None, "trial_period_days": None, "usage_type": "licensed",
        }

    def _emit(self, type: str, obj: dict, previous_attributes: dict | None = None) -> dict:
        data = {"object": self._render(obj)}
        if previous_attributes is not None:
            data["previous_attributes"] = previous_attributes
        event = {
            "id": self._new_id("evt_"),
            "object": "event",
            "api_version": API_VERSION,
            "created": self.now(),
            "data": data,
            "livemode": False,
            "pending_webhooks": 1,
            "request": dict(self._request_context or {"id": None, "idempotency_key": None}),
            "type": type,
        }
        self._objects[event["id"]] = event
        self._events.append(event)
        return event

    def _emit_update(self, obj: dict, before: dict) -> None:
        after = self._render(obj)
        previous = {key: value for key, value in before.items() if after.get(key) != value}
        if previous:
            self._emit(f"{'customer.' if obj['object'] == 'subscription' else ''}{obj['object']}.updated", obj, previous)

    def _expand(self, view: dict, paths: list[str] | None) -> dict:
        for path in paths or []:
            self._expand_path(view, path.split("."), path)
        return view

    def _expand_path(self, node, parts: list[str], path: str) -> None:
        if isinstance(node, list):
            for element in node:
                self._expand_path(element, parts, path)
            return
        key, rest = parts[0], parts[1:]
        if key == "line_items" and node.get("object") == "checkout.session":
            # Not an id but an includable list: only there when asked for.
            node[key] = self._session_line_list(node["id"])
        elif isinstance(node.get(key), str) and node[key] in self._objects:
            node[key] = self._render(self._objects[node[key]])
        elif not isinstance(node.get(key), (dict, list)) and not (node.get(key) is None and key in node):
            raise StripeError(400, f"This property cannot be expanded ({path}).", param="expand")
        if rest and node.get(key) is not None:
            self._expand_path(node[key], rest, path)

    def _page_of(self, objects: list[dict], params: dict, url: str) -> dict:
        """A list object of `objects` (newest first), paginated like Stripe's lists."""
        limit = params.get("limit", 10)
        if not 1 <= limit <= 100:
            raise StripeError(400, "Invalid limit: must be between 1 and 100", param="limit")
        ids = [o["id"] for o in objects]
        if params.get("starting_after"):
            if params["starting_after"] not in ids:
                raise _no_such(objects[0]["object"] if objects else "object", params["starting_after"], "starting_after")
            selected = objects[ids.index(params["starting_after"]) + 1:]
            data, has_more = selected[:limit], len(selected) > limit
        elif params.get("ending_before"):
            if params["ending_before"] not in ids:
                raise _no_such(objects[0]["object"] if objects else "object", params["ending_before"], "ending_before")
            selected = objects[: ids.index(params["ending_before"])]
            data, has_more = selected[-limit:], len(selected) > limit
        else:
            data, has_more = objects[:limit], len(objects) > limit
        view = {"object": "list", "data": [self._render(o) for o in data], "has_more": has_more, "url": url}
        return self._expand(view, params.get("expand"))

    def _newest_first(self, kind: str) -> list[dict]:
        return [o for o in reversed(self._objects.values()) if o["object"] == kind]

    # ----------------------------------------------------------------- customers

    def _new_customer(self, params: dict) -> dict:
        customer = {
            "id": self._new_id("cus_", 14),
            "object": "customer",
            "address": None,
            "balance": 0,
            "created": self.now(),
            "default_source": None,
            "description": params.get("description"),
            "discount": None,
            "email": params.get("email"),
            "invoice_prefix": "".join(self._rng.choice("0123456789ABCDEF") for _ in range(8)),
            "invoice_settings": {"custom_fields": None, "default_payment_method": None, "footer": None,
                                 "rendering_options": None},
            "livemode": False,
            "metadata": _merge_metadata({}, params.get("metadata") or {}),
            "name": params.get("name"),
            "next_invoice_sequence": 1,
            "phone": None,
            "preferred_locales": [],
            "shipping": None,
            "tax_exempt": "none",
            "test_clock": None,
        }
        self._objects[customer["id"]] = customer
        self._emit("customer.created", customer)
        return customer

    def _create_customer(self, _id, params: dict) -> dict:
        params = _conform(params, CUSTOMER_WRITE)
        return self._expand(self._render(self._new_customer(params)), params.get("expand"))

    def _retrieve_customer(self, customer_id, params: dict) -> dict:
        params = _conform(params, EXPAND)
        return self._expand(self._render(self._get("customer", customer_id)), params.get("expand"))

    def _update_customer(self, customer_id, params: dict) -> dict:
        params = _conform(params, CUSTOMER_WRITE)
        customer = self._get("customer", customer_id)
        before = self._render(customer)
        for field in ("email", "name", "description"):
            if field in params:
                customer[field] = params[field]
        if "metadata" in params:
            customer["metadata"] = _merge_metadata(customer["metadata"], params["metadata"])
        self._emit_update(customer, before)
        return self._expand(self._render(customer), params.get("expand"))

    # ----------------------------------------------------------------- products and prices

    def _new_product(self, params: dict) -> dict:
        if not params.get("name"):
            raise _missing("name")
        product_id = params.get("id") or self._new_id("prod_", 14)
        if product_id in self._objects:
            raise StripeError(400, "Product already exists.", code="resource_already_exists", param="id")
        now = self.now()
        product = {
            "id": product_id, "object": "product", "active": params.get("active", True), "created": now,
            "default_price": None, "description": params.get("description"), "images": [], "livemode": False,
            "marketing_features": [], "metadata": _merge_metadata({}, params.get("metadata") or {}),
            "name": params["name"], "package_dimensions": None, "shippable": None, "statement_descriptor": None,
            "tax_code": None, "type": "service", "unit_label": None, "updated": now, "url": None,
        }
        self._objects[product_id] = product
        self._emit("product.created", product)
        return product

    def _create_product(self, _id, params: dict) -> dict:
        params = _conform(params, PRODUCT_CREATE)
        return self._expand(self._render(self._new_product(params)), params.get("expand"))

    def _list_products(self, _id, params: dict) -> dict:
        params = _conform(params, PRODUCT_LIST)
        products = [
            p for p in self._newest_first("product")
            if ("active" not in params or p["active"] == params["active"])
            and ("ids" not in params or p["id"] in params["ids"])
        ]
        return self._page_of(products, params, "/v1/products")

    def _retrieve_product(self, product_id, params: dict) -> dict:
        params = _conform(params, EXPAND)
        return self._expand(self._render(self._get("product", product_id)), params.get("expand"))

    def _new_price(self, params: dict) -> dict:
        currency = params.get("currency")
        if not currency:
            raise _missing("currency")
        if not re.fullmatch(r"[A-Za-z]{3}", currency):
            raise StripeError(400, f"Invalid currency: {currency}", param="currency")
        if params.get("product"):
            product = self._get("product", params["product"], "product")
        elif params.get("product_data"):
            product = self._new_product(params["product_data"])
        else:
            raise StripeError(400, "You must specify either `product` or `product_data` when creating a price.",
                              param="product")
        unit_amount = params.get("unit_amount")
        if unit_amount is None:
            raise _missing("unit_amount")
        if unit_amount < 0:
            raise StripeError(400, "This value must be greater than or equal to 0.", param="unit_amount")
        recurring = None
        if params.get("recurring"):
            interval = params["recurring"].get("interval")
            if not interval:
                raise _missing("recurring[interval]")
            if interval not in INTERVALS:
                raise StripeError(400, f"Invalid recurring[interval]: must be one of {', '.join(INTERVALS)}",
                                  param="recurring[interval]")
            count = params["recurring"].get("interval_count", 1)
            if count < 1:
                raise StripeError(400, "This value must be greater than or equal to 1.",
                                  param="recurring[interval_count]")
            recurring = {"interval": interval, "interval_count": count, "meter": None, "trial_period_days": None,
                         "usage_type": "licensed"}
        lookup_key = params.get("lookup_key")
        holder = next((p for p in self._newest_first("price") if lookup_key and p["lookup_key"] == lookup_key), None)
        if holder is not None:
            if not params.get("transfer_lookup_key"):
                raise StripeError(400, f"A price (`{holder['id']}`) already uses that lookup key.", param="lookup_key")
            before = self._render(holder)
            holder["lookup_key"] = None
            self._emit_update(holder, before)
        price = {
            "id": self._new_id("price_"), "object": "price", "active": params.get("active", True),
            "billing_scheme": "per_unit", "created": self.now(), "currency": currency.lower(),
            "custom_unit_amount": None, "livemode": False, "lookup_key": lookup_key,
            "metadata": _merge_metadata({}, params.get("metadata") or {}), "nickname": params.get("nickname"),
            "product": product["id"], "recurring": recurring, "tax_behavior": "unspecified", "tiers_mode": None,
            "transform_quantity": None, "type": "recurring" if recurring else "one_time",
            "unit_amount": unit_amount, "unit_amount_decimal": str(unit_amount),
        }
        self._objects[price["id"]] = price
        self._emit("price.created", price)
        return price

    def _create_price(self, _id, params: dict) -> dict:
        params = _conform(params, PRICE_CREATE)
        return self._expand(self._render(self._new_price(params)), params.get("expand"))

    def _list_prices(self, _id, params: dict) -> dict:
        params = _conform(params, PRICE_LIST)
        lookup_keys = params.get("lookup_keys")
        if lookup_keys is not None and len(lookup_keys) > 10:
            raise StripeError(400, "You may pass at most 10 lookup keys.", param="lookup_keys")
        prices = [
            p for p in self._newest_first("price")
            if ("active" not in params or p["active"] == params["active"])
            and (not params.get("currency") or p["currency"] == params["currency"].lower())
            and (not params.get("product") or p["product"] == params["product"])
            and (not params.get("type") or p["type"] == params["type"])
            and (lookup_keys is None or p["lookup_key"] in lookup_keys)
        ]
        return self._page_of(prices, params, "/v1/prices")

    def _retrieve_price(self, price_id, params: dict) -> dict:
        params = _conform(params, EXPAND)
        return self._expand(self._render(self._get("price", price_id)), params.get("expand"))

    def _subscribable_price(self, price_id: str | None, param: str) -> dict:
        if not price_id:
            raise _missing(param)
        price = self._get("price", price_id, param)
        if not price["active"]:
            raise StripeError(400, "The price specified is inactive. This field only accepts active prices.",
                              param=param)
        if price["type"] != "recurring":
            raise StripeError(400, "The price specified is set to `type=one_time` but this field only accepts "
                                   "prices with `type=recurring`.", param=param)
        return price

    @staticmethod
    def _check_item_prices(prices: list[dict], param: str) -> None:
        if not prices:
            raise StripeError(400, "A subscription needs at least one item.", param=param)
        if len({p["id"] for p in prices}) < len(prices):
            duplicate = next(p["id"] for p in prices if [q["id"] for q in prices].count(p["id"]) > 1)
            raise StripeError(400, f"Cannot add multiple subscription items with the same price: {duplicate}.",
                              param=param)
        for field in ("currency", "interval", "interval_count"):
            values = {p["currency"] if field == "currency" else p["recurring"][field] for p in prices}
            if len(values) > 1:
                raise StripeError(400, "Currency and interval fields must match across all plans on this "
                                       f"subscription. Found mismatch in {field} field.", param=param)

    # ----------------------------------------------------------------- checkout and portal

    def _session_line_list(self, session_id: str) -> dict:
        lines = copy.deepcopy(self._checkout[session_id]["lines"])
        for line in lines:
            line["price"] = self._render(self._objects[line["price"]["id"]])
        return {"object": "list", "data": lines, "has_more": False, "url": f"/v1/checkout/sessions/{session_id}/line_items"}

    def _create_checkout_session(self, _id, params: dict) -> dict:
        params = _conform(params, CHECKOUT_CREATE)
        mode = params.get("mode")
        if not mode:
            raise _missing("mode")
        if mode != "subscription":
            raise StripeError(400, f"FakeStripe models mode=subscription only, not {mode!r}.", param="mode")
        if params.get("customer") and params.get("customer_email"):
            raise StripeError(400, "You may only specify one of these parameters: customer, customer_email.",
                              param="customer_email")
        customer = self._get("customer", params["customer"], "customer") if params.get("customer") else None
        items = params.get("line_items") or []
        if not items:
            raise StripeError(400, "You must provide at least one recurring price in `subscription` mode when "
                                   "using prices.", param="line_items")
        lines, prices = [], []
        for n, item in enumerate(items):
            price = self._subscribable_price(item.get("price"), f"line_items[{n}][price]")
            quantity = item.get("quantity")
            if quantity is None:
                raise _missing(f"line_items[{n}][quantity]")
            if quantity < 1:
                raise StripeError(400, "This value must be greater than or equal to 1.",
                                  param=f"line_items[{n}][quantity]")
            prices.append(price)
            amount = price["unit_amount"] * quantity
            lines.append({
                "id": self._new_id("li_"), "object": "item", "amount_discount": 0, "amount_subtotal": amount,
                "amount_tax": 0, "amount_total": amount, "currency": price["currency"],
                "description": self._objects[price["product"]]["name"], "price": {"id": price["id"]},
                "quantity": quantity,
            })
        self._check_item_prices(prices, "line_items")
        total = sum(line["amount_total"] for line in lines)
        now = self.now()
        session_id = self._new_id("cs_test_", 58)
        session = {
            "id": session_id, "object": "checkout.session", "after_expiration": None,
            "allow_promotion_codes": None, "amount_subtotal": total, "amount_total": total,
            "automatic_tax": {"enabled": False, "liability": None, "provider": None, "status": None},
            "billing_address_collection": None, "cancel_url": params.get("cancel_url"),
            "client_reference_id": params.get("client_reference_id"), "client_secret": None, "created": now,
            "currency": prices[0]["currency"], "customer": customer["id"] if customer else None,
            "customer_details": None, "customer_email": params.get("customer_email"), "expires_at": now + 86_400,
            "invoice": None, "livemode": False, "locale": None,
            "metadata": _merge_metadata({}, params.get("metadata") or {}), "mode": mode, "payment_intent": None,
            "payment_method_types": ["card"], "payment_status": "unpaid", "status": "open",
            "subscription": None, "success_url": params.get("success_url"),
            "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
            "ui_mode": "hosted", "url": f"{self.base_url}/checkout/{session_id}",
        }
        self._objects[session_id] = session
        subscription_metadata = (params.get("subscription_data") or {}).get("metadata") or {}
        self._checkout[session_id] = {"lines": lines, "subscription_metadata": _merge_metadata({}, subscription_metadata)}
        return self._expand(self._render(session), params.get("expand"))

    def _retrieve_checkout_session(self, session_id, params: dict) -> dict:
        params = _conform(params, EXPAND)
        return self._expand(self._render(self._get("checkout.session", session_id)), params.get("expand"))

    def _create_portal_session(self, _id, params: dict) -> dict:
        params = _conform(params, PORTAL_CREATE)
        if not params.get("customer"):
            raise _missing("customer")
        customer = self._get("customer", params["customer"], "customer")
        session_id = self._new_id("bps_")
        session = {
            "id": session_id, "object": "billing_portal.session", "configuration": self._portal_configuration,
            "created": self.now(), "customer": customer["id"], "flow": None, "livemode": False, "locale": None,
            "on_behalf_of": None, "return_url": params.get("return_url"),
            "url": f"{self.base_url}/p/session/{session_id}",
        }
        self._objects[session_id] = session
        self._emit("billing_portal.session.created", session)
        return self._expand(self._render(session), params.get("expand"))

    # ----------------------------------------------------------------- subscriptions

    def _new_subscription(self, customer: dict, lines: list[tuple[str, int]], metadata: dict) -> dict:
        now = self.now()
        subscription_id = self._new_id("sub_")
        first_price = self._objects[lines[0][0]]
        period_end = _add_interval(now, first_price["recurring"]["interval"], first_price["recurring"]["interval_count"])
        subscription = {
            "id": subscription_id, "object": "subscription", "application": None,
            "application_fee_percent": None,
            "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
            "billing_cycle_anchor": now, "billing_cycle_anchor_config": None,
            "billing_mode": {"flexible": {"proration_discounts": "included"}, "type": "flexible", "updated_at": now},
            "billing_thresholds": None, "cancel_at": None, "cancel_at_period_end": False, "canceled_at": None,
            "cancellation_details": {"comment": None, "feedback": None, "reason": None},
            "collection_method": "charge_automatically", "created": now, "currency": first_price["currency"],
            "customer": customer["id"], "days_until_due": None, "default_payment_method": None,
            "default_source": None, "default_tax_rates": [], "description": None, "discounts": [],
            "ended_at": None, "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
            "items": {
                "object": "list",
                "data": [self._new_item(subscription_id, price_id, quantity, now, period_end)
                         for price_id, quantity in lines],
                "has_more": False,
                "total_count": len(lines),
                "url": f"/v1/subscription_items?subscription={subscription_id}",
            },
            "latest_invoice": None, "livemode": False, "metadata": metadata,
            "next_pending_invoice_item_invoice": None, "on_behalf_of": None, "pause_collection": None,
            "payment_settings": {"payment_method_options": None, "payment_method_types": None,
                                 "save_default_payment_method": "off"},
            "pending_invoice_item_interval": None, "pending_setup_intent": None, "pending_update": None,
            "schedule": None, "start_date": now, "status": "active", "test_clock": None, "transfer_data": None,
            "trial_end": None, "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
            "trial_start": None,
        }
        self._objects[subscription_id] = subscription
        self._cycles[subscription_id] = 0
        return subscription

    def _new_item(self, subscription_id: str, price_id: str, quantity: int, start: int, end: int) -> dict:
        return {
            "id": self._new_id("si_", 14), "object": "subscription_item", "billing_thresholds": None,
            "created": self.now(), "current_period_end": end, "current_period_start": start, "discounts": [],
            "metadata": {}, "price": price_id, "quantity": quantity, "subscription": subscription_id,
            "tax_rates": [],
        }

    def _live_subscription(self, subscription_id: str) -> dict:
        subscription = self._stored("subscription", subscription_id)
        if subscription["status"] == "canceled":
            raise ValueError(f"{subscription_id} is canceled")
        return subscription

    def _list_subscriptions(self, _id, params: dict) -> dict:
        params = _conform(params, SUBSCRIPTION_LIST)
        status = params.get("status")
        if status is not None and status not in (*SUBSCRIPTION_STATUSES, "all", "ended"):
            raise StripeError(400, f"Invalid status: {status}", param="status")

        def wanted(sub: dict) -> bool:
            if status == "all":
                return True
            if status == "ended":
                return sub["status"] in ("canceled", "incomplete_expired")
            return sub["status"] == status if status else sub["status"] != "canceled"

        subscriptions = [
            s for s in self._newest_first("subscription")
            if wanted(s)
            and (not params.get("customer") or s["customer"] == params["customer"])
            and (not params.get("price") or any(i["price"] == params["price"] for i in s["items"]["data"]))
        ]
        return self._page_of(subscriptions, params, "/v1/subscriptions")

    def _retrieve_subscription(self, subscription_id, params: dict) -> dict:
        params = _conform(params, EXPAND)
        return self._expand(self._render(self._get("subscription", subscription_id)), params.get("expand"))

    def _update_subscription(self, subscription_id, params: dict) -> dict:
        params = _conform(params, SUBSCRIPTION_UPDATE)
        subscription = self._get("subscription", subscription_id)
        if subscription["status"] == "canceled" and set(params) - {"metadata", "expand"}:
            raise StripeError(400, "A canceled subscription can only update its cancellation_details and metadata.")
        proration = params.get("proration_behavior")
        if proration is not None and proration not in ("create_prorations", "none"):
            raise StripeError(400, f"FakeStripe models proration_behavior create_prorations and none only "
                                   f"(and invoices no prorations), not {proration!r}.", param="proration_behavior")
        before = self._render(subscription)
        if "items" in params:
            subscription["items"]["data"] = self._updated_items(subscription, params["items"])
            subscription["items"]["total_count"] = len(subscription["items"]["data"])
        if "cancel_at_period_end" in params:
            cancel = params["cancel_at_period_end"]
            subscription.update(
                cancel_at_period_end=cancel,
                cancel_at=subscription["items"]["data"][0]["current_period_end"] if cancel else None,
                canceled_at=self.now() if cancel else None,
                cancellation_details={"comment": None, "feedback": None,
                                      "reason": "cancellation_requested" if cancel else None},
            )
        if "metadata" in params:
            subscription["metadata"] = _merge_metadata(subscription["metadata"], params["metadata"])
        self._emit_update(subscription, before)
        return self._expand(self._render(subscription), params.get("expand"))

    def _updated_items(self, subscription: dict, changes: list[dict]) -> list[dict]:
        items = {item["id"]: dict(item) for item in subscription["items"]["data"]}
        first = subscription["items"]["data"][0]
        for n, change in enumerate(changes):
            param = f"items[{n}]"
            if change.get("id"):
                if change["id"] not in items:
                    raise _no_such("subscription_item", change["id"], f"{param}[id]")
                if change.get("deleted"):
                    del items[change["id"]]
                    continue
                item = items[change["id"]]
            else:
                if not change.get("price"):
                    raise _missing(f"{param}[price]")
                # Flexible billing: a new item starts now and ends with the others' period.
                item = self._new_item(subscription["id"], None, 1, self.now(), first["current_period_end"])
                items[item["id"]] = item
            if change.get("price"):
                item["price"] = self._subscribable_price(change["price"], f"{param}[price]")["id"]
            if change.get("quantity") is not None:
                if change["quantity"] < 0:
                    raise StripeError(400, "This value must be greater than or equal to 0.",
                                      param=f"{param}[quantity]")
                item["quantity"] = change["quantity"]
        self._check_item_prices([self._objects[item["price"]] for item in items.values()], "items")
        return list(items.values())

    def _cancel_subscription(self, subscription_id, params: dict) -> dict:
        params = _conform(params, SUBSCRIPTION_CANCEL)
        subscription = self._get("subscription", subscription_id)
        if subscription["status"] == "canceled":
            raise StripeError(400, f"This subscription has already been canceled: {subscription_id}.")
        # prorate only shapes a final invoice's credit; with invoice_now refused there is none.
        if params.get("invoice_now"):
            raise StripeError(400, "FakeStripe does not model final invoices (invoice_now).", param="invoice_now")
        details = params.get("cancellation_details") or {}
        subscription["cancellation_details"].update(comment=details.get("comment"), feedback=details.get("feedback"))
        subscription["canceled_at"] = self.now()
        self._end(subscription, "cancellation_requested", ended_at=self.now())
        return self._expand(self._render(subscription), params.get("expand"))

    def _end(self, subscription: dict, reason: str, *, ended_at: int) -> None:
        subscription["status"] = "canceled"
        subscription["ended_at"] = ended_at
        subscription["canceled_at"] = subscription["canceled_at"] or ended_at
        subscription["cancellation_details"]["reason"] = reason
        self._emit("customer.subscription.deleted", subscription)

    # ----------------------------------------------------------------- invoices

    def _new_invoice(self, subscription: dict, billing_reason: str, period_start: int, period_end: int) -> dict:
        customer = self._objects[subscription["customer"]]
        invoice_id = self._new_id("in_")
        lines = []
        for item in subscription["items"]["data"]:
            price = self._objects[item["price"]]
            amount = price["unit_amount"] * item["quantity"]
            product = self._objects[price["product"]]
            recurring = price["recurring"]
            per = recurring["interval"] if recurring["interval_count"] == 1 else \
                f"every {recurring['interval_count']} {recurring['interval']}s"
            lines.append({
                "id": self._new_id("il_"), "object": "line_item", "amount": amount, "currency": price["currency"],
                "description": f"{item['quantity']} × {product['name']} "
                               f"(at {_money(price['unit_amount'], price['currency'])} / {per})",
                "discount_amounts": [], "discountable": True, "discounts": [], "invoice": invoice_id,
                "livemode": False, "metadata": {},
                "parent": {
                    "invoice_item_details": None,
                    "subscription_item_details": {
                        "invoice_item": None, "proration": False, "proration_details": {"credited_items": None},
                        "subscription": subscription["id"], "subscription_item": item["id"],
                    },
                    "type": "subscription_item_details",
                },
                "period": {"end": item["current_period_end"], "start": item["current_period_start"]},
                "pretax_credit_amounts": [],
                "pricing": {"price_details": {"price": price["id"], "product": product["id"]},
                            "type": "price_details", "unit_amount_decimal": price["unit_amount_decimal"]},
                "quantity": item["quantity"], "subscription": subscription["id"], "subtotal": amount, "taxes": [],
            })
        total = sum(line["amount"] for line in lines)
        now = self.now()
        number = f"{customer['invoice_prefix']}-{customer['next_invoice_sequence']:04d}"
        customer["next_invoice_sequence"] += 1
        invoice = {
            "id": invoice_id, "object": "invoice", "account_country": "US", "account_name": "FakeStripe",
            "amount_due": total, "amount_overpaid": 0, "amount_paid": 0, "amount_remaining": total,
            "amount_shipping": 0, "attempt_count": 0, "attempted": False, "auto_advance": True,
            "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None, "provider": None,
                              "status": None},
            "billing_reason": billing_reason, "collection_method": "charge_automatically", "created": now,
            "currency": subscription["currency"], "customer": customer["id"], "customer_email": customer["email"],
            "customer_name": customer["name"], "default_payment_method": None, "description": None,
            "discounts": [], "due_date": None, "effective_at": now, "ending_balance": 0,
            "hosted_invoice_url": f"{self.base_url}/invoice/{invoice_id}",  # not served
            "invoice_pdf": f"{self.base_url}/invoice/{invoice_id}/pdf",  # not served
            "issuer": {"type": "self"},
            "lines": {"object": "list", "data": lines, "has_more": False, "total_count": len(lines),
                      "url": f"/v1/invoices/{invoice_id}/lines"},
            "livemode": False, "metadata": {}, "next_payment_attempt": None, "number": number,
            "parent": {
                "quote_details": None,
                "subscription_details": {"metadata": dict(subscription["metadata"]),
                                         "subscription": subscription["id"]},
                "type": "subscription_details",
            },
            "period_end": period_end, "period_start": period_start, "post_payment_credit_notes_amount": 0,
            "pre_payment_credit_notes_amount": 0, "receipt_number": None, "starting_balance": 0, "status": "open",
            "status_transitions": {"finalized_at": now, "marked_uncollectible_at": None, "paid_at": None,
                                   "voided_at": None},
            "subtotal": total, "subtotal_excluding_tax": total, "test_clock": None, "total": total,
            "total_discount_amounts": [], "total_excluding_tax": total, "total_pretax_credit_amounts": [],
            "total_taxes": [], "webhooks_delivered_at": now,
        }
        self._objects[invoice_id] = invoice
        return invoice

    def _settle(self, invoice: dict) -> None:
        invoice.update(
            amount_paid=invoice["amount_due"], amount_remaining=0, attempt_count=invoice["attempt_count"] + 1,
            attempted=True, next_payment_attempt=None, status="paid",
        )
        invoice["status_transitions"]["paid_at"] = self.now()
        self._emit("invoice.paid", invoice)
        self._emit("invoice.payment_succeeded", invoice)
        subscription = self._objects[invoice["parent"]["subscription_details"]["subscription"]]
        if subscription["status"] in ("past_due", "unpaid"):
            before = self._render(subscription)
            subscription["status"] = "active"
            self._emit_update(subscription, before)

    def _fail(self, invoice: dict) -> None:
        invoice.update(attempt_count=invoice["attempt_count"] + 1, attempted=True,
                       next_payment_attempt=self.now() + RETRY_DELAY)
        self._emit("invoice.payment_failed", invoice)
        subscription = self._objects[invoice["parent"]["subscription_details"]["subscription"]]
        if subscription["status"] == "active":
            before = self._render(subscription)
            subscription["status"] = "past_due"
            self._emit_update(subscription, before)

    def _list_invoices(self, _id, params: dict) -> dict:
        params = _conform(params, INVOICE_LIST)
        invoices = [
            i for i in self._newest_first("invoice")
            if (not params.get("customer") or i["customer"] == params["customer"])
            and (not params.get("subscription")
                 or i["parent"]["subscription_details"]["subscription"] == params["subscription"])
            and (not params.get("status") or i["status"] == params["status"])
        ]
        return self._page_of(invoices, params, "/v1/invoices")

    def _retrieve_invoice(self, invoice_id, params: dict) -> dict:
        params = _conform(params, EXPAND)
        return self._expand(self._render(self._get("invoice", invoice_id)), params.get("expand"))

    # ----------------------------------------------------------------- events

    def _list_events(self, _id, params: dict) -> dict:
        params = _conform(params, EVENT_LIST)
        if params.get("type") and params.get("types"):
            raise StripeError(400, "You may only specify one of these parameters: type, types.", param="types")
        types = params.get("types") or ([params["type"]] if params.get("type") else None)

        def matches(event_type: str) -> bool:
            # Stripe's type filter takes a trailing * as a prefix wildcard ("invoice.*").
            return types is None or any(
                event_type.startswith(t[:-1]) if t.endswith("*") else event_type == t for t in types
            )

        return self._page_of([e for e in reversed(self._events) if matches(e["type"])], params, "/v1/events")

    def _retrieve_event(self, event_id, params: dict) -> dict:
        params = _conform(params, EXPAND)
        return self._expand(self._render(self._get("event", event_id)), params.get("expand"))
