"""The signal webhook: one secret URL per signal bot, on its workspace's host.

POST /hooks/signal/<token>/ with a TradingView / 3Commas-style body (JSON, or
key=value). The body's `secret` must match the bot's. Answers: 200 with the outcome
(accepted, alerted, dropped, duplicate), 400 for a malformed or stale signal, 403 for a
bad secret or a plan without webhooks, 404 for an unknown URL, 409 when the bot is not
running, 429 when the bot receives more than SIGNAL_RATE_PER_MINUTE or the workspace
more than its plan's rate. Every signal that reaches a bot is stored
with its outcome (the secret stripped)."""

import hmac
import json
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from accounts.access import open_to_non_members
from bots import signals
from bots.actions import token_hash, webhook_credentials
from bots.engine import store
from bots.models import Bot, Signal
from exchanges.models import ExchangeConnection
from tenants import rows
from tenants.ratelimit import queue_hits
from tenants.schemas import in_schema


THE_BOT = "FROM bots_bot WHERE webhook_token_hash = %s AND strategy = 'signal'"


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict
    headers: dict = field(default_factory=dict)


@csrf_exempt
@require_POST
@open_to_non_members
def signal_webhook(request, token):
    """The webhook behind Django's middleware: for the test client and any WSGI server.
    Under ASGI, `bots.webhook_lane` answers /hooks/ before the middleware runs."""
    answer = receive_signal(request.tenant, token, request.content_type or "", request.body)
    response = JsonResponse(answer.body, status=answer.status)
    for name, value in answer.headers.items():
        response[name] = value
    return response


def receive_signal(tenant, token: str, content_type: str, body: bytes) -> Answer:
    """Everything the webhook does once the workspace is known from the host."""
    with in_schema(tenant.schema_name):
        # The bot, its connection, orders and positions, and the signal counted against
        # the rate limits (when the bot exists), in one round trip.
        reads, hashed = rows.Batch(), token_hash(token)
        found = reads.select(Bot, f"id = (SELECT id {THE_BOT})", [hashed])
        connections = reads.select(ExchangeConnection, f"id = (SELECT connection_id {THE_BOT})", [hashed])
        orders_and_books = store.read_orders_and_books(reads, f"(SELECT id {THE_BOT})", [hashed])
        plan = tenant.subscription.plan  # read with the tenant, no query
        if plan.webhooks_and_signal_bots:
            limited = queue_hits(reads, [
                (f"signal:{tenant.schema_name}:{hashed}", settings.SIGNAL_RATE_PER_MINUTE, 60),
                (f"hooks:{tenant.schema_name}", plan.api_rate_per_minute, 60),
            ], only_if=(f"EXISTS (SELECT 1 {THE_BOT})", [hashed]))
        reads.run()
        if not found:
            return Answer(404, {"error": "Unknown webhook."})
        bot = found[0]
        bot.connection = connections[0]
        if not plan.webhooks_and_signal_bots:
            return Answer(403, {"error": "The workspace's plan does not include webhooks."})
        allowed, retry_after = limited()
        if not allowed:
            return Answer(429, {"error": "Too many signals for this bot or workspace; slow down."},
                          {"Retry-After": str(retry_after)})
        now = time.time()
        try:
            payload = signals.read_body(content_type, body)
        except signals.Refused as refused:
            return _refuse(bot, refused, {})
        expected = webhook_credentials(tenant, bot).get("secret", "")
        if not hmac.compare_digest(str(payload.get("secret", "")).encode(), expected.encode()):
            return _refuse(bot, signals.Refused(403, "Bad secret."), payload)
        try:
            parsed = signals.interpret(payload, now)
        except signals.Refused as refused:
            return _refuse(bot, refused, payload)

        record = _record_once(bot, parsed)
        if record is None:
            return Answer(200, {"status": "duplicate", "signal_id": parsed.signal.signal_id})
        if bot.state != Bot.State.RUNNING:
            _finish(record, Signal.Outcome.DROPPED, f"The bot is {bot.get_state_display().lower()}.")
            return Answer(409, {"status": "dropped", "reason": record.reason, "signal_id": record.signal_id})
        outcome, reason, orders, events = signals.execute(tenant, bot, parsed.signal, now, orders_and_books())
        _finish(record, outcome, reason, events)
        return Answer(200, {"status": outcome, "reason": reason, "signal_id": record.signal_id, "orders": orders})


def _record_once(bot: Bot, parsed: signals.Parsed) -> Signal | None:
    """The signal's row, stored as accepted; None when its id came before."""
    record = Signal(bot=bot, signal_id=parsed.signal.signal_id, action=parsed.signal.action,
                    strength=parsed.signal.strength, payload=parsed.payload, outcome=Signal.Outcome.ACCEPTED,
                    received_at=timezone.now())
    # One statement, no savepoint: a duplicate delivery inserts nothing and gets no id.
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO bots_signal (bot_id, signal_id, action, strength, payload, outcome, reason, received_at) "
            "VALUES (%s, %s, %s, %s, %s::jsonb, %s, '', %s) ON CONFLICT (bot_id, signal_id) DO NOTHING RETURNING id",
            [bot.pk, record.signal_id, record.action, record.strength, json.dumps(record.payload, default=str),
             record.outcome, record.received_at],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    record.pk = row[0]
    return record


def _refuse(bot, refused: signals.Refused, payload: dict) -> Answer:
    stripped = {key: value for key, value in payload.items() if key != "secret"}
    Signal.objects.create(bot=bot, signal_id=f"rejected-{time.time_ns()}", action=str(payload.get("action", ""))[:20],
                          strength=str(payload.get("strength", ""))[:10], payload=stripped,
                          outcome=Signal.Outcome.REJECTED, reason=refused.reason[:500])
    return Answer(refused.status, {"error": refused.reason})


def _finish(record: Signal, outcome: str, reason: str, events=()) -> None:
    """The signal's outcome, and the bot events it caused, in one round trip."""
    record.outcome, record.reason = outcome, reason[:500]
    writes = rows.Batch()
    writes.insert(*store.event_rows(record.bot_id, events))
    writes.update(record, ["outcome", "reason"])
    writes.run()
