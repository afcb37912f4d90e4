"""The books of the paper exchange: orders, fills, balances and perpetual positions of
one paper account, kept in the workspace's schema.

Matching is lazy and exact: every call first walks the price path from where each
open limit order was last matched up to now, and fills the order at its limit price,
as maker, at the first moment the path crosses it. Fills are applied in time order, so
the books come out the same whenever, and by whichever process, they are looked at.
Marketable orders fill at once, as taker, at the current price.

Spot fees are charged in the quote currency on both sides. Perpetuals are linear and
USDT-margined, one isolated position per symbol: opening needs margin (notional /
leverage) plus the fee from the free balance; reducing releases margin pro rata and
realises PnL. There is no liquidation: losses beyond the margin come out of the free
balance.

All money is Decimal, quantised to the 12 places the database keeps.
"""

import time
from datetime import UTC, datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Q

from exchanges import markets
from exchanges.errors import DuplicateOrder, InsufficientFunds, InvalidOrder, OrderNotFound
from exchanges.models import PaperAccount, PaperBalance, PaperOrder, PaperPosition, PaperTrade
from tenants import rows

PLACES = Decimal("1e-12")
# Calls closer together than this share one match: fills are still timed exactly, only
# noticed up to this much later, and an account traded by many bots is not re-matched
# for each of them.
MATCH_GRANULARITY = 0.1
ZERO = Decimal("0")
QUOTE = markets.QUOTE


def q(value: Decimal) -> Decimal:
    return Decimal(value).quantize(PLACES)


def ms(ts: float) -> int:
    return int(ts * 1000)


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def open_account(connection, now: float) -> PaperAccount:
    """A fresh paper account with the connection's starting balance in USDT."""
    account = PaperAccount.objects.create(connection=connection, epoch=now)
    PaperBalance.objects.create(account=account, asset=QUOTE, free=q(connection.starting_balance))
    return account


class _Book:
    """Balances and positions of one account, loaded once per operation and written
    back at the end."""

    def __init__(self, account: PaperAccount, balances: list[PaperBalance], positions: list[PaperPosition]):
        self.account = account
        self.balances = {b.asset: b for b in balances}
        self.positions = {p.symbol: p for p in positions}
        self.dirty: dict[tuple[str, str], object] = {}
        # The operation's other writes (orders, trades, the account) go out with the
        # balances and positions, in one round trip.
        self.writes = rows.Batch()
        self.new_order_id: int | None = None  # taken by _open for an order to be created

    def balance(self, asset: str) -> PaperBalance:
        if asset not in self.balances:
            self.balances[asset] = PaperBalance(account=self.account, asset=asset)
        self.dirty[("balance", asset)] = self.balances[asset]
        return self.balances[asset]

    def position(self, symbol: str) -> PaperPosition:
        if symbol not in self.positions:
            self.positions[symbol] = PaperPosition(account=self.account, symbol=symbol)
        self.dirty[("position", symbol)] = self.positions[symbol]
        return self.positions[symbol]

    def reserve(self, asset: str, amount: Decimal) -> None:
        """Move `amount` from free to used (an open order holds it)."""
        self.spend(asset, amount)
        balance = self.balance(asset)
        balance.used = q(balance.used + amount)

    def release(self, asset: str, amount: Decimal) -> None:
        balance = self.balance(asset)
        balance.used = q(balance.used - amount)
        balance.free = q(balance.free + amount)

    def spend(self, asset: str, amount: Decimal) -> None:
        balance = self.balance(asset)
        if balance.free < amount:
            raise InsufficientFunds(
                f"Insufficient {asset}: {amount.normalize():f} needed, {balance.free.normalize():f} free."
            )
        balance.free = q(balance.free - amount)

    def credit(self, asset: str, amount: Decimal) -> None:
        balance = self.balance(asset)
        balance.free = q(balance.free + amount)

    def save(self, *, commit: bool = False) -> None:
        """Write what changed; with `commit`, as the operation's last work (rows.Batch.run)."""
        for row in self.dirty.values():
            self.writes.save(row)
        self.writes.run(commit=commit)


class PaperLedger:
    def __init__(self, account_id: int | None, feed, clock=time.time, *, connection_id: int | None = None):
        """The ledger of one account, named by its id, or by its connection's until the
        first operation has read it."""
        self.account_id = account_id
        self.connection_id = connection_id
        self.feed = feed
        self.clock = clock

    # --- orders --------------------------------------------------------------------

    def create_order(self, symbol, type, side, amount, price=None, params=None) -> dict:
        params = params or {}
        with rows.atomic():
            account, book, now = self._open(new_order=True)
            market = self._market(symbol)
            if side not in ("buy", "sell"):
                raise InvalidOrder(f"Unknown side {side!r}.")
            if type not in ("market", "limit"):
                raise InvalidOrder(f"The paper exchange takes market and limit orders, not {type!r}.")
            amount = markets.amount_to_precision(symbol, Decimal(amount))
            if amount < market["limits"]["amount"]["min"]:
                raise InvalidOrder(f"Amount is below the minimum of {market['limits']['amount']['min']} for {symbol}.")
            current = self.feed.price(symbol, now)
            if type == "limit":
                if price is None or Decimal(price) <= 0:
                    raise InvalidOrder("A limit order needs a positive price.")
                price = markets.price_to_precision(symbol, Decimal(price))
            reference = price if type == "limit" else current
            if amount * reference < market["limits"]["cost"]["min"]:
                raise InvalidOrder(f"Order value is below the minimum of {market['limits']['cost']['min']} {QUOTE}.")

            client_order_id = str(params.get("clientOrderId") or f"paper-{account.next_order_id}")
            held = book.positions.get(symbol)
            # An open position keeps the leverage it was opened with.
            leverage = held.leverage if held and held.contracts else Decimal(str(params.get("leverage") or 1))
            if market["swap"] and not 1 <= leverage <= market["limits"]["leverage"]["max"]:
                raise InvalidOrder(f"Leverage must be between 1 and {market['limits']['leverage']['max']}.")
            reduce_only = bool(params.get("reduceOnly"))
            if reduce_only and not market["swap"]:
                raise InvalidOrder("Reduce-only applies to perpetual positions.")

            order = PaperOrder(
                id=book.new_order_id, account=account,
                exchange_order_id=str(account.next_order_id),
                client_order_id=client_order_id,
                symbol=symbol, side=side, type=type, price=price, amount=amount,
                reduce_only=reduce_only, leverage=leverage if market["swap"] else None,
                created_ts=now, updated_ts=now,
            )
            account.next_order_id += 1
            book.writes.update(account, ["next_order_id"])
            if reduce_only:
                self._check_reduces(book, order)
            marketable = type == "market" or (price >= current if side == "buy" else price <= current)
            fill = self._fill(book, order, current, now, taker=True) if marketable else None
            if not marketable:
                self._reserve(book, order, market)
            book.writes.insert(order)
            if fill:
                self._record_trade(book, order, fill, now)
            try:
                book.save(commit=True)
            except IntegrityError as error:
                constraint = getattr(getattr(error.__cause__, "diag", None), "constraint_name", None)
                if constraint == "paper_client_order_id_unique":
                    raise DuplicateOrder(f"An order with client order id {client_order_id} exists already.") from None
                raise
            return self._order_dict(order)

    def cancel_order(self, id=None, client_order_id=None) -> dict:
        with transaction.atomic():
            account, book, now = self._open()
            order = self._find(account, id, client_order_id)
            if order.status != PaperOrder.Status.OPEN:
                raise OrderNotFound(f"Order {order.exchange_order_id} is {order.status}, not open.")
            self._release(book, order)
            order.status = PaperOrder.Status.CANCELED
            order.updated_ts = now
            book.writes.update(order)
            book.save()
            return self._order_dict(order)

    def fetch_order(self, id=None, client_order_id=None) -> dict:
        with transaction.atomic():
            account, book, _now = self._open()
            book.save()
            return self._order_dict(self._find(account, id, client_order_id))

    def fetch_orders(self, client_order_ids, symbol=None) -> list[dict]:
        with transaction.atomic():
            account, book, _now = self._open()
            book.save()
            return [self._order_dict(order) for order in account.orders.filter(client_order_id__in=client_order_ids)]

    def fetch_open_orders(self, symbol=None) -> list[dict]:
        with transaction.atomic():
            account, book, _now = self._open()
            book.save()
            orders = account.orders.filter(status=PaperOrder.Status.OPEN)
            if symbol:
                orders = orders.filter(symbol=symbol)
            return [self._order_dict(order) for order in orders]

    def fetch_my_trades(self, symbol=None, since=None, limit=None) -> list[dict]:
        with transaction.atomic():
            account, book, _now = self._open()
            book.save()
            trades = account.trades.select_related("order")
            if symbol:
                trades = trades.filter(symbol=symbol)
            if since is not None:
                trades = trades.filter(timestamp__gte=since / 1000)
            trades = list(trades)
            return [self._trade_dict(trade) for trade in (trades[-limit:] if limit else trades)]

    # --- balances and positions ---------------------------------------------------

    def fetch_balance(self) -> dict:
        with transaction.atomic():
            _account, book, _now = self._open()
            book.save()
            return {
                asset: {"free": b.free, "used": b.used, "total": b.total}
                for asset, b in sorted(book.balances.items())
                if b.total or asset == QUOTE
            }

    def fetch_positions(self, symbols=None) -> list[dict]:
        with transaction.atomic():
            _account, book, now = self._open()
            book.save()
            return [
                self._position_dict(position, now)
                for symbol, position in sorted(book.positions.items())
                if position.contracts and (not symbols or symbol in symbols)
            ]

    # --- internals -----------------------------------------------------------------

    def _open(self, *, new_order: bool = False):
        """Lock the account (one operation at a time per account), read its books and
        catch up with the price path; with `new_order`, take an id for an order."""
        reads = rows.Batch()
        if self.account_id is None:
            accounts = reads.select(PaperAccount, "connection_id = %s", [self.connection_id], for_update=True)
            of_account, key = "account_id = (SELECT id FROM exchanges_paperaccount WHERE connection_id = %s)", \
                self.connection_id
        else:
            accounts = reads.select(PaperAccount, "id = %s", [self.account_id], for_update=True)
            of_account, key = "account_id = %s", self.account_id
        balances = reads.select(PaperBalance, of_account, [key])
        positions = reads.select(PaperPosition, of_account, [key])
        open_limit_symbols = reads.fetch(
            "SELECT symbol, min(created_ts) FROM exchanges_paperorder "
            f"WHERE {of_account} AND status = 'open' AND type = 'limit' GROUP BY symbol", [key])
        new_ids = reads.fetch("SELECT nextval(pg_get_serial_sequence('exchanges_paperorder', 'id'))") if new_order else []
        reads.run()
        account = rows.one(PaperAccount, accounts)
        self.account_id = account.pk
        book = _Book(account, balances, positions)
        book.new_order_id = new_ids[0][0] if new_ids else None
        now = self.clock()
        self._match(account, book, now, open_limit_symbols)
        return account, book, now

    @staticmethod
    def _market(symbol):
        try:
            return markets.market(symbol)
        except markets.UnknownMarket:
            raise InvalidOrder(f"The paper exchange has no market {symbol}.") from None

    @staticmethod
    def _find(account, id, client_order_id) -> PaperOrder:
        orders = account.orders.all()
        order = orders.filter(exchange_order_id=str(id)).first() if id else None
        if order is None and client_order_id:
            order = orders.filter(client_order_id=client_order_id).first()
        if order is None:
            raise OrderNotFound(f"No order {id or client_order_id}.")
        return order

    def _match(self, account, book, now: float, first_created_by_symbol: list[tuple[str, float]]) -> None:
        """Walk the path from the account's last match (or an order's creation, if later)
        to now; one watermark per account, so a match writes one row, not one per order.
        `first_created_by_symbol`: the open limit orders' symbols, with the oldest one's
        creation time."""
        if now - account.matched_until < MATCH_GRANULARITY:
            return
        if not first_created_by_symbol:
            # Nothing to match. The watermark may stay behind: a later order's match
            # starts at its own creation anyway.
            return
        open_limits = account.orders.filter(status=PaperOrder.Status.OPEN, type="limit")
        # The range of the path since the last match tells which orders it may have
        # reached: only those are loaded and searched exactly.
        reachable = Q(pk__in=[])
        for symbol, first_created in first_created_by_symbol:
            since = max(account.matched_until, first_created)
            if since >= now:
                continue
            low, high = self.feed.extremes(symbol, since, now)
            tick = markets.market(symbol)["precision"]["price"]
            reachable |= Q(symbol=symbol, side="buy", price__gte=low - tick) | Q(symbol=symbol, side="sell",
                                                                                price__lte=high + tick)
        crossings = []
        for order in open_limits.filter(reachable):
            start = max(account.matched_until, order.created_ts)
            at = self.feed.first_cross(order.symbol, start, now, order.price, down=order.side == "buy")
            if at is not None:
                crossings.append((at, order.created_ts, order.pk, order))
        for at, _created, _pk, order in sorted(crossings, key=lambda c: c[:3]):
            self._release(book, order)
            try:
                fill = self._fill(book, order, order.price, at, taker=False)
            except InsufficientFunds:
                # A perpetual order whose margin (or position, for reduce-only) is no
                # longer there when the price reaches it.
                fill = None
                order.status = PaperOrder.Status.CANCELED
                order.updated_ts = at
            book.writes.update(order)
            if fill:
                self._record_trade(book, order, fill, at)
        account.matched_until = now
        book.writes.update(account, ["matched_until"])

    def _reserve(self, book: _Book, order: PaperOrder, market) -> None:
        fee_rate = max(market["maker"], market["taker"])
        notional = order.amount * order.price
        if market["swap"]:
            opening = self._opening_part(book, order)
            asset, amount = QUOTE, q(opening * order.price / order.leverage + notional * fee_rate)
        elif order.side == "buy":
            asset, amount = QUOTE, q(notional * (1 + fee_rate))
        else:
            asset, amount = market["base"], order.amount
        book.reserve(asset, amount)
        order.reserved, order.reserved_asset = amount, asset

    def _release(self, book: _Book, order: PaperOrder) -> None:
        if order.reserved:
            book.release(order.reserved_asset, order.reserved)
            order.reserved = ZERO

    def _opening_part(self, book: _Book, order: PaperOrder) -> Decimal:
        """How much of the order opens or increases a position (the rest reduces one)."""
        return max(order.amount - self._reducible(book, order), ZERO)

    def _check_reduces(self, book: _Book, order: PaperOrder) -> None:
        if self._opening_part(book, order) > 0:
            raise InvalidOrder("A reduce-only order may not open or increase a position.")

    def _fill(self, book: _Book, order: PaperOrder, price: Decimal, at: float, *, taker: bool) -> dict:
        """Fill the whole order at `price`. Checks every balance before touching any, so
        an InsufficientFunds leaves the book as it was."""
        market = markets.market(order.symbol)
        if market["swap"] and order.reduce_only:
            order.amount = min(order.amount, self._reducible(book, order))
            if not order.amount:
                raise InsufficientFunds("There is no position left for this reduce-only order to reduce.")
        notional = q(order.amount * price)
        fee = q(notional * (market["taker"] if taker else market["maker"]))
        realized = ZERO
        if market["swap"]:
            realized = self._fill_perpetual(book, order, price, at, fee)
        elif order.side == "buy":
            book.spend(QUOTE, notional + fee)
            book.credit(market["base"], order.amount)
        else:
            book.spend(market["base"], order.amount)
            book.credit(QUOTE, notional - fee)
        order.filled = order.amount
        order.average = price
        order.fee_cost = fee
        order.fee_currency = QUOTE
        order.status = PaperOrder.Status.CLOSED
        order.updated_ts = at
        return {"price": price, "cost": notional, "fee": fee, "taker": taker, "realized": realized}

    @staticmethod
    def _reducible(book: _Book, order: PaperOrder) -> Decimal:
        held = book.positions[order.symbol].contracts if order.symbol in book.positions else ZERO
        opposite = held and (held > 0) != (order.side == "buy")
        return abs(held) if opposite else ZERO

    def _fill_perpetual(self, book: _Book, order: PaperOrder, price: Decimal, at: float, fee: Decimal) -> Decimal:
        position = book.positions.get(order.symbol) or PaperPosition(account=book.account, symbol=order.symbol)
        held = position.contracts
        direction = Decimal(1) if order.side == "buy" else Decimal(-1)
        reducing = self._reducible(book, order) if held else ZERO
        reducing = min(reducing, order.amount)
        opening = order.amount - reducing

        realized = q(reducing * (price - position.entry_price) * (-direction)) if reducing else ZERO
        released = q(position.margin * reducing / abs(held)) if reducing else ZERO
        new_margin_needed = q(opening * price / order.leverage) if opening else ZERO
        free = book.balances[QUOTE].free if QUOTE in book.balances else ZERO
        if free + released + realized < new_margin_needed + fee:
            raise InsufficientFunds(
                f"Insufficient margin: {(new_margin_needed + fee).normalize():f} {QUOTE} needed, "
                f"{(free + released + realized).normalize():f} available."
            )

        book.credit(QUOTE, released + realized)
        book.spend(QUOTE, new_margin_needed + fee)
        position = book.position(order.symbol)
        remaining = held + direction * reducing
        if remaining == 0:
            position.entry_price, position.margin = ZERO, ZERO
        else:
            position.margin = q(position.margin - released)
        if opening:
            if remaining == 0:
                position.leverage = order.leverage
            position.entry_price = q((abs(remaining) * position.entry_price + opening * price) / (abs(remaining) + opening))
            position.margin = q(position.margin + new_margin_needed)
        position.contracts = remaining + direction * opening
        position.realized_pnl = q(position.realized_pnl + realized)
        position.updated_ts = at
        return realized

    @staticmethod
    def _record_trade(book: _Book, order: PaperOrder, fill: dict, at: float) -> None:
        book.writes.insert(PaperTrade(
            account_id=order.account_id, order=order, trade_id=f"{order.exchange_order_id}-1",
            symbol=order.symbol, side=order.side, price=fill["price"], amount=order.filled, cost=fill["cost"],
            fee_cost=fill["fee"], fee_currency=QUOTE, taker_or_maker="taker" if fill["taker"] else "maker",
            realized_pnl=fill["realized"], timestamp=at,
        ))

    # --- ccxt-shaped views ----------------------------------------------------------

    @staticmethod
    def _order_dict(order: PaperOrder) -> dict:
        cost = q(order.filled * order.average) if order.average is not None else ZERO
        return {
            "id": order.exchange_order_id,
            "clientOrderId": order.client_order_id,
            "timestamp": ms(order.created_ts),
            "datetime": iso(order.created_ts),
            "lastTradeTimestamp": ms(order.updated_ts) if order.filled else None,
            "symbol": order.symbol,
            "type": order.type,
            "side": order.side,
            "price": order.price if order.price is not None else order.average,
            "amount": order.amount,
            "filled": order.filled,
            "remaining": order.amount - order.filled,
            "cost": cost,
            "average": order.average,
            "status": order.status,
            "fee": {"cost": order.fee_cost, "currency": order.fee_currency},
            "reduceOnly": order.reduce_only,
            "info": {},
        }

    @staticmethod
    def _trade_dict(trade: PaperTrade) -> dict:
        return {
            "id": trade.trade_id,
            "order": trade.order.exchange_order_id,
            "clientOrderId": trade.order.client_order_id,
            "timestamp": ms(trade.timestamp),
            "datetime": iso(trade.timestamp),
            "symbol": trade.symbol,
            "side": trade.side,
            "price": trade.price,
            "amount": trade.amount,
            "cost": trade.cost,
            "fee": {"cost": trade.fee_cost, "currency": trade.fee_currency},
            "takerOrMaker": trade.taker_or_maker,
            "info": {"realizedPnl": trade.realized_pnl},
        }

    def _position_dict(self, position: PaperPosition, now: float) -> dict:
        mark = self.feed.price(position.symbol, now)
        size = abs(position.contracts)
        return {
            "symbol": position.symbol,
            "side": "long" if position.contracts > 0 else "short",
            "contracts": size,
            "contractSize": Decimal("1"),
            "entryPrice": position.entry_price,
            "markPrice": mark,
            "notional": q(size * mark),
            "leverage": position.leverage,
            "initialMargin": position.margin,
            "unrealizedPnl": q(position.contracts * (mark - position.entry_price)),
            "realizedPnl": position.realized_pnl,
            "marginMode": "isolated",
            "timestamp": ms(now),
        }
