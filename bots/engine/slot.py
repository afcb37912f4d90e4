"""One bot inside a shard runner: its state between ticks, and what a tick does.

A tick: skip if backing off; reconcile with the exchange when something may have
happened (just loaded or resumed, a pending order, the price range since the last tick
touching an open order, or the periodic check is due); then by state: a stopping bot
cancels its orders, a paused one only watches, a running one passes the risk checks,
asks its strategy for intents and executes them.
"""

import functools
import logging
import random
import time
from decimal import Decimal

from django.conf import settings

from bots import actions, live, risk
from bots.accounting import Book, apply_fill
from bots.engine import execution, store
from bots.models import Bot, BotEvent, Order
from bots.strategies import base, strategy_class
from exchanges import errors

logger = logging.getLogger(__name__)

RECONCILE_EVERY = {"paper": 60.0, "live": 15.0}
# Seconds a pending order may be unknown to the exchange before it counts as never sent:
# long for one found at load (another runner may have written it and be about to send
# it), short for one whose placement this slot itself saw fail.
PENDING_GRACE = 30.0
OWN_ATTEMPT_GRACE = 3.0
FIRST_RECONCILE_SPREAD = 10.0
SERIES_EVERY = 60.0
ZERO = Decimal(0)



class BotSlot:
    def __init__(self, runner, *, tenant_id: int, schema: str, bot_id: int, shard: int, version: int):
        self.runner = runner
        # Database work of this bot: always on its workspace's thread (bots/engine/database.py).
        self.run = functools.partial(runner.database.run, schema)
        self.tenant_id, self.schema, self.bot_id, self.shard = tenant_id, schema, bot_id, shard
        self.version = version
        self.bot: Bot | None = None
        self.orders: dict[int, Order] = {}
        self.books: dict[str, Book] = {}
        self.realized_today = ZERO
        self.strategy = None
        self.adapter = None
        self.source = None
        self.markets: dict[str, dict] = {}
        self.new_fills: list[base.Fill] = []
        self.events: list[tuple[str, str, bool, dict]] = []
        self.points: list[tuple[int, str, float, Decimal]] = []
        self.next_tick = 0.0
        self.last_series = 0.0
        self.started = True
        self.config_changed = False
        self.gone = False
        self.attempted: dict[int, float] = {}  # pending order -> when its placement attempt ended
        # Periodic checks are spread out: bots started together must not all check at once.
        self.reconcile_every = RECONCILE_EVERY["paper"] * random.uniform(0.8, 1.2)
        # Right after loading (a start, a takeover, a handover) every bot reconciles, but
        # spread over the first seconds rather than all on the first tick.
        self.last_reconcile = time.time() - self.reconcile_every + random.uniform(0, FIRST_RECONCILE_SPREAD)

    # --- loading ----------------------------------------------------------------------------

    async def load(self) -> bool:
        snapshot = await self.run(store.load, self.schema, self.bot_id)
        if snapshot is None or not snapshot.bot.is_active:
            self.gone = True
            return False
        bot = snapshot.bot
        previous = self.bot
        self.bot = bot
        self.orders = {order.pk: order for order in snapshot.orders}
        self.books = snapshot.books
        self.realized_today = snapshot.realized_today
        if previous is None or previous.revision != bot.revision or self.strategy is None:
            try:
                self.strategy = strategy_class(bot.strategy)(bot.params)
            except Exception as problem:  # noqa: BLE001 - a broken configuration stops only this bot
                await self.run(actions.do_fail_bot, self.runner.tenant(self.tenant_id), bot,
                                              reason=f"The strategy cannot start: {problem}")
                self.gone = True
                return False
            self.config_changed = bot.applied_revision not in (0, bot.revision)
        if previous is None or (previous.state != bot.state and bot.state == Bot.State.RUNNING):
            self.started = True
        self.adapter, self.source, self.markets = await self.runner.connection_parts(self.schema, bot)
        return True

    @property
    def paper(self) -> bool:
        return bool(self.bot and self.bot.connection.is_paper)

    def open_orders(self) -> list[Order]:
        return [o for o in self.orders.values() if o.status in (Order.Status.PENDING, Order.Status.OPEN)]

    # --- the tick ------------------------------------------------------------------------------

    async def tick(self, quotes: dict, now: float) -> None:
        bot = self.bot
        prices = {}
        ranges = {}
        for symbol in bot.symbols:
            quote = quotes.get((self.source, symbol))
            if quote is not None:
                prices[symbol], ranges[symbol] = quote.price, (quote.low, quote.high)
        bot.last_tick_at = now
        if prices:
            bot.last_price = prices.get(bot.symbols[0])
        if now < bot.backoff_until:
            return
        if len(prices) < len(bot.symbols):
            await self._failed(errors.TemporarilyUnavailable("No market price this tick."), now)
            return
        try:
            if self._should_reconcile(ranges, now):
                await self.reconcile(now)
            if bot.state == Bot.State.STOPPING:
                await self._finish_stopping()
                return
            if bot.state != Bot.State.RUNNING:
                return
            verdict = risk.check(bot.risk, self.books, prices, self.realized_today)
            if verdict is not None:
                await self._risk_stop(verdict, prices)
                return
            intents = await self._ask_strategy(prices, now)
            if intents is None:
                return
            await self.execute(intents, prices, now)
        except store.LeaseLost:
            raise
        except errors.ExchangeError as failure:
            await self._failed(failure, now)
            return
        await self._record_series(prices, now)
        if bot.consecutive_failures:
            bot.consecutive_failures, bot.backoff_until = 0, 0
            await self.run(store.save_runtime, self.schema, self.bot_id, consecutive_failures=0, backoff_until=0)

    def _should_reconcile(self, ranges, now) -> bool:
        if self.bot.needs_reconcile or any(o.status == Order.Status.PENDING for o in self.orders.values()):
            return True
        if now - self.last_reconcile >= self.reconcile_every:
            return True
        for order in self.open_orders():
            if order.type == "market" or order.price is None:
                return True
            low, high = ranges[order.symbol]
            # The price range since the last tick reached the order: it may have filled.
            if (order.side == "buy" and low <= order.price) or (order.side == "sell" and high >= order.price):
                return True
        return False

    async def _ask_strategy(self, prices, now):
        ctx = base.Context(
            now=now, symbols=tuple(self.bot.symbols), prices=prices, markets=self.markets,
            open_orders=tuple(base.OpenOrder(o.tag, o.symbol, o.side, o.type, o.amount, o.price, o.filled)
                              for o in self.open_orders()),
            fills=tuple(self.new_fills),
            positions={s: base.Position(s, b.amount, b.average_price, b.realized_pnl, b.unrealized(prices[s]))
                       for s, b in self.books.items() if s in prices},
            memory=dict(self.bot.memory), started=self.started, config_changed=self.config_changed,
        )
        try:
            intents = self.strategy.on_tick(ctx)
        except Exception as problem:  # noqa: BLE001 - a failing strategy stops only its bot
            logger.exception("strategy of bot %s failed", self.bot_id)
            await self.run(actions.do_fail_bot, self.runner.tenant(self.tenant_id), self.bot,
                                          reason=f"The strategy failed: {problem}")
            self.gone = True
            return None
        self.new_fills = []
        if self.started or self.config_changed:
            self.started = self.config_changed = False
            self.bot.applied_revision = self.bot.revision
            await self.run(store.save_runtime, self.schema, self.bot_id, applied_revision=self.bot.revision)
        return intents

    # --- reconciling ------------------------------------------------------------------------

    async def reconcile(self, now: float) -> None:
        """Bring the bot's open and pending orders in line with the exchange."""
        mine = self.open_orders()
        for symbol in {o.symbol for o in mine}:
            ours = [o for o in mine if o.symbol == symbol]
            reported = {o.get("clientOrderId"): o for o in
                        await self.adapter.fetch_orders([o.client_order_id for o in ours], symbol)}
            for order in ours:
                data = reported.get(order.client_order_id)
                if data is not None:
                    await self._settle(order, data)
                elif order.status == Order.Status.OPEN:
                    # An open order the exchange no longer knows: gone (expired, cancelled by hand).
                    await self._settle(order, {"status": "canceled", "filled": order.filled})
                else:
                    await self._fail_if_never_sent(order, now)
        self.last_reconcile = now
        self.reconcile_every = RECONCILE_EVERY["paper" if self.paper else "live"] * random.uniform(0.8, 1.2)
        if self.bot.needs_reconcile:
            self.bot.needs_reconcile = False
            await self.run(store.save_runtime, self.schema, self.bot_id, needs_reconcile=False, reconciled_at=now)

    async def _fail_if_never_sent(self, order: Order, now: float) -> None:
        """A pending order the exchange does not know: failed once past its grace."""
        attempt_ended = self.attempted.get(order.pk)
        unknown_since = attempt_ended if attempt_ended is not None else order.created_at.timestamp()
        if now - unknown_since > (OWN_ATTEMPT_GRACE if attempt_ended is not None else PENDING_GRACE):
            await self._fail(order, "The exchange never received this order.")
            self.attempted.pop(order.pk, None)

    async def _fetch(self, order: Order) -> dict:
        try:
            if order.exchange_order_id:
                return await self.adapter.fetch_order(order.exchange_order_id, order.symbol)
            return await self.adapter.fetch_order_by_client_id(order.client_order_id, order.symbol)
        except errors.OrderNotFound:
            return {"status": "canceled", "filled": order.filled}

    async def _settle(self, order: Order, data: dict) -> None:
        if self._unchanged(order, data):
            return
        updated, fills = await self.run(store.settle, self.schema, order.pk, data, execution.quote_of(self.markets, order.symbol))
        self._absorb(updated, fills)

    @staticmethod
    def _unchanged(order: Order, data: dict) -> bool:
        """The exchange reports what we have already: nothing to write."""
        status = store.STATUS.get(str(data.get("status") or "").lower())
        filled = data.get("filled")
        return (order.status == status and filled is not None and Decimal(str(filled)) == order.filled
                and (not data.get("id") or str(data["id"]) == order.exchange_order_id))

    def _absorb(self, order: Order, fills) -> None:
        """Take in an order as now stored, and its new fills."""
        self.orders[order.pk] = order
        self._forget_finished()
        for fill in fills:
            book = self.books.get(fill.symbol, Book())
            self.books[fill.symbol], _realized = apply_fill(book, fill.side, fill.amount, fill.price, fill.fee)
            self.realized_today += fill.realized_pnl
            self.new_fills.append(base.Fill(order.tag, fill.symbol, fill.side, fill.price, fill.amount, fill.fee,
                                            fill.timestamp.timestamp()))
            self.runner.changed(self, event=True)

    def _forget_finished(self) -> None:
        for pk in [pk for pk, o in self.orders.items() if o.status not in (Order.Status.PENDING, Order.Status.OPEN)]:
            del self.orders[pk]

    async def _fail(self, order: Order, reason: str) -> None:
        await self.run(store.fail, self.schema, order.pk, reason)
        self.orders.pop(order.pk, None)

    # --- executing intents -------------------------------------------------------------------

    async def execute(self, intents, prices, now) -> None:
        """Carry out the intents. After the first exchange error no more orders are placed
        or cancelled this tick, but memory, notes and records are always kept: the strategy
        has already seen this tick's fills, and its memory must not lose them."""
        memory = {}
        failure = None
        for intent in intents:
            if isinstance(intent, (base.Place, base.Cancel)):
                if failure is not None:
                    continue
                try:
                    if isinstance(intent, base.Place):
                        await self._place(intent, prices)
                    else:
                        for order in [o for o in self.open_orders() if o.tag == intent.tag]:
                            await self._cancel(order)
                except errors.ExchangeError as error:
                    failure = error
            elif isinstance(intent, base.Remember):
                memory.update(intent.values)
            elif isinstance(intent, base.Note):
                self.events.append((BotEvent.Kind.NOTE, intent.message, intent.alert, intent.data))
            elif isinstance(intent, base.Record):
                self.points.append((self.bot_id, intent.series, now, intent.value))
            elif isinstance(intent, base.Stop) and failure is None:
                await self.run(actions.do_stop_bot, self.runner.tenant(self.tenant_id), self.bot, actor=None,
                                              reason=intent.reason)
                self.bot.state = Bot.State.STOPPING
                break
        if memory:
            self.bot.memory = {**self.bot.memory, **memory}
            await self.run(store.save_runtime, self.schema, self.bot_id, memory=self.bot.memory)
        if self.events:
            events, self.events = self.events, []
            await self.run(store.add_events, self.schema, self.bot_id, events)
        if failure is not None:
            raise failure

    async def _place(self, intent: base.Place, prices) -> None:
        placed = await execution.place(
            self.adapter, intent, schema=self.schema, tenant_id=self.tenant_id, bot=self.bot,
            lease=self.runner.lease(self.shard), books=self.books, open_orders=self.open_orders(),
            markets=self.markets, prices=prices, run=self.run,
        )
        self.events += placed.events
        if placed.order is not None:
            self._absorb(placed.order, placed.fills)
            if placed.order.status == Order.Status.PENDING:
                self.attempted[placed.order.pk] = time.time()
            self.runner.changed(self, event=True)
        if placed.error is not None:
            raise placed.error

    async def _cancel(self, order: Order) -> None:
        if order.status == Order.Status.PENDING:
            return  # its fate is settled first, by the next reconcile
        try:
            data = await self.adapter.cancel_order(order.exchange_order_id, order.symbol)
        except errors.OrderNotFound:
            data = await self._fetch(order)
        await self._settle(order, data)
        self.events.append((BotEvent.Kind.ORDER_CANCELLED, f"Cancelled {order.tag}.", False,
                            {"order": order.client_order_id}))

    # --- stopping, risk and failures ---------------------------------------------------------------

    async def _finish_stopping(self) -> None:
        for order in self.open_orders():
            await self._cancel(order)
        if self.events:
            events, self.events = self.events, []
            await self.run(store.add_events, self.schema, self.bot_id, events)
        if not self.open_orders():
            await self.run(actions.do_finish_stop, self.runner.tenant(self.tenant_id), self.bot)
            self.gone = True

    async def _risk_stop(self, verdict: risk.Verdict, prices) -> None:
        for order in self.open_orders():
            await self._cancel(order)
        if verdict.close_positions:
            for symbol, book in self.books.items():
                if book.amount:
                    perpetual = bool(self.markets.get(symbol, {}).get("swap"))
                    await self._place(base.Place("risk:close", symbol, "sell" if book.amount > 0 else "buy", "market",
                                                 abs(book.amount), reduce_only=perpetual), prices)
        await self.run(actions.do_pause_bot, self.runner.tenant(self.tenant_id), self.bot, actor=None,
                                       reason=verdict.reason, alert=True)
        self.bot.state = Bot.State.PAUSED

    async def _failed(self, failure: errors.ExchangeError, now: float) -> None:
        bot = self.bot
        bot.consecutive_failures += 1
        if failure.retryable:
            bot.backoff_until = now + min(settings.ENGINE_MAX_BACKOFF_SECONDS, 2 ** min(bot.consecutive_failures, 6))
            bot.needs_reconcile = True
        self.events.append((BotEvent.Kind.ERROR, f"Exchange error ({bot.consecutive_failures} in a row): {failure}",
                            False, {}))
        await self.run(store.add_events, self.schema, self.bot_id, self.events)
        self.events = []
        await self.run(store.save_runtime, self.schema, self.bot_id, consecutive_failures=bot.consecutive_failures,
                                     backoff_until=bot.backoff_until, needs_reconcile=bot.needs_reconcile)
        limit = risk.circuit_breaker(bot.risk)
        if bot.consecutive_failures >= limit and bot.state == Bot.State.RUNNING:
            reason = f"Circuit breaker: {bot.consecutive_failures} consecutive failures. Last: {failure}"
            await self.run(actions.do_pause_bot, self.runner.tenant(self.tenant_id), bot, actor=None, reason=reason,
                                           alert=True)
            bot.state = Bot.State.PAUSED
        self.runner.changed(self, event=True)

    async def _record_series(self, prices, now) -> None:
        if now - self.last_series < SERIES_EVERY:
            return
        self.last_series = now
        equity = sum((book.total_pnl(prices[s]) for s, book in self.books.items() if s in prices), ZERO)
        self.points.append((self.bot_id, "equity", now, equity.quantize(Decimal("1e-8"))))

    def status(self) -> dict:
        return live.status_from(self.bot, self.books, len(self.open_orders()))

