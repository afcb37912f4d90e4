from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.access import role_required
from accounts.models import Role
from billing import payments, quotas
from billing.actions import do_change_plan
from billing.forms import AddOnsForm
from billing.models import AddOn, Plan
from bots.strategies import strategy_class


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
    if needs_payment:
        return _pay(request, subscription, plan=plan, extra_bot_slots=subscription.extra_bot_slots,
                    extended_backup_retention=subscription.extended_backup_retention, back="change_plan")
    try:
        do_change_plan(subscription, plan=plan, actor=request.user, stop_bots=stopping)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
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
    return _pay(request, subscription, plan=subscription.plan, back="billing", **form.cleaned_data)


def _pay(request, subscription, *, back: str, **choice):
    try:
        return redirect(payments.checkout_url(request, subscription, **choice))
    except payments.NotConfigured as not_configured:
        messages.error(request, str(not_configured))
        return redirect(back)
