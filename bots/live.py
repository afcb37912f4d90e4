"""Live status pushed to the browsers of a workspace: the engine, and actions on commit,
send a bot's status to the channel layer groups `<schema>.bots` and `<schema>.bot.<id>`;
the websocket consumer in daphne renders it into the page's partials. Best effort: a
push that fails is logged, never allowed to break what triggered it."""

import logging
from decimal import Decimal

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from tenants.groups import bot_group, workspace_group

logger = logging.getLogger(__name__)


def status_of(bot) -> dict:
    """The JSON-safe status of a bot, as pushed and as rendered."""
    return {
        "id": bot.pk,
        "name": bot.name,
        "state": bot.state,
        "state_reason": bot.state_reason,
        "last_price": _text(bot.last_price),
        "last_tick_at": bot.last_tick_at,
    }


def after_commit(tenant, bot) -> None:
    status = status_of(bot)
    transaction.on_commit(lambda: push(tenant.schema_name, [status]))


def push(schema_name: str, statuses: list[dict]) -> None:
    """From synchronous code (views, actions, commands)."""
    try:
        async_to_sync(apush)(schema_name, statuses)
    except Exception:  # noqa: BLE001 - live updates must never break the caller
        logger.warning("live push to %s failed", schema_name, exc_info=True)


async def apush(schema_name: str, statuses: list[dict], to_bots: set[int] | None = None) -> None:
    """To the workspace's group, and to the own group of the bots in `to_bots` (all of
    them when None)."""
    layer = get_channel_layer()
    if layer is None or not statuses:
        return
    await layer.group_send(workspace_group(schema_name), {"type": "bot.status", "bots": statuses})
    for status in statuses:
        if to_bots is None or status["id"] in to_bots:
            await layer.group_send(bot_group(schema_name, status["id"]), {"type": "bot.status", "bots": [status]})


def _text(value) -> str | None:
    return None if value is None else format(Decimal(value).normalize(), "f")
