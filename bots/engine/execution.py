"""Placing one order for a bot: shared by the engine's ticks and by webhook signals."""

from dataclasses import dataclass, field
from decimal import Decimal

from asgiref.sync import sync_to_async

from bots import risk
from bots.accounting import Book
from bots.engine import store
from bots.models import BotEvent, Order
from bots.strategies.base import Place
from exchanges import errors



async def in_thread(function, *args, **kwargs):
    """The default way to run database work from async code."""
    return await sync_to_async(function)(*args, **kwargs)


@dataclass
class Placement:
    order: Order | None = None
    fills: list = field(default_factory=list)
    events: list = field(default_factory=list)  # (kind, message, alert, data)
    # A temporary failure (the order stays pending) or a refusal (it failed). The caller
    # takes the order in first, then raises it: a pending order must never be forgotten.
    error: errors.ExchangeError | None = None


async def place(adapter, intent: Place, *, schema: str, tenant_id: int, bot, lease, books: dict[str, Book],
                open_orders: list[Order], markets: dict, prices: dict, run=in_thread) -> Placement:
    """Round, check and place `intent`. The order is written (pending, with its client
    order id) before the exchange is asked; a temporary failure leaves it pending for the
    next reconcile to settle, a refusal marks it failed; either comes back as `error`."""
    result = Placement()
    if any(o.tag == intent.tag for o in open_orders):
        return result
    amount = adapter.amount_to_precision(intent.symbol, intent.amount)
    price = adapter.price_to_precision(intent.symbol, intent.price) if intent.price is not None else None
    minimum = (markets.get(intent.symbol, {}).get("limits", {}).get("amount") or {}).get("min")
    if amount <= 0 or (minimum is not None and amount < Decimal(str(minimum))):
        result.events.append((BotEvent.Kind.NOTE, f"Skipped {intent.tag}: {intent.amount} is below the minimum amount.",
                              False, {}))
        return result
    open_delta = sum(((o.amount - o.filled) * (1 if o.side == "buy" else -1)
                      for o in open_orders if o.symbol == intent.symbol), Decimal(0))
    if risk.exceeds_max_position(bot.risk, books.get(intent.symbol, Book()), intent.side, amount,
                                 price or prices[intent.symbol], open_delta):
        result.events.append((BotEvent.Kind.RISK_STOP,
                              f"Skipped {intent.tag}: it would take the position beyond the maximum value.", False, {}))
        return result
    order = await run(
        store.begin_order, schema, lease, bot.pk, tenant_id, tag=intent.tag, symbol=intent.symbol, side=intent.side, type=intent.type,
        amount=amount, price=price, reduce_only=intent.reduce_only,
    )
    result.order = order
    params = {"reduceOnly": True} if intent.reduce_only else {}
    try:
        data = await adapter.place_order(intent.symbol, intent.type, intent.side, amount, price, order.client_order_id,
                                         params)
    except (errors.TemporarilyUnavailable, errors.RateLimited) as failure:
        result.error = failure
        return result
    except errors.ExchangeError as refused:
        result.order = await run(store.fail, schema, order.pk, str(refused))
        result.error = refused
        return result
    result.events.append((BotEvent.Kind.ORDER_PLACED,
                          f"{intent.side.capitalize()} {amount.normalize():f} {intent.symbol}"
                          + (f" at {price.normalize():f}" if price is not None else " at market") + f" ({intent.tag})",
                          False, {"order": order.client_order_id}))
    result.order, result.fills = await run(store.settle, schema, order.pk, data, quote_of(markets, intent.symbol))
    return result


def quote_of(markets: dict, symbol: str) -> str:
    market = markets.get(symbol) or {}
    return market.get("settle") or market.get("quote") or symbol.split("/")[1].split(":")[0]
