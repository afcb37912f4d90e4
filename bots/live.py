"""Live status pushed to the browsers of a workspace: the engine, and actions on commit,
send a bot's status to the channel layer groups `<schema>.bots` and `<schema>.bot.<id>`;
the websocket consumer in daphne renders it into the page's partials. Best effort: a
push that fails is logged, never allowed to break what triggered it."""

import asyncio
import logging
from decimal import Decimal

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.db.models import Count, Max
from django.utils import timezone
from django_tenants.utils import schema_context

from bots.accounting import Book
from bots.models import BotEvent, Fill, Order, Position
from tenants.groups import bot_group, workspace_group

logger = logging.getLogger(__name__)
ZERO = Decimal(0)


def status_of(bot) -> dict:
    """A bot's status read from the database. Call in the bot's schema."""
    return statuses_of([bot])[0]


def statuses_of(bots) -> list[dict]:
    """status_of for many bots in three queries."""
    ids = [bot.pk for bot in bots]
    books: dict[int, dict[str, Book]] = {}
    for p in Position.objects.filter(bot_id__in=ids):
        books.setdefault(p.bot_id, {})[p.symbol] = Book(p.amount, p.average_price, p.realized_pnl, p.fees)
    open_orders = dict(Order.objects.filter(bot_id__in=ids, status__in=[Order.Status.PENDING, Order.Status.OPEN])
                       .values_list("bot_id").annotate(n=Count("id")).values_list("bot_id", "n"))
    return [status_from(bot, books.get(bot.pk, {}), open_orders.get(bot.pk, 0)) for bot in bots]


def shown_marks(bot) -> dict:
    """What a bot's page is about to show, for its socket to send only what comes after:
    the newest fill and event, and the time. Read before the page's tables, so a row
    written in between is sent again rather than missed (the page drops the copy)."""
    at = timezone.now()
    return {"fill": Fill.objects.filter(bot=bot).aggregate(n=Max("id"))["n"] or 0,
            "event": BotEvent.objects.filter(bot=bot).aggregate(n=Max("id"))["n"] or 0,
            "since": int(at.timestamp() * 1000)}


def status_from(bot, books: dict[str, Book], open_orders: int) -> dict:
    """The JSON-safe status of a bot, as the engine pushes it and as pages render it:
    PnL realised on every symbol, unrealised on the first at the last price."""
    price = bot.last_price
    first = books.get(bot.symbols[0]) if bot.symbols else None
    return {
        "id": bot.pk, "name": bot.name, "state": bot.state, "state_reason": bot.state_reason,
        "last_price": decimal_text(price), "last_tick_at": bot.last_tick_at,
        "realized_pnl": decimal_text(sum((book.realized_pnl for book in books.values()), ZERO)),
        "unrealized_pnl": decimal_text(first.unrealized(price) if first is not None and price is not None else ZERO),
        "position": decimal_text(sum((book.amount for book in books.values()), ZERO)),
        "open_orders": open_orders,
    }


def after_commit(tenant, bot) -> None:
    with schema_context(tenant.schema_name):
        status = status_of(bot)
    transaction.on_commit(lambda: push(tenant.schema_name, [status]))


def push(schema_name: str, statuses: list[dict]) -> None:
    """From synchronous code (views, actions, commands)."""
    try:
        async_to_sync(apush)(schema_name, statuses)
    except Exception:  # noqa: BLE001 - live updates must never break the caller
        logger.warning("live push to %s failed", schema_name, exc_info=True)


async def apush(schema_name: str, statuses: list[dict], to_bots: set[int] | None = None) -> None:
    """To the workspace's group (`bot.status`), and as `bot.news` (new orders, fills or
    events to show) to the own group of the bots in `to_bots` (all of them when None)."""
    layer = get_channel_layer()
    if layer is None or not statuses:
        return
    # All at once: on a database channel layer each send is a round trip, and a page
    # waiting for its bot's fill should not wait behind the others.
    news = [layer.group_send(bot_group(schema_name, status["id"]), {"type": "bot.news", "bots": [status]})
            for status in statuses if to_bots is None or status["id"] in to_bots]
    workspace = layer.group_send(workspace_group(schema_name), {"type": "bot.status", "bots": statuses})
    await asyncio.gather(*news, workspace)


def decimal_text(value) -> str | None:
    """A number as exact decimal text for JSON (statuses, chart data). Floats (ccxt's)
    go through str(), which keeps the digits the exchange sent."""
    return None if value is None else format(Decimal(str(value)).normalize(), "f")
