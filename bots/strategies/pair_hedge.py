"""Pair spread hedge: short the leg that ran ahead, long the one that lagged, and wait for
the gap between them to close. For two perpetuals, e.g. BTC/USDT:USDT and ETH/USDT:USDT.

The spread, in percentage points, is how much more leg 1 has moved than leg 2 since the
bot's first tick: (p1 / p1_start - 1) * 100 - (p2 / p2_start - 1) * 100. It goes on the
bot's chart every tick.

The bot is flat while the spread stays inside the entry threshold. At +threshold it shorts
leg 1 and buys leg 2 at market, each leg worth the position value; at -threshold the
mirror. While the trade is open, each add level the spread reaches in the same direction
(k add steps beyond the spread at entry, k = 1 .. max adds) adds the position value times
that add's multiplier to both legs. Both legs close at market, reduce-only, on the take profit
(the spread came back from the spread at entry by so many points — "regression" — or the
unrealised profit of both legs reached so many percent of what they cost — "position")
or on the stop loss (the unrealised loss reached so many percent of that cost).

Choices where the brief left room:
- The spread is always measured from the start prices of the first tick, so its chart is
  one continuous series. After a close the bot re-arms only once the spread is back inside
  the entry threshold: it does not re-enter at once on the spread it has just left (after
  a stop loss, the very spread that hurt).
- The multipliers are one per add, or a single one used for every add (value * m each
  time, not compounded).
- Add levels count from the spread at entry, not from the threshold: an entry on a jump
  past the threshold does not add at once. Several levels reached in one tick give one
  add each.
- An add is cut down to the room left under the maximum position value per leg (counted in
  the legs' entry notionals); the same value goes to both legs so they stay balanced; an add
  with no room left is skipped with a note.
- The regression take profit counts from the spread at the first entry, not an average
  over the adds.
- Position-mode take profit and the stop loss compare the legs' unrealised PnL (fees apart)
  with the total invested, the entry notionals of both legs.
"""

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from bots.strategies.base import Context, Note, ParamsForm, Place, Record, Remember, Strategy
from bots.strategies.dca import (
    check_quote_order, meets_minimums, percent_field, quote_field, reference_price, to_step,
)

ZERO = Decimal(0)
HUNDRED = Decimal(100)
SPREAD_PLACES = Decimal("1e-6")
MAX_ADDS = 20

FLAT, OPEN, CLOSING = "flat", "open", "closing"


def parse_multipliers(text: str | None) -> list[Decimal]:
    """"1.5" or "1, 1.5, 2" as Decimals; empty means 1."""
    if not text or not text.strip():
        return [Decimal(1)]
    return [Decimal(part.strip()) for part in text.split(",")]


class PairHedgeParams(ParamsForm):
    entry_threshold = percent_field(_("Entry threshold (spread points)"), max_value=100, initial=Decimal(2),
                                    message=_("The entry threshold must be positive."))
    position_value = quote_field(_("Position value per leg (quote currency)"),
                                 help_text=_("What each leg is worth at the first entry."))
    add_step = percent_field(_("Add step (spread points)"), max_value=100, required=False,
                             message=_("The add step must be positive."),
                             help_text=_("Add k happens when the spread is k steps beyond the spread at entry."))
    max_adds = forms.IntegerField(label=_("Maximum adds"), min_value=0, max_value=MAX_ADDS, initial=0)
    add_multipliers = forms.CharField(
        label=_("Add multipliers"), required=False, initial="1", max_length=200,
        help_text=_("Each add is the position value times its multiplier: one for every add (1.5) or one per add "
                    "(1, 1.5, 2)."))
    max_position_value = quote_field(_("Maximum position value per leg (quote currency)"))
    take_profit_mode = forms.ChoiceField(label=_("Take profit"), initial="regression", choices=[
        ("regression", _("Spread regression (points back from the spread at entry)")),
        # "% o" is text here, not a format: tell xgettext.
        # xgettext:no-python-format
        ("position", _("Position profit (% of the value invested)")),
    ])
    take_profit = percent_field(_("Take profit value (points or %)"), max_value=100, initial=Decimal(1),
                                message=_("The take profit must be positive."))
    # xgettext:no-python-format
    stop_loss = percent_field(_("Stop loss (% of the value invested)"), max_value="99.99", required=False,
                              message=_("The stop loss must be positive, or left empty for none."))

    def clean_add_multipliers(self):
        text = self.cleaned_data.get("add_multipliers")
        try:
            multipliers = parse_multipliers(text)
        except InvalidOperation:
            raise ValidationError(_("Write the multipliers as numbers separated by commas, e.g. 1, 1.5, 2.")) from None
        if any(not m.is_finite() or m <= 0 for m in multipliers):
            raise ValidationError(_("Multipliers must be positive."))
        if any(m > 100 for m in multipliers):
            raise ValidationError(_("Multipliers can be at most 100."))
        return ", ".join(f"{m.normalize():f}" for m in multipliers)

    def clean(self):
        cleaned = super().clean()
        value, max_value = cleaned.get("position_value"), cleaned.get("max_position_value")
        adds = cleaned.get("max_adds")
        multipliers = parse_multipliers(cleaned["add_multipliers"]) if "add_multipliers" in cleaned else None

        if adds and cleaned.get("add_step") is None and "add_step" not in self.errors:
            self.add_error("add_step", _("Give the add step, or set the maximum adds to 0."))
        if adds and multipliers and len(multipliers) not in (1, adds):
            self.add_error("add_multipliers", _(
                "Give a single multiplier for all adds, or one for each of the %(count)s adds; these are %(given)s."
            ) % {"count": adds, "given": len(multipliers)})
        if value is not None and max_value is not None and max_value < value:
            self.add_error("max_position_value", _(
                "The maximum position value per leg must be at least the position value of the first entry."))

        if self.markets and len(self.markets) < 2:
            self.add_error(None, _("The two symbols must differ."))
        for symbol, market in self.markets.items():
            if not market.get("swap"):
                self.add_error(None, _("%(symbol)s is not a perpetual: the hedge needs to short either leg.")
                               % {"symbol": symbol})
                continue
            price = reference_price(market)
            check_quote_order(self, symbol, value, price, "position_value")
            if adds and multipliers and value is not None and "add_multipliers" not in self.errors:
                check_quote_order(self, symbol, value * min(multipliers), price, "add_multipliers")
        return cleaned


@dataclass
class Trade:
    """The current (or last) trade, as kept in memory."""

    number: int = 0
    phase: str = FLAT
    armed: bool = True  # a new entry may happen: the spread has been inside the threshold since the last close
    direction: int = 0  # +1: leg 1 short, leg 2 long; -1: the mirror
    opening_spread: Decimal = ZERO
    adds: int = 0  # add levels dealt with (placed, cut down or skipped)
    invested: list[Decimal] = field(default_factory=lambda: [ZERO, ZERO])  # entry notional of each leg, as placed
    pending: dict = field(default_factory=dict)  # tag -> [symbol, side, amount, reduce_only] of unfilled orders
    cash: Decimal = ZERO  # the trade's cash flow from its fills, fees included: its result once flat
    close_reason: str | None = None

    @classmethod
    def load(cls, stored: dict | None) -> "Trade":
        if not stored:
            return cls()
        return cls(
            number=stored["number"], phase=stored["phase"], armed=stored["armed"], direction=stored["direction"],
            opening_spread=Decimal(stored["opening_spread"]), adds=stored["adds"],
            invested=[Decimal(v) for v in stored["invested"]], pending=dict(stored["pending"]),
            cash=Decimal(stored["cash"]), close_reason=stored["close_reason"],
        )

    def dump(self) -> dict:
        return {
            "number": self.number, "phase": self.phase, "armed": self.armed, "direction": self.direction,
            "opening_spread": str(self.opening_spread), "adds": self.adds,
            "invested": [str(v) for v in self.invested], "pending": self.pending, "cash": str(self.cash),
            "close_reason": self.close_reason,
        }

    def tag(self, name: str) -> str:
        return f"pair:{self.number}:{name}"


class PairHedge(Strategy):
    key = "pair_hedge"
    name = _("Pair spread hedge")
    description = _("Shorts the perpetual that ran ahead of its pair and buys the one that lagged, "
                    "and closes both when the gap narrows.")
    symbol_count = 2
    Params = PairHedgeParams

    def on_tick(self, ctx: Context) -> list:
        symbols = ctx.symbols
        intents = []
        start = ctx.memory.get("start")
        if not start or set(start) != set(symbols):
            start = {symbol: str(ctx.prices[symbol]) for symbol in symbols}
            intents.append(Remember({"start": start}))
        spread = self.spread(ctx.prices, {symbol: Decimal(price) for symbol, price in start.items()}, symbols)
        intents.append(Record("spread", spread))

        stored = ctx.memory.get("trade")
        trade = Trade.load(stored)
        open_tags = ctx.open_tags()
        filled_now = set()
        for fill in ctx.fills:
            if fill.tag.startswith(trade.tag("")):
                filled_now.add(fill.tag)
                trade.pending.pop(fill.tag, None)
                value = fill.amount * fill.price
                trade.cash += (value if fill.side == "sell" else -value) - fill.fee

        # Orders the exchange refused or dropped; placed again below unless the trade moved on.
        missing = [tag for tag in trade.pending if tag not in open_tags | filled_now]

        if trade.phase == CLOSING and all(ctx.position(symbol).amount == 0 for symbol in symbols):
            intents.append(self._finished(trade, spread, ctx))

        if trade.phase == OPEN:
            intents += self._manage(trade, spread, ctx)
        elif trade.phase == FLAT:
            threshold = self.params["entry_threshold"]
            if abs(spread) < threshold:
                trade.armed = True
            elif trade.armed:
                intents += self._enter(trade, spread, ctx)

        for tag in missing:
            if tag in trade.pending:
                symbol, side, amount, reduce_only = trade.pending[tag]
                intents.append(Place(tag, symbol, side, "market", Decimal(amount), reduce_only=reduce_only))

        if trade.dump() != stored:
            intents.append(Remember({"trade": trade.dump()}))
        return intents

    @staticmethod
    def spread(prices: dict, start: dict, symbols: tuple[str, ...]) -> Decimal:
        first, second = symbols
        moved = (prices[first] / start[first] - prices[second] / start[second]) * HUNDRED
        return moved.quantize(SPREAD_PLACES)

    def _enter(self, trade: Trade, spread: Decimal, ctx: Context) -> list:
        trade.number += 1
        trade.phase = OPEN
        trade.direction = 1 if spread > 0 else -1
        trade.opening_spread = spread
        trade.adds = 0
        trade.invested = [ZERO, ZERO]
        trade.pending = {}
        trade.cash = ZERO
        trade.close_reason = None
        first, second = ctx.symbols
        short, long = (first, second) if trade.direction > 0 else (second, first)
        intents = self._place_legs(trade, "entry", self.params["position_value"], ctx)
        intents.append(Note(f"Spread {spread.normalize():f}: short {short}, long {long}, "
                            f"{self.params['position_value'].normalize():f} per leg."))
        return intents

    def _place_legs(self, trade: Trade, name: str, value: Decimal, ctx: Context) -> list:
        intents = []
        for leg, symbol in enumerate(ctx.symbols):
            price = ctx.prices[symbol]
            amount = to_step(value / price, ctx.markets[symbol])
            # Leg 1 is short when the spread is positive, leg 2 then long; the mirror below zero.
            side = "sell" if (trade.direction > 0) == (leg == 0) else "buy"
            tag = trade.tag(f"{name}:{leg + 1}")
            trade.pending[tag] = [symbol, side, str(amount), False]
            trade.invested[leg] += amount * price
            intents.append(Place(tag, symbol, side, "market", amount))
        return intents

    def _manage(self, trade: Trade, spread: Decimal, ctx: Context) -> list:
        p = self.params
        positions = [ctx.position(symbol) for symbol in ctx.symbols]
        invested = sum((position.cost for position in positions), ZERO)
        unrealized = sum((position.unrealized_pnl for position in positions), ZERO)
        ratio = unrealized / invested * HUNDRED if invested else None

        if ratio is not None and p["stop_loss"] and ratio <= -p["stop_loss"]:
            return self._close(trade, ctx, "stop loss", f"Stop loss: the legs are at {ratio:.2f}% of "
                                                        f"{invested.normalize():f} invested.")
        if p["take_profit_mode"] == "regression":
            regression = (trade.opening_spread - spread) * trade.direction
            if regression >= p["take_profit"]:
                return self._close(trade, ctx, "take profit", f"Take profit: the spread came back from "
                                                              f"{trade.opening_spread.normalize():f} to "
                                                              f"{spread.normalize():f}.")
        elif ratio is not None and ratio >= p["take_profit"]:
            return self._close(trade, ctx, "take profit", f"Take profit: the legs are at +{ratio:.2f}% of "
                                                          f"{invested.normalize():f} invested.")
        return self._add(trade, spread, ctx)

    def _add(self, trade: Trade, spread: Decimal, ctx: Context) -> list:
        p = self.params
        intents = []
        multipliers = parse_multipliers(p["add_multipliers"])
        while trade.adds < p["max_adds"]:
            k = trade.adds + 1
            level = trade.opening_spread * trade.direction + k * p["add_step"]
            if spread * trade.direction < level:
                break
            trade.adds = k
            wanted = p["position_value"] * multipliers[0 if len(multipliers) == 1 else k - 1]
            room = min(p["max_position_value"] - invested for invested in trade.invested)
            value = min(wanted, room)
            if not all(meets_minimums(ctx.markets[symbol], to_step(value / ctx.prices[symbol], ctx.markets[symbol]),
                                      ctx.prices[symbol]) for symbol in ctx.symbols):
                intents.append(Note(f"Add {k} at spread {spread.normalize():f} skipped: the legs are at the "
                                    f"maximum position value of {p['max_position_value'].normalize():f}."))
                continue
            intents += self._place_legs(trade, f"add:{k}", value, ctx)
            cut = f" (cut from {wanted.normalize():f} by the maximum position value)" if value < wanted else ""
            intents.append(Note(f"Add {k} at spread {spread.normalize():f}: {value.normalize():f} per leg{cut}."))
        return intents

    def _close(self, trade: Trade, ctx: Context, reason: str, message: str) -> list:
        trade.phase = CLOSING
        trade.close_reason = reason
        trade.pending = {}
        intents = []
        for leg, symbol in enumerate(ctx.symbols):
            amount = ctx.position(symbol).amount
            if amount == 0:
                continue
            side = "buy" if amount < 0 else "sell"
            tag = trade.tag(f"close:{leg + 1}")
            trade.pending[tag] = [symbol, side, str(abs(amount)), True]
            intents.append(Place(tag, symbol, side, "market", abs(amount), reduce_only=True))
        intents.append(Note(message, alert=reason == "stop loss"))
        return intents

    def _finished(self, trade: Trade, spread: Decimal, ctx: Context) -> Note:
        trade.phase = FLAT
        trade.armed = False
        quote = ctx.markets[ctx.symbols[0]].get("quote", "")
        return Note(
            f"Trade {trade.number} closed by {trade.close_reason}: {trade.cash:+.2f} {quote} after fees.",
            alert=trade.close_reason == "stop loss",
            data={"trade": trade.number, "reason": trade.close_reason, "pnl": str(trade.cash),
                  "adds": trade.adds, "spread": str(spread)},
        )
