"""The contract of a strategy plugin.

A strategy is one file in bots/strategies/ with one Strategy subclass, registered by
its `key`. It declares its parameters as a Django form (`Params`): the form validates
them with messages a person can act on, and the bot wizard renders it. `on_tick(ctx)`
is pure and deterministic: from the context alone (prices, the bot's own open orders,
the fills since the last tick, positions, the strategy's memory) it returns intents.
The engine executes them (rounding to the market's precision, applying the risk
controls, placing and cancelling orders with deterministic client order ids); the
strategy never talks to an exchange, a database or a clock.
"""

from dataclasses import dataclass, field
from decimal import Decimal
from typing import ClassVar

from django import forms
from django.utils.translation import gettext as _

# --- intents -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    """Place an order. `tag` is the strategy's own name for it ("grid:buy:3"); while an
    order with that tag is open, placing the same tag again is ignored."""

    tag: str
    symbol: str
    side: str  # "buy" | "sell"
    type: str  # "limit" | "market"
    amount: Decimal
    price: Decimal | None = None
    reduce_only: bool = False


@dataclass(frozen=True)
class Cancel:
    tag: str


@dataclass(frozen=True)
class Remember:
    """Merge values into the strategy's memory (JSON: str, int, bool, None, lists, dicts;
    Decimals are stored as strings)."""

    values: dict


@dataclass(frozen=True)
class Note:
    """A line for the bot's event log; `alert` makes it alert-worthy."""

    message: str
    alert: bool = False
    data: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Stop:
    """The strategy is done (e.g. the price left a grid's range): cancel and stop."""

    reason: str


@dataclass(frozen=True)
class Record:
    """A point on one of the bot's chart series (the pair strategy's spread)."""

    series: str
    value: Decimal


Intent = Place | Cancel | Remember | Note | Stop | Record

# --- what a strategy sees ------------------------------------------------------------------


@dataclass(frozen=True)
class OpenOrder:
    tag: str
    symbol: str
    side: str
    type: str
    amount: Decimal
    price: Decimal | None
    filled: Decimal


@dataclass(frozen=True)
class Fill:
    tag: str
    symbol: str
    side: str
    price: Decimal
    amount: Decimal
    fee: Decimal
    timestamp: float


@dataclass(frozen=True)
class Position:
    symbol: str
    amount: Decimal  # signed: > 0 long, < 0 short
    average_price: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal

    @property
    def cost(self) -> Decimal:
        return abs(self.amount) * self.average_price


@dataclass(frozen=True)
class Signal:
    """A webhook signal that reached a signal bot (bots/webhooks.py)."""

    action: str  # open_long, close_long, open_short, close_short, reverse_long, reverse_short, ...
    strength: str  # strong / medium / weak / ignore
    amount: Decimal | None
    percent_of_balance: Decimal | None
    price: Decimal | None
    signal_id: str


@dataclass(frozen=True)
class Context:
    now: float
    symbols: tuple[str, ...]
    prices: dict[str, Decimal]
    markets: dict[str, dict]
    open_orders: tuple[OpenOrder, ...] = ()
    fills: tuple[Fill, ...] = ()
    positions: dict[str, Position] = field(default_factory=dict)
    free_quote: Decimal = Decimal("0")
    memory: dict = field(default_factory=dict)
    started: bool = False  # first tick after a start or resume
    config_changed: bool = False
    signal: Signal | None = None

    def open_tags(self) -> set[str]:
        return {order.tag for order in self.open_orders}

    def position(self, symbol: str) -> Position:
        return self.positions.get(symbol) or Position(symbol, Decimal(0), Decimal(0), Decimal(0), Decimal(0))


# --- the plugin ---------------------------------------------------------------------------


class Strategy:
    key: ClassVar[str]
    name: ClassVar[str]
    description: ClassVar[str] = ""
    # How many symbols the bot trades (the pair strategy: two).
    symbol_count: ClassVar[int] = 1
    Params: ClassVar[type[forms.Form]]
    # Templates show the class's name and key; they must not try to instantiate it.
    do_not_call_in_templates: ClassVar[bool] = True

    def __init__(self, params: dict):
        """`params` as stored: the cleaned form data serialised to JSON."""
        self.params = self.parse(params)

    @classmethod
    def form(cls, data=None, *, markets: dict[str, dict] | None = None, initial=None) -> forms.Form:
        """The parameter form; `markets` (symbol -> market) lets it check exchange minimums."""
        return cls.Params(data, initial=initial, markets=markets or {})

    @classmethod
    def parse(cls, stored: dict) -> dict:
        """Stored JSON back to typed values (Decimals), through the form's fields."""
        typed = {}
        for name, form_field in cls.Params.base_fields.items():
            if name not in stored:
                continue
            value = stored[name]
            typed[name] = form_field.to_python(value) if value is not None else None
        return typed

    @staticmethod
    def serialise(cleaned: dict) -> dict:
        return {name: (str(value) if isinstance(value, Decimal) else value) for name, value in cleaned.items()}

    def on_tick(self, ctx: Context) -> list[Intent]:
        raise NotImplementedError


class ParamsForm(forms.Form):
    """Base of strategy parameter forms: knows the markets for minimum checks."""

    def __init__(self, *args, markets=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.markets = markets or {}

    def check_minimums(self, symbol: str, amount: Decimal, price: Decimal, field_name: str) -> None:
        market = self.markets.get(symbol)
        if not market or amount is None or price is None:
            return
        limits = market.get("limits", {})
        min_amount = (limits.get("amount") or {}).get("min")
        min_cost = (limits.get("cost") or {}).get("min")
        if min_amount is not None and amount < Decimal(str(min_amount)):
            self.add_error(field_name, _("At least %(amount)s %(base)s per order on %(symbol)s.") % {
                "amount": f"{Decimal(str(min_amount)).normalize():f}", "base": market.get("base", ""), "symbol": symbol})
        elif min_cost is not None and amount * price < Decimal(str(min_cost)):
            self.add_error(field_name, _(
                "Orders on %(symbol)s must be worth at least %(cost)s %(quote)s; this one is worth %(worth)s at %(price)s."
            ) % {"symbol": symbol, "cost": f"{Decimal(str(min_cost)).normalize():f}", "quote": market.get("quote", ""),
                 "worth": f"{(amount * price).normalize():f}", "price": f"{price.normalize():f}"})
