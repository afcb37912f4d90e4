"""Webhook signals for signal bots: reading TradingView / 3Commas-style alert bodies and
carrying them out through the bot's strategy."""

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from urllib.parse import parse_qsl

from asgiref.sync import async_to_sync

from bots.engine import execution
from bots.models import BotEvent, Signal
from bots.strategies import base
from bots.strategies.signal import ACTIONS, STRENGTHS, SignalStrategy
from exchanges.adapters import adapter_for
from exchanges.errors import ExchangeError
from exchanges.markets import MARKETS

MAX_BODY = 10_000
FUTURE_SLACK = 60  # seconds a signal's timestamp may lie ahead of our clock

ACTION_NAMES = {
    **{action: action for action in ACTIONS},
    "enter_long": "open_long", "buy": "open_long", "long": "open_long",
    "exit_long": "close_long", "sell": "close_long",
    "enter_short": "open_short", "short": "open_short",
    "exit_short": "close_short", "cover": "close_short",
    "exit_all": "close_all", "flat": "close_all", "close": "close_all",
}


class Refused(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Parsed:
    signal: base.Signal
    payload: dict  # as received, without the secret


def read_body(content_type: str, body: bytes) -> dict:
    """A JSON object, or key=value pairs (form-encoded, or one per line). Dotted keys
    (`order.amount`) become nested objects."""
    if len(body) > MAX_BODY:
        raise Refused(400, f"The body is larger than {MAX_BODY} bytes.")
    try:
        text = body.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise Refused(400, "The body is not UTF-8 text.") from None
    if "json" in content_type or text.startswith("{"):
        try:
            payload = json.loads(text)
        except json.JSONDecodeError as error:
            raise Refused(400, f"The body is not valid JSON: {error.msg} at character {error.pos}.") from None
        if not isinstance(payload, dict):
            raise Refused(400, "The body must be a JSON object.")
        return payload
    pairs = parse_qsl(text, keep_blank_values=True) if "&" in text or "\n" not in text else [
        tuple(part.strip() for part in line.split("=", 1)) for line in text.splitlines() if "=" in line
    ]
    if not pairs:
        raise Refused(400, "The body has neither JSON nor key=value pairs.")
    payload: dict = {}
    for key, value in pairs:
        target = payload
        *parents, leaf = key.split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = value
    return payload


def interpret(payload: dict, now: float) -> Parsed:
    """Check and normalise a signal; Refused(400) with the reason when it cannot be used."""
    stripped = {key: value for key, value in payload.items() if key != "secret"}
    action = ACTION_NAMES.get(str(payload.get("action", "")).strip().lower())
    if action is None:
        raise Refused(400, f"Unknown action {payload.get('action')!r}. Use one of: {', '.join(ACTIONS)}.")
    strength = str(payload.get("strength") or "strong").strip().lower()
    if strength not in STRENGTHS:
        raise Refused(400, f"Unknown strength {strength!r}. Use strong, medium, weak or ignore.")
    timestamp = _timestamp(payload.get("timestamp"))
    max_lag = payload.get("max_lag")
    if timestamp is not None:
        if timestamp > now + FUTURE_SLACK:
            raise Refused(400, "The signal's timestamp lies in the future.")
        if max_lag not in (None, ""):
            try:
                lag_limit = float(max_lag)
            except ValueError:
                raise Refused(400, "max_lag must be a number of seconds.") from None
            if now - timestamp > lag_limit:
                raise Refused(400, f"The signal is stale: {now - timestamp:.0f} s old, max_lag is {lag_limit:.0f} s.")
    order = payload.get("order") if isinstance(payload.get("order"), dict) else {}
    amount = _positive(order.get("amount", payload.get("amount")), "order.amount")
    percent = _positive(order.get("percent_of_balance", payload.get("percent_of_balance")), "percent_of_balance")
    if percent is not None and percent > 100:
        raise Refused(400, "percent_of_balance can be at most 100.")
    price = _positive(payload.get("trigger_price"), "trigger_price")
    signal_id = str(payload.get("signal_id") or payload.get("id") or "").strip()[:100] or hashlib.sha256(
        json.dumps(stripped, sort_keys=True, default=str).encode()
    ).hexdigest()[:40]
    return Parsed(base.Signal(action, strength, amount, percent, price, signal_id), stripped)


def _timestamp(value) -> float | None:
    if value in (None, ""):
        return None
    try:
        number = float(value)
        return number / 1000 if number > 1e11 else number
    except (TypeError, ValueError):
        pass
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise Refused(400, "timestamp must be ISO 8601 or unix seconds.") from None


def _positive(value, name) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise Refused(400, f"{name} must be a number.") from None
    if not number.is_finite() or number <= 0:
        raise Refused(400, f"{name} must be positive.")
    return number


def execute(tenant, bot, signal: base.Signal, now: float,
            orders_and_books: tuple) -> tuple[str, str, list[str], list[tuple]]:
    """Run the signal through the bot's strategy and place what it asks for. `bot` comes
    with its connection, and its pending and open orders and positions, as the webhook
    just read them (store.orders_and_books). Returns the outcome, its reason,
    the orders' client ids and the bot events to record (the caller writes them with the
    signal's outcome)."""
    connection, schema = bot.connection, tenant.schema_name
    if connection.is_paper and connection.market_data != connection.MarketData.LIVE:
        # The paper exchange is this database: nothing in the signal's coroutines waits on
        # the network, so they run to the end right here, in the request's thread,
        # instead of hopping between it and the server's event loop for each query.
        adapter = adapter_for(connection, schema, run_sync=call)
        return run_inline(_execute(tenant, bot, signal, now, orders_and_books, adapter=adapter, run=call))
    return async_to_sync(_execute)(tenant, bot, signal, now, orders_and_books, adapter=adapter_for(connection, schema),
                                   run=execution.in_thread)


async def call(function, *args, **kwargs):
    return function(*args, **kwargs)


def run_inline(coroutine):
    """The result of a coroutine that never suspends."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("A coroutine run inline waited for something.")


async def _execute(tenant, bot, signal, now, orders_and_books, *, adapter, run):
    schema = tenant.schema_name
    orders, books = orders_and_books
    try:
        markets = MARKETS if bot.connection.is_paper else await adapter.load_markets()
        symbol = bot.symbols[0]
        prices = {symbol: signal.price or (await adapter.fetch_ticker(symbol))["last"]}
        free_quote = Decimal(0)
        if signal.percent_of_balance is not None or SignalStrategy.parse(bot.params).get("size_mode") == "percent":
            quote = execution.quote_of(markets, symbol)
            free_quote = (await adapter.fetch_balance()).get(quote, {}).get("free", Decimal(0))
        ctx = base.Context(
            now=now, symbols=tuple(bot.symbols), prices=prices, markets={symbol: markets[symbol]},
            open_orders=tuple(base.OpenOrder(o.tag, o.symbol, o.side, o.type, o.amount, o.price, o.filled)
                              for o in orders),
            positions={s: base.Position(s, b.amount, b.average_price, b.realized_pnl, b.unrealized(prices[s]))
                       for s, b in books.items() if s in prices},
            free_quote=free_quote, memory=dict(bot.memory), signal=signal,
        )
        events, client_ids, outcome, reason = [], [], Signal.Outcome.DROPPED, ""
        for intent in SignalStrategy(bot.params).on_tick(ctx):
            if isinstance(intent, base.Note):
                events.append((BotEvent.Kind.SIGNAL, intent.message, intent.alert, intent.data))
                if intent.alert:
                    outcome = Signal.Outcome.ALERTED
                reason = intent.message
            elif isinstance(intent, base.Place):
                placed = await execution.place(adapter, intent, schema=schema, tenant_id=tenant.pk, bot=bot, lease=None,
                                               books=books, open_orders=orders, markets=markets,
                                               prices=prices, run=run)
                events += placed.events
                if placed.order is not None:
                    client_ids.append(placed.order.client_order_id)
                if placed.error is not None:
                    outcome, reason = Signal.Outcome.FAILED, str(placed.error)
                    break
                outcome = Signal.Outcome.ACCEPTED
        return outcome, reason, client_ids, events
    except ExchangeError as failure:
        return Signal.Outcome.FAILED, str(failure), [], []
    finally:
        await adapter.close()
