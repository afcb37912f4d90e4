import asyncio
import functools
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts import preferences
from bots.models import BotEvent, Fill, Order
from bots.views import EVENTS_SHOWN, PAGE_SIZE, can_control
from tenants.groups import bot_group, workspace_group
from tenants.websocket import header

# A bot's fragments go out at most this often per page; a burst of ticks sends the last.
FRAGMENT_INTERVAL = 0.25
OVERLAP = timedelta(seconds=1)


class WorkspaceConsumer(AsyncWebsocketConsumer):
    """Streams HTML fragments (hx-swap-oob) to a page of the workspace, rendered from
    the partials of that page's own template. The page names itself in the URL
    (`?view=bots`, `?view=bot:<id>`, `?view=dashboard`).

    Only ever reached through TenantWebsocketMiddleware, which has put a verified
    tenant and membership into the scope.
    """

    async def connect(self):
        self.schema = self.scope["tenant"].schema_name
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        self.view, self.bot_id = _view(query)
        self.groups_joined = [workspace_group(self.schema)]
        if self.bot_id is not None:
            self.groups_joined.append(bot_group(self.schema, self.bot_id))
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        self.pending: dict[int, dict] = {}
        self.sent_at: dict[int, float] = {}
        self.tasks: dict[int, asyncio.Task] = {}
        self.shown_states: dict[int, tuple[str, str]] = {}
        self.context = {"oob": True, "can_control": can_control(self.scope["membership"]),
                        "csrf_token": _csrf_cookie(self.scope)}
        # Fragments are in the socket user's language and time zone, as their pages are.
        self.preferences = preferences.for_socket(self.scope)
        # What the page has: what it says it rendered (bots/live.py's shown_marks, in the
        # socket's URL, so also on every reconnect), else everything up to now.
        shown = _shown(query)
        if self.bot_id is not None and shown is not None:
            self.last_fill, self.last_event, self.orders_since = shown
            self.orders_shown = set()
        elif self.bot_id is not None:
            await self._mark_shown()
        await self.accept()
        if self.bot_id is not None and shown is not None:
            # Rows written between the page's render and this socket's start.
            await self.bot_news({})

    async def disconnect(self, code):
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)
        for task in getattr(self, "tasks", {}).values():
            task.cancel()

    async def push_html(self, event):
        await self.send(text_data=event["html"])

    async def bot_status(self, event):
        """Bots' statuses from the engine or an action."""
        for status in event["bots"]:
            if self.view == "bots" or self.view == "dashboard" or status["id"] == self.bot_id:
                self._queue(status)

    async def bot_news(self, event):
        """The bot of this page has new orders, fills or events: the rows its tables
        have not shown yet."""
        if self.bot_id is not None:
            html = await self._news()
            if html.strip():
                await self.send(text_data=html)

    def _queue(self, status: dict) -> None:
        bot_id = status["id"]
        self.pending[bot_id] = status
        if bot_id in self.tasks:
            return
        delay = max(0.0, self.sent_at.get(bot_id, 0.0) + FRAGMENT_INTERVAL - time.monotonic())
        self.tasks[bot_id] = asyncio.create_task(self._flush(bot_id, delay))

    async def _flush(self, bot_id: int, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        del self.tasks[bot_id]
        status = self.pending.pop(bot_id, None)
        if status is None:
            return
        self.sent_at[bot_id] = time.monotonic()
        with preferences.applied(*self.preferences):
            html = self._render_status(status)
        await self.send(text_data=html)

    def _render_status(self, status: dict) -> str:
        context = {**self.context, "s": status}
        # Re-rendering the whole card every second would swap its buttons away under a
        # pointer mid-click; while the state holds, only the figures change.
        shown = (status["state"], status["state_reason"])
        if self.shown_states.get(status["id"]) == shown:
            return render_to_string("bots/live_figures.html", {**context, "view": self.view})
        self.shown_states[status["id"]] = shown
        if self.view == "bots":
            return render_to_string("bots/bot_list.html#bot-row", context)
        if self.view == "dashboard":
            return render_to_string("tenants/dashboard.html#bot-card", context)
        return render_to_string("bots/bot_detail.html#bot-status", context)

    @database_sync_to_async
    def _mark_shown(self) -> None:
        """Everything up to now: the page was rendered just before."""
        with schema_context(self.schema):
            self.last_fill = Fill.objects.filter(bot_id=self.bot_id).order_by("-id").values_list("id", flat=True).first() or 0
            self.last_event = (BotEvent.objects.filter(bot_id=self.bot_id).order_by("-id")
                               .values_list("id", flat=True).first() or 0)
            self.orders_since = timezone.now()
            # Orders of the last second may be on the page already: never added twice.
            self.orders_shown = set(Order.objects.filter(bot_id=self.bot_id, created_at__gte=self.orders_since
                                                         - OVERLAP).values_list("id", flat=True))

    # Off daphne's one thread for sync code (thread_sensitive), where it would queue
    # behind every request's view: a fill's page waits on this render. Only the new and
    # changed rows: re-rendering the three tables was most of a fill's way to the page.
    @functools.partial(database_sync_to_async, thread_sensitive=False)
    def _news(self) -> str:
        with schema_context(self.schema):
            now = timezone.now()
            fills = list(Fill.objects.filter(bot_id=self.bot_id, id__gt=self.last_fill).order_by("-id")[:PAGE_SIZE])
            events = list(BotEvent.objects.filter(bot_id=self.bot_id, id__gt=self.last_event)
                          .order_by("-created_at", "-id")[:EVENTS_SHOWN])
            # Overlapping the last look: a row written in the same instant as it is sent
            # again rather than missed (a changed row replaces itself).
            orders = list(Order.objects.filter(bot_id=self.bot_id, updated_at__gte=self.orders_since - OVERLAP)
                          .order_by("-created_at", "-id")[:PAGE_SIZE])
            if fills:
                self.last_fill = max(fill.pk for fill in fills)
            if events:
                self.last_event = max(event.pk for event in events)
            new = [o for o in orders if o.pk not in self.orders_shown and o.created_at >= self.orders_since - OVERLAP]
            self.orders_shown.update(o.pk for o in new)
            self.orders_since = now
            context = {**self.context, "fills": fills, "events": events, "new_orders": new,
                       "changed_orders": [o for o in orders if o not in new]}
            with preferences.applied(*self.preferences):
                return render_to_string("bots/live_news.html", context)


def _view(query: dict[str, list[str]]) -> tuple[str, int | None]:
    view = query.get("view", [""])[0]
    if view.startswith("bot:") and view[4:].isdigit():
        return "bot", int(view[4:])
    return view, None


def _shown(query: dict[str, list[str]]) -> tuple[int, int, datetime] | None:
    """The page's marks, when all three are whole numbers: newest fill, newest event,
    and when (milliseconds since the epoch, never later than now)."""
    values = [query.get(name, [""])[0] for name in ("fill", "event", "since")]
    if not all(value.isascii() and value.isdigit() and len(value) <= 18 for value in values):
        return None
    fill, event, since = map(int, values)
    return fill, event, datetime.fromtimestamp(min(since / 1000, time.time()), tz=UTC)


def _csrf_cookie(scope) -> str:
    """Forms in pushed fragments post with the page's own CSRF cookie value."""
    for part in header(scope, b"cookie").split(";"):
        name, _, value = part.strip().partition("=")
        if name == settings.CSRF_COOKIE_NAME:
            return value
    return ""
