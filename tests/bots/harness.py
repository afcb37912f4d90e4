"""Run a strategy over a hand-written price path, the way the engine runs it.

Each tick: resting limit orders that the move from the previous price to this one
crosses fill at their limit price as maker; the strategy sees those fills, open orders,
positions and memory; its intents are executed at once: market orders (and marketable
limits) fill at this tick's price as taker and reach the strategy with the next tick.
Amounts and prices are rounded to the market's precision, fees come from the market,
the bot's book is kept with bots.accounting: everything Decimal, so tests can state
hand-checked orders and PnL.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from bots.accounting import Book, apply_fill
from bots.strategies.base import Cancel, Context, Fill, Note, OpenOrder, Place, Position, Record, Remember, Stop
from exchanges import markets as catalog


@dataclass
class SimOrder:
    tag: str
    symbol: str
    side: str
    type: str
    amount: Decimal
    price: Decimal | None
    reduce_only: bool
    placed_at: float
    status: str = "open"


@dataclass
class Simulation:
    strategy: object
    symbols: tuple[str, ...]
    quote_balance: Decimal = Decimal("10000")
    orders: list[SimOrder] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    series: list[tuple[float, str, Decimal]] = field(default_factory=list)
    memory: dict = field(default_factory=dict)
    books: dict[str, Book] = field(default_factory=dict)
    stopped: str | None = None
    ticks: int = 0
    last_prices: dict[str, Decimal] = field(default_factory=dict)
    # The exchange refuses orders this returns True for (insufficient funds and the like).
    refuse: object = None

    def __post_init__(self):
        self.markets = {symbol: catalog.market(symbol) for symbol in self.symbols}
        self._pending_fills: list[Fill] = []

    # --- running ---------------------------------------------------------------------------

    def run(self, ticks, *, signals=None, config_changed_at=None) -> "Simulation":
        """`ticks`: [(t, {symbol: price})] or, for one symbol, [(t, price)]."""
        signals = signals or {}
        for t, prices in ticks:
            if not isinstance(prices, dict):
                prices = {self.symbols[0]: Decimal(str(prices))}
            prices = {symbol: Decimal(str(price)) for symbol, price in prices.items()}
            self.tick(t, prices, signal=signals.get(t), config_changed=(t == config_changed_at))
            if self.stopped:
                break
        return self

    def tick(self, t, prices, *, signal=None, config_changed=False):
        self._match_resting(t, prices)
        ctx = Context(
            now=t,
            symbols=self.symbols,
            prices=prices,
            markets=self.markets,
            open_orders=tuple(
                OpenOrder(o.tag, o.symbol, o.side, o.type, o.amount, o.price, Decimal(0))
                for o in self.orders if o.status == "open"
            ),
            fills=tuple(self._pending_fills),
            positions={symbol: self.position(symbol, prices[symbol]) for symbol in self.symbols},
            free_quote=self.quote_balance,
            memory=dict(self.memory),
            started=self.ticks == 0,
            config_changed=config_changed,
            signal=signal,
        )
        self._pending_fills = []
        self.ticks += 1
        for intent in self.strategy.on_tick(ctx):
            self._execute(intent, t, prices)
        self.last_prices = prices

    # --- views -------------------------------------------------------------------------------

    def position(self, symbol, price=None) -> Position:
        book = self.books.get(symbol, Book())
        price = price if price is not None else self.last_prices.get(symbol, Decimal(0))
        return Position(symbol, book.amount, book.average_price, book.realized_pnl, book.unrealized(price))

    def realized_pnl(self) -> Decimal:
        return sum((book.realized_pnl for book in self.books.values()), Decimal(0))

    def open_orders(self):
        return [o for o in self.orders if o.status == "open"]

    def placed(self):
        """(tag, side, type, amount, price) of every order placed, in order."""
        return [(o.tag, o.side, o.type, o.amount, o.price) for o in self.orders]

    # --- the little exchange ---------------------------------------------------------------

    def _execute(self, intent, t, prices):
        if isinstance(intent, Place):
            if any(o.tag == intent.tag and o.status == "open" for o in self.orders):
                return
            market = self.markets[intent.symbol]
            amount = catalog.amount_to_precision(intent.symbol, intent.amount)
            price = catalog.price_to_precision(intent.symbol, intent.price) if intent.price is not None else None
            if amount < market["limits"]["amount"]["min"]:
                self.notes.append(Note(f"skipped {intent.tag}: amount below minimum"))
                return
            order = SimOrder(intent.tag, intent.symbol, intent.side, intent.type, amount, price, intent.reduce_only, t)
            self.orders.append(order)
            if self.refuse and self.refuse(intent):
                order.status = "failed"
                return
            current = prices[intent.symbol]
            marketable = intent.type == "market" or (price >= current if intent.side == "buy" else price <= current)
            if marketable:
                self._fill(order, current, t, taker=True)
        elif isinstance(intent, Cancel):
            for order in self.orders:
                if order.tag == intent.tag and order.status == "open":
                    order.status = "canceled"
        elif isinstance(intent, Remember):
            self.memory.update(intent.values)
        elif isinstance(intent, Note):
            self.notes.append(intent)
        elif isinstance(intent, Record):
            self.series.append((t, intent.series, intent.value))
        elif isinstance(intent, Stop):
            self.stopped = intent.reason
            for order in self.orders:
                if order.status == "open":
                    order.status = "canceled"

    def _match_resting(self, t, prices):
        for order in sorted(self.open_orders(), key=lambda o: o.placed_at):
            if order.type != "limit" or order.symbol not in self.last_prices:
                continue
            previous, current = self.last_prices[order.symbol], prices[order.symbol]
            low, high = min(previous, current), max(previous, current)
            if (order.side == "buy" and low <= order.price) or (order.side == "sell" and high >= order.price):
                self._fill(order, order.price, t, taker=False)

    def _fill(self, order, price, t, *, taker):
        market = self.markets[order.symbol]
        fee = (order.amount * price * (market["taker"] if taker else market["maker"])).quantize(Decimal("1e-12"))
        order.status = "closed"
        book, _realized = apply_fill(self.books.get(order.symbol, Book()), order.side, order.amount, price, fee)
        self.books[order.symbol] = book
        cost = order.amount * price
        self.quote_balance += -cost - fee if order.side == "buy" else cost - fee
        fill = Fill(order.tag, order.symbol, order.side, price, order.amount, fee, t)
        self.fills.append(fill)
        self._pending_fills.append(fill)
