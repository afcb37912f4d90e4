"""Taking payment through Stripe: Checkout for a new subscription, subscription updates
for a running one, and the customer portal for cards and invoices. Everything here talks
to Stripe; what Stripe then reports comes back through billing.stripe_events."""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import stripe
from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _

from billing.models import AddOn, Plan, Subscription

log = logging.getLogger(__name__)

# Off on purpose: with telemetry on, the library reports request timings to Stripe in a
# header and keeps an id file under the home directory, which a server needs neither of.
stripe.enable_telemetry = False


class NotConfigured(Exception):
    """No payment provider is set up on this server."""


class PaymentError(Exception):
    """Stripe could not do it; the message is for the person, without Stripe's details."""


def configured() -> bool:
    return bool(settings.STRIPE_SECRET_KEY)


def client() -> stripe.StripeClient:
    if not configured():
        raise NotConfigured(_("Billing is not configured on this server, so plans and add-ons cannot be bought "
                              "here. The workspace keeps running on its current plan."))
    return stripe.StripeClient(settings.STRIPE_SECRET_KEY, base_addresses={"api": settings.STRIPE_API_BASE})


def failed(error: stripe.StripeError, doing: str) -> PaymentError:
    # Only the class and Stripe's request id are logged: messages can quote parameters.
    log.warning("Stripe refused or failed %s: %s (request %s)", doing, type(error).__name__,
                getattr(error, "request_id", None))
    return PaymentError(_("The payment provider could not be reached or refused the request. Nothing was "
                          "charged or changed; try again in a few minutes."))


# --- what a Stripe subscription holds -------------------------------------------------------


@dataclass
class Lines:
    """A Stripe subscription read as our plan, add-ons and period."""

    plan: Plan | None
    extra_bot_slots: int
    extended_backup_retention: bool
    period_start: datetime | None
    period_end: datetime | None


def _price_of(item) -> tuple[str, str | None]:
    price = item["price"]
    if isinstance(price, str):
        return price, None
    return price["id"], price.get("lookup_key")


def read_lines(stripe_subscription) -> Lines:
    """Plan from the item whose price is a plan's (by id, or lookup key = plan key), add-on
    quantities from the others; the period from the plan's item (API 2026-10-28: items
    carry the periods, the subscription does not)."""
    plans = {plan.stripe_price_id: plan for plan in Plan.objects.exclude(stripe_price_id="")}
    plans_by_key = {plan.key: plan for plan in Plan.objects.all()}
    addons = {addon.stripe_price_id: addon.key for addon in AddOn.objects.exclude(stripe_price_id="")}
    lines = Lines(None, 0, False, None, None)
    for item in stripe_subscription["items"]["data"]:
        price_id, lookup_key = _price_of(item)
        plan = plans.get(price_id) or plans_by_key.get(lookup_key or "")
        addon = addons.get(price_id) or (lookup_key if lookup_key in AddOn.Key.values else None)
        if plan is not None:
            lines.plan = plan
            lines.period_start = _time(item["current_period_start"])
            lines.period_end = _time(item["current_period_end"])
        elif addon == AddOn.Key.EXTRA_BOT_SLOT:
            lines.extra_bot_slots = item["quantity"]
        elif addon == AddOn.Key.EXTENDED_BACKUP_RETENTION:
            lines.extended_backup_retention = item["quantity"] > 0
    return lines


def _time(timestamp) -> datetime | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC)


def _wanted_lines(*, plan: Plan, extra_bot_slots: int, extended_backup_retention: bool) -> dict[str, int]:
    """Price id -> quantity for this choice."""
    if not plan.stripe_price_id:
        raise PaymentError(_("The %(plan)s plan cannot be bought yet: it has no Stripe price. Staff run "
                             "“manage.py stripe_sync_plans”.") % {"plan": plan.name})
    lines = {plan.stripe_price_id: 1}
    addons = {addon.key: addon for addon in AddOn.objects.all()}
    for key, quantity in ((AddOn.Key.EXTRA_BOT_SLOT, extra_bot_slots),
                          (AddOn.Key.EXTENDED_BACKUP_RETENTION, int(extended_backup_retention))):
        if quantity:
            if key not in addons or not addons[key].stripe_price_id:
                raise PaymentError(_("This add-on cannot be bought yet: it has no Stripe price."))
            lines[addons[key].stripe_price_id] = quantity
    return lines


# --- Checkout, updates, the portal ------------------------------------------------------------


def _customer(api: stripe.StripeClient, subscription: Subscription) -> str:
    """The workspace's Stripe customer, made on its first purchase."""
    if subscription.stripe_customer_id:
        return subscription.stripe_customer_id
    tenant = subscription.tenant
    customer = api.v1.customers.create({"name": tenant.name, "metadata": {"tenant_id": str(tenant.pk)}})
    # Two first purchases racing make two customers; the first stored wins and the
    # other stays unused at Stripe.
    Subscription.objects.filter(pk=subscription.pk, stripe_customer_id__isnull=True).update(
        stripe_customer_id=customer.id)
    return Subscription.objects.values_list("stripe_customer_id", flat=True).get(pk=subscription.pk)


def checkout_url(request, subscription, *, plan, extra_bot_slots: int, extended_backup_retention: bool,
                 stop_bots=()) -> str:
    """A Checkout session for `plan` with these add-ons; the webhook applies the payment
    and stops the bots the owner chose to stop for the plan (`stop_bots`, ids)."""
    api = client()
    lines = _wanted_lines(plan=plan, extra_bot_slots=extra_bot_slots,
                          extended_backup_retention=extended_backup_retention)
    tenant_id = str(subscription.tenant_id)
    try:
        customer = _customer(api, subscription)
        session = api.v1.checkout.sessions.create({
            "mode": "subscription",
            "customer": customer,
            "line_items": [{"price": price, "quantity": quantity} for price, quantity in lines.items()],
            "client_reference_id": tenant_id,
            "metadata": {"tenant_id": tenant_id, "stop_bots": ",".join(map(str, sorted(stop_bots)))},
            "subscription_data": {"metadata": {"tenant_id": tenant_id}},
            "success_url": request.build_absolute_uri(reverse("billing")) + "?checkout=done",
            "cancel_url": request.build_absolute_uri(reverse("change_plan")),
        })
    except stripe.StripeError as error:
        raise failed(error, "creating a Checkout session") from error
    return session.url


def update_subscription(subscription, *, plan, extra_bot_slots: int, extended_backup_retention: bool):
    """Change a running Stripe subscription's plan and add-ons at once, prorated; the
    caller applies the same change here (the webhook that follows then finds nothing new)."""
    api = client()
    wanted = _wanted_lines(plan=plan, extra_bot_slots=extra_bot_slots,
                           extended_backup_retention=extended_backup_retention)
    try:
        current = api.v1.subscriptions.retrieve(subscription.stripe_subscription_id).to_dict()
        plan_prices = set(Plan.objects.exclude(stripe_price_id="").values_list("stripe_price_id", flat=True))
        items = []
        for item in current["items"]["data"]:
            price_id, _lookup = _price_of(item)
            if price_id in plan_prices and price_id != plan.stripe_price_id:
                # The plan's item keeps its id and takes the new price: one line, prorated.
                items.append({"id": item["id"], "price": plan.stripe_price_id, "quantity": 1})
                wanted.pop(plan.stripe_price_id)
            elif price_id in wanted:
                items.append({"id": item["id"], "quantity": wanted.pop(price_id)})
            else:
                items.append({"id": item["id"], "deleted": True})
        items += [{"price": price, "quantity": quantity} for price, quantity in wanted.items()]
        return api.v1.subscriptions.update(subscription.stripe_subscription_id,
                                           {"items": items, "proration_behavior": "create_prorations"})
    except stripe.StripeError as error:
        raise failed(error, "updating a subscription") from error


def cancel_at_period_end(subscription) -> None:
    try:
        client().v1.subscriptions.update(subscription.stripe_subscription_id, {"cancel_at_period_end": True})
    except stripe.StripeError as error:
        raise failed(error, "canceling a subscription") from error


def portal_url(request, subscription) -> str:
    """The customer portal, where the owner changes the card and reads invoices."""
    api = client()
    if not subscription.stripe_customer_id:
        raise PaymentError(_("This workspace has bought nothing yet, so there are no cards or invoices to manage."))
    try:
        session = api.v1.billing_portal.sessions.create({
            "customer": subscription.stripe_customer_id,
            "return_url": request.build_absolute_uri(reverse("billing")),
        })
    except stripe.StripeError as error:
        raise failed(error, "opening the customer portal") from error
    return session.url


def retrieve_subscription(subscription_id: str) -> dict:
    try:
        return client().v1.subscriptions.retrieve(subscription_id).to_dict()
    except stripe.StripeError as error:
        raise failed(error, "reading a subscription") from error


def ensure_price(api: stripe.StripeClient, *, lookup_key: str, name: str, price_per_month) -> str:
    """The monthly USD price with this lookup key, made (with its product) if missing."""
    found = api.v1.prices.list({"lookup_keys": [lookup_key], "active": True, "limit": 1})
    if found.data:
        return found.data[0].id
    price = api.v1.prices.create({
        "currency": "usd", "unit_amount": int(price_per_month * 100), "recurring": {"interval": "month"},
        "lookup_key": lookup_key, "product_data": {"name": f"Aviary {name}"},
    })
    return price.id
