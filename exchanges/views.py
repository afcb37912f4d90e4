from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.access import role_required
from accounts.models import Role
from billing.quotas import QuotaExceeded
from billing.ui import error_html
from exchanges import actions, catalog, errors
from exchanges.adapters import adapter_for, read_now
from exchanges.forms import ConnectionForm
from exchanges.models import ExchangeConnection
from tenants.htmx import is_htmx


def connection_list(request):
    return render(request, "exchanges/connection_list.html", {"connections": ExchangeConnection.objects.all()})


@role_required(Role.ADMIN)
def connection_create(request):
    form = ConnectionForm(request.POST or None, initial={"exchange": request.GET.get("exchange", "paper")})
    context = {"form": form, "check": None}
    if request.method == "POST" and form.is_valid():
        if "test" in request.POST:
            # Try the credentials as typed; nothing is stored.
            context["check"] = _check_typed(form)
            template = "exchanges/connection_form.html#check-result" if is_htmx(request) else "exchanges/connection_form.html"
            return render(request, template, context)
        try:
            connection = actions.do_create_connection(
                request.tenant, label=form.cleaned_data["label"], exchange=form.cleaned_data["exchange"],
                credentials=form.credentials(), sandbox=form.cleaned_data["sandbox"], actor=request.user,
                **form.paper_settings(),
            )
        except QuotaExceeded as error:
            form.add_error(None, error_html(error))
        except ValidationError as error:
            form.add_error(None, error)
        else:
            result = actions.do_test_connection(request.tenant, connection, actor=request.user)
            (messages.success if result.ok else messages.warning)(
                request, _("Saved “%(label)s”. %(result)s") % {"label": connection.label, "result": result.message}
            )
            return redirect("connection_detail", connection_id=connection.pk)
    return render(request, "exchanges/connection_form.html", context, status=400 if form.errors else 200)


def _check_typed(form) -> actions.CheckResult:
    exchange = form.cleaned_data["exchange"]
    if exchange == "paper":
        return actions.CheckResult(True, _("The paper exchange needs no credentials."))
    return actions.check_credentials(exchange, form.credentials(), sandbox=form.cleaned_data["sandbox"])


@role_required(Role.ADMIN)
def connection_credential_fields(request):
    """The credential inputs of the exchange chosen in the form (htmx)."""
    form = ConnectionForm(initial={"exchange": request.GET.get("exchange", "paper")})
    return render(request, "exchanges/connection_form.html#credential-fields", {"form": form})


def connection_detail(request, connection_id):
    connection = get_object_or_404(ExchangeConnection, pk=connection_id)
    context = {"connection": connection, "info": catalog.exchange_info(connection.exchange)}
    if connection.is_paper:
        context.update(_paper_account(request, connection))
    template = "exchanges/connection_detail.html#paper-account" if is_htmx(request) else "exchanges/connection_detail.html"
    return render(request, template, context)


def _paper_account(request, connection) -> dict:
    async def read(adapter):
        return {
            "balances": await adapter.fetch_balance(),
            "positions": await adapter.fetch_positions(),
            "open_orders": await adapter.fetch_open_orders(),
            "trades": (await adapter.fetch_my_trades())[-20:][::-1],
        }

    try:
        return read_now(adapter_for(connection, request.tenant.schema_name), read)
    except errors.ExchangeError as problem:
        return {"account_problem": str(problem)}


@role_required(Role.ADMIN)
def connection_edit(request, connection_id):
    connection = get_object_or_404(ExchangeConnection, pk=connection_id)
    initial = {name: getattr(connection, name) for name in ("label", "sandbox", *actions.PAPER_SETTINGS)}
    form = ConnectionForm(request.POST or None, initial=initial, editing=connection)
    if request.method == "POST" and form.is_valid():
        try:
            actions.do_update_connection(
                request.tenant, connection, actor=request.user, label=form.cleaned_data["label"],
                credentials=form.credentials(), sandbox=form.cleaned_data["sandbox"], **form.paper_settings(),
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Saved “%(label)s”.") % {"label": form.cleaned_data["label"]})
            return redirect("connection_detail", connection_id=connection.pk)
    return render(request, "exchanges/connection_form.html", {"form": form, "connection": connection},
                  status=400 if form.errors else 200)


@require_POST
@role_required(Role.TRADER)
def connection_test(request, connection_id):
    connection = get_object_or_404(ExchangeConnection, pk=connection_id)
    actions.do_test_connection(request.tenant, connection, actor=request.user)
    if is_htmx(request):
        connection.refresh_from_db()
        return render(request, "exchanges/connection_detail.html#status", {"connection": connection})
    return redirect("connection_detail", connection_id=connection.pk)


@require_POST
@role_required(Role.ADMIN)
def connection_delete(request, connection_id):
    connection = get_object_or_404(ExchangeConnection, pk=connection_id)
    try:
        actions.do_delete_connection(request.tenant, connection, actor=request.user)
    except ValidationError as error:
        messages.error(request, error_html(error))
        return redirect("connection_detail", connection_id=connection.pk)
    messages.success(request, _("Deleted “%(label)s”.") % {"label": connection.label})
    return redirect("exchanges")


@require_POST
@role_required(Role.ADMIN)
def paper_reset(request, connection_id):
    connection = get_object_or_404(ExchangeConnection, pk=connection_id)
    try:
        actions.do_reset_paper_account(request.tenant, connection, actor=request.user)
    except ValidationError as error:
        messages.error(request, error_html(error))
    else:
        messages.success(request, _("The paper account starts over with %(balance)s USDT.")
                         % {"balance": connection.starting_balance.normalize()})
    return redirect("connection_detail", connection_id=connection.pk)
