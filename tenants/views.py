from collections import Counter
from datetime import timedelta
from decimal import Decimal

from django.db.models import Sum
from django.shortcuts import render
from django.utils import timezone

from billing.models import AddOn, Plan
from bots import live
from bots.models import Bot, BotEvent, Fill
from exchanges.errors import ExchangeError
from exchanges.models import ExchangeConnection
from exchanges.valuation import paper_equity


def landing(request):
    return render(request, "public/landing.html")


def pricing(request):
    return render(request, "public/pricing.html", {
        "plans": Plan.objects.filter(is_public=True), "addons": {addon.key: addon for addon in AddOn.objects.all()},
    })


def dashboard(request):
    bots = list(Bot.objects.order_by("name", "id"))
    statuses = live.statuses_of(bots)
    counts = Counter(bot.state for bot in bots)
    now = timezone.now()
    midnight = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    context = {
        "statuses": statuses, "counts": counts,
        "pnl_open": sum((Decimal(s["realized_pnl"]) + Decimal(s["unrealized_pnl"]) for s in statuses), Decimal(0)),
        "pnl_today": _realized_since(midnight), "pnl_7d": _realized_since(now - timedelta(days=7)),
        "events": BotEvent.objects.select_related("bot")[:15],
        **_paper_equity(request.tenant),
    }
    return render(request, "tenants/dashboard.html", context)


def _paper_equity(tenant) -> dict:
    """The paper accounts' total worth; real exchange accounts are only counted."""
    total, unvalued = Decimal(0), 0
    connections = list(ExchangeConnection.objects.all())
    for connection in connections:
        if not connection.is_paper:
            unvalued += 1
            continue
        try:
            total += paper_equity(tenant, connection)
        except ExchangeError:
            unvalued += 1
    # A total to read at a glance: cents (each account's page has the exact balances).
    return {"paper_equity": total.quantize(Decimal("0.01")), "paper_accounts": len(connections) - unvalued,
            "unvalued_accounts": unvalued}


def _realized_since(moment) -> Decimal:
    return Fill.objects.filter(timestamp__gte=moment).aggregate(total=Sum("realized_pnl"))["total"] or Decimal(0)
