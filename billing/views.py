import json
import logging

import stripe
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from accounts.access import role_required
from accounts.models import Role
from billing import payments, quotas
from billing.actions import do_cancel_at_period_end, do_change_plan, do_set_addons
from billing.forms import AddOnsForm
from billing.models import AddOn, Plan
from billing.stripe_events import do_process_stripe_event
from billing.ui import error_html
from bots.strategies import strategy_class
from tenants.htmx import redirect_to

log = logging.getLogger(__name__)


def plan_usage(request):
    subscription = quotas.subscription_of(request.tenant)
    usage = quotas.usage(subscription)
    addons = {addon.key: addon for addon in AddOn.objects.all()}
    context = {
        "subscription": subscription,
        "usage": usage,
        "near_limit": [row for row in usage if row.near_limit],
        "addons": addons,
        "monthly_price": _monthly_price(subscription, addons),
        "can_change": request.membership.has_role(Role.ADMIN),
        "billing_configured": payments.configured(),
        # Back from Checkout: the webhook, not this redirect, applies the payment.
        "checkout_done": request.GET.get("checkout") == "done",
        "addons_form": AddOnsForm(initial={"extra_bot_slots": subscription.extra_bot_slots,
                                           "extended_backup_retention": subscription.extended_backup_retention}),
    }
    return render(request, "billing/plan_usage.html", context)


def _monthly_price(subscription, addons):
    price = subscription.plan.price_per_month
    if AddOn.Key.EXTRA_BOT_SLOT in addons:
        price += subscription.extra_bot_slots * addons[AddOn.Key.EXTRA_BOT_SLOT].price_per_month
    if subscription.extended_backup_retention and AddOn.Key.EXTENDED_BACKUP_RETENTION in addons:
        price += addons[AddOn.Key.EXTENDED_BACKUP_RETENTION].price_per_month
    return price


@role_required(Role.ADMIN)
def change_plan(request):
    """Choose a plan. The Free plan applies at once; a paid plan goes to payment. When
    the workspace has more than the chosen plan allows, the owner first picks the bots
    to stop (and is told which connections or members must go)."""
    subscription = quotas.subscription_of(request.tenant)
    context = {"subscription": subscription, "plans": Plan.objects.filter(is_public=True),
               "billing_configured": payments.configured()}
    if request.method != "POST":
        return render(request, "billing/change_plan.html", context)
    plan = get_object_or_404(Plan, key=request.POST.get("plan", ""), is_public=True)
    if plan.is_free and subscription.is_paid and payments.configured():
        return _cancel_paid(request, subscription)
    needs_payment = not plan.is_free or subscription.is_paid
    if needs_payment and not payments.configured():
        # Said before asking which bots to stop, not after.
        return _pay(request, subscription, plan=plan, extra_bot_slots=subscription.extra_bot_slots,
                    extended_backup_retention=subscription.extended_backup_retention, back="change_plan")
    change = quotas.plan_change(subscription, plan)
    stopping = {int(pk) for pk in request.POST.getlist("stop") if pk.isdigit()}
    confirmed = "confirm" in request.POST
    problems = change.problems(stopping)
    if problems:
        for bot in change.bots:
            bot.strategy_name = strategy_class(bot.strategy).name
        # First the choice, pre-filled with the bots the plan cannot run; then its problems.
        context.update(plan=plan, change=change, stopping=stopping if confirmed else change.unsupported,
                       problems=problems if confirmed else [])
        return render(request, "billing/change_plan.html", context, status=400 if confirmed else 200)
    if needs_payment and not subscription.is_paid:
        return _pay(request, subscription, plan=plan, extra_bot_slots=subscription.extra_bot_slots,
                    extended_backup_retention=subscription.extended_backup_retention, back="change_plan",
                    stop_bots=stopping)
    try:
        if needs_payment:
            # A running Stripe subscription changes price at once (prorated); the chosen
            # bots stop with the local change right after.
            payments.update_subscription(subscription, plan=plan, extra_bot_slots=subscription.extra_bot_slots,
                                         extended_backup_retention=subscription.extended_backup_retention)
        do_change_plan(subscription, plan=plan, actor=request.user, stop_bots=stopping)
    except payments.PaymentError as error:
        messages.error(request, str(error))
        return redirect_to(request, "change_plan")
    except ValidationError as error:
        messages.error(request, error_html(error))
        return redirect("change_plan")
    messages.success(request, _("The workspace is on the %(plan)s plan now.") % {"plan": plan.name})
    return redirect("billing")


@require_POST
@role_required(Role.ADMIN)
def change_addons(request):
    subscription = quotas.subscription_of(request.tenant)
    form = AddOnsForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(message for errors in form.errors.values() for message in errors))
        return redirect("billing")
    if subscription.is_paid and payments.configured():
        try:
            payments.update_subscription(subscription, plan=subscription.plan, **form.cleaned_data)
            do_set_addons(subscription, actor=request.user, **form.cleaned_data)
        except payments.PaymentError as error:
            messages.error(request, str(error))
        except ValidationError as error:
            messages.error(request, error_html(error))
        else:
            messages.success(request, _("The add-ons are changed."))
        return redirect_to(request, "billing")
    return _pay(request, subscription, plan=subscription.plan, back="billing", **form.cleaned_data)


def _pay(request, subscription, *, back: str, **choice):
    try:
        return redirect_to(request, payments.checkout_url(request, subscription, **choice))
    except (payments.NotConfigured, payments.PaymentError) as error:
        messages.error(request, str(error))
        return redirect_to(request, back)


def _cancel_paid(request, subscription):
    """The Free plan for a paid subscription: it runs to the end of the paid period."""
    try:
        payments.cancel_at_period_end(subscription)
        subscription = do_cancel_at_period_end(subscription, actor=request.user)
    except payments.PaymentError as error:
        messages.error(request, str(error))
        return redirect_to(request, "change_plan")
    except ValidationError as error:
        messages.error(request, error_html(error))
        return redirect_to(request, "change_plan")
    messages.success(request, _("The %(plan)s plan runs until %(end)s, then the workspace moves to the Free plan.")
                     % {"plan": subscription.plan.name,
                        "end": date_format(subscription.current_period_end, "SHORT_DATE_FORMAT")})
    return redirect_to(request, "billing")


@require_POST
@role_required(Role.ADMIN)
def billing_portal(request):
    """Stripe's customer portal, for the card and the invoices."""
    subscription = quotas.subscription_of(request.tenant)
    try:
        return redirect_to(request, payments.portal_url(request, subscription))
    except (payments.NotConfigured, payments.PaymentError) as error:
        messages.error(request, str(error))
        return redirect_to(request, "billing")


@csrf_exempt
@require_POST
def stripe_webhook(request):
    """Stripe's events, on the public host. Verified by signature (refused with no
    detail), each applied once; an event type Aviary does not use is stored and ignored."""
    if not settings.STRIPE_WEBHOOK_SECRET:
        return HttpResponse(status=404)
    try:
        stripe.Webhook.construct_event(request.body, request.headers.get("Stripe-Signature", ""),
                                       settings.STRIPE_WEBHOOK_SECRET)
    except (stripe.SignatureVerificationError, ValueError):
        return HttpResponseBadRequest("Invalid signature.")
    # Read as plain JSON, once verified: the handlers take dicts, as in the API reference.
    event = json.loads(request.body)
    try:
        do_process_stripe_event(event)
    except payments.PaymentError:
        # Stripe could not be asked about it: rolled back whole, and Stripe delivers it again.
        return HttpResponse("Try again later.", status=503)
    return HttpResponse("OK")
