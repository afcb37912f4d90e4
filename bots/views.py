import json

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.access import role_required
from accounts.models import Role
from billing.quotas import QuotaExceeded
from billing.ui import error_html
from bots import actions, charts, live, previews
from bots.forms import BotForm
from bots.models import Bot, Order
from bots.strategies import STRATEGIES, strategy_class
from exchanges.models import ExchangeConnection
from tenants.htmx import is_htmx, redirect_to
from tenants.hosts import workspace_reverse

PAGE_SIZE = 25
EVENTS_SHOWN = 50
CONTROLS = {
    "start": actions.do_start_bot,
    "pause": actions.do_pause_bot,
    "resume": actions.do_resume_bot,
}


def can_control(membership) -> bool:
    return membership is not None and membership.has_role(Role.TRADER)


def bot_list(request):
    bots = list(Bot.objects.order_by("name", "id"))
    context = {"rows": zip(bots, live.statuses_of(bots), strict=True), "has_bots": bool(bots),
               "can_control": can_control(request.membership), "strategies": STRATEGIES.values()}
    return render(request, "bots/bot_list.html", context)


def bot_detail(request, bot_id):
    bot = get_object_or_404(Bot.objects.select_related("connection"), pk=bot_id)
    context = {
        "bot": bot, "s": live.status_of(bot), "can_control": can_control(request.membership),
        "strategy": strategy_class(bot.strategy),
        **activity_context(bot, status_filter=request.GET.get("status", ""),
                           orders_page=request.GET.get("orders_page"), fills_page=request.GET.get("fills_page")),
    }
    if bot.strategy == "signal":
        context["webhook_url"] = workspace_reverse(request.tenant, "signal_webhook", request, token="…")
    if is_htmx(request) and request.GET.get("part") in ("orders", "fills", "activity"):
        return render(request, f"bots/bot_detail.html#{request.GET['part']}", context)
    # The tables are read as the template renders them, after this.
    context["shown"] = live.shown_marks(bot)
    return render(request, "bots/bot_detail.html", context)


def bot_chart(request, bot_id):
    """The detail page's chart data, fetched by static/js/bot_charts.js."""
    bot = get_object_or_404(Bot.objects.select_related("connection"), pk=bot_id)
    symbol = request.GET.get("symbol") or bot.symbols[0]
    if symbol not in bot.symbols:
        raise Http404
    response = JsonResponse(charts.chart_data(request.tenant, bot, symbol))
    response["Cache-Control"] = "no-store"
    return response


def bot_candles(request):
    """Candles for the create page's preview chart, of the chosen connection and symbol."""
    connection_id = request.GET.get("connection", "")
    if connection_id and not connection_id.isdigit():
        raise Http404
    connection = get_object_or_404(ExchangeConnection, pk=connection_id) if connection_id else None
    return JsonResponse(charts.candle_data(request.tenant, connection, request.GET.get("symbol", "")))


def activity_context(bot, *, status_filter="", orders_page=None, fills_page=None) -> dict:
    """The bot page's tables: its orders (of one status, if asked), fills and events."""
    orders = bot.orders.all()
    if status_filter in Order.Status.values:
        orders = orders.filter(status=status_filter)
    return {
        "orders": Paginator(orders, PAGE_SIZE).get_page(orders_page),
        "fills": Paginator(bot.fills.all(), PAGE_SIZE).get_page(fills_page),
        "events": bot.events.all()[:EVENTS_SHOWN], "events_shown": EVENTS_SHOWN, "status_filter": status_filter,
        "order_statuses": Order.Status.choices,
    }


@require_POST
@role_required(Role.TRADER)
def bot_control(request, bot_id, verb):
    if verb not in CONTROLS:
        raise Http404
    bot = get_object_or_404(Bot, pk=bot_id)
    try:
        CONTROLS[verb](request.tenant, bot, actor=request.user)
    except ValidationError as error:
        messages.error(request, error_html(error))
    return redirect("bot_detail", bot_id=bot.pk)


@role_required(Role.TRADER)
def bot_stop(request, bot_id):
    """Stopping cancels the bot's open orders: asked for on a page of its own, so it
    also works without JavaScript."""
    bot = get_object_or_404(Bot, pk=bot_id)
    if request.method == "POST":
        try:
            actions.do_stop_bot(request.tenant, bot, actor=request.user, reason=_("Stopped by %(user)s.")
                                % {"user": request.user.email})
        except ValidationError as error:
            messages.error(request, error_html(error))
        return redirect("bot_detail", bot_id=bot.pk)
    return render(request, "bots/bot_confirm.html", {"bot": bot, "verb": "stop"})


@role_required(Role.TRADER)
def bot_delete(request, bot_id):
    bot = get_object_or_404(Bot, pk=bot_id)
    if request.method == "POST":
        try:
            actions.do_delete_bot(request.tenant, bot, actor=request.user)
        except ValidationError as error:
            messages.error(request, error_html(error))
            return redirect("bot_detail", bot_id=bot.pk)
        messages.success(request, _("Deleted “%(name)s”.") % {"name": bot.name})
        return redirect("bots")
    return render(request, "bots/bot_confirm.html", {"bot": bot, "verb": "delete"})


@role_required(Role.TRADER)
def bot_create(request):
    strategy = request.POST.get("strategy") or request.GET.get("strategy") or "grid"
    if strategy not in STRATEGIES:
        return redirect("bots")
    form = BotForm(strategy, ExchangeConnection.objects.order_by("label"), request.POST or None)
    preview = previews.preview(request.tenant, strategy, form) if request.method == "POST" else None
    if request.method == "POST" and "save" in request.POST and form.is_valid():
        try:
            bot = actions.do_create_bot(request.tenant, actor=request.user, **form.bot_fields())
        except QuotaExceeded as error:
            form.add_error(None, error_html(error))
        except ValidationError as error:
            form.add_validation_error(error)
        else:
            messages.success(request, _("Created “%(name)s”. Start it when you are ready.") % {"name": bot.name})
            return redirect_to(request, "bot_detail", bot_id=bot.pk)
    return _render_form(request, {"form": form, "strategy": strategy_class(strategy),
                                   "strategies": STRATEGIES.values(), "preview": preview})


@role_required(Role.TRADER)
def bot_edit(request, bot_id):
    bot = get_object_or_404(Bot.objects.select_related("connection"), pk=bot_id)
    form = BotForm(bot.strategy, ExchangeConnection.objects.filter(pk=bot.connection_id), request.POST or None,
                   bot=bot)
    preview = previews.preview(request.tenant, bot.strategy, form) if request.method == "POST" else None
    if request.method == "POST" and "save" in request.POST and form.is_valid():
        fields = form.bot_fields()
        try:
            revision = actions.do_update_bot_config(request.tenant, bot, actor=request.user, name=fields["name"],
                                                    params=fields["params"])
        except ValidationError as error:
            form.add_validation_error(error)
        else:
            messages.success(request, _("Saved as revision %(n)d.") % {"n": revision.number})
            return redirect_to(request, "bot_detail", bot_id=bot.pk)
    return _render_form(request, {"form": form, "bot": bot, "strategy": strategy_class(bot.strategy),
                                   "preview": preview, "revisions": bot.revisions.all()[:20]})


def _render_form(request, context):
    """The create and edit page, or only its form for htmx; 400 when a save was refused
    (but not to htmx, which would not show a 400)."""
    status = 400 if request.method == "POST" and "save" in request.POST and not is_htmx(request) else 200
    template = "bots/bot_form.html#bot-form" if is_htmx(request) else "bots/bot_form.html"
    return render(request, template, context, status=status)


@require_POST
@role_required(Role.TRADER)
def bot_rollback(request, bot_id, number):
    bot = get_object_or_404(Bot, pk=bot_id)
    try:
        revision = actions.do_rollback_bot_config(request.tenant, bot, to_revision=number, actor=request.user)
    except ValidationError as error:
        messages.error(request, error_html(error))
    else:
        messages.success(request, _("Rolled back: revision %(n)d has the settings of revision %(old)d.")
                         % {"n": revision.number, "old": number})
    return redirect("bot_edit", bot_id=bot.pk)


@require_POST
@role_required(Role.TRADER)
def bot_webhook(request, bot_id):
    """The signal bot's URL and a TradingView alert message with its secret, on request
    only, never cached."""
    bot = get_object_or_404(Bot, pk=bot_id, strategy="signal")
    credentials = actions.do_reveal_webhook(request.tenant, bot, actor=request.user)
    context = {"bot": bot, "can_control": True, "credentials": {
        "url": workspace_reverse(request.tenant, "signal_webhook", request, token=credentials["token"]),
        "template": tradingview_template(credentials["secret"]),
    }}
    template = "bots/bot_detail.html#webhook" if is_htmx(request) else "bots/bot_webhook.html"
    response = render(request, template, context)
    response["Cache-Control"] = "no-store"
    return response


def tradingview_template(secret: str) -> str:
    """An alert message for a TradingView strategy; the {{...}} are TradingView's own
    placeholders, filled in when the alert fires."""
    return json.dumps({
        "secret": secret, "action": "{{strategy.order.action}}", "signal_id": "{{strategy.order.id}}-{{timenow}}",
        "timestamp": "{{timenow}}", "max_lag": 60, "trigger_price": "{{close}}",
        "order": {"amount": "{{strategy.order.contracts}}"}, "strength": "strong",
    }, indent=2)
