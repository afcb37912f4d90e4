"""DCA: buy, buy more on the way down, sell the whole position a little higher.

A deal opens with a market buy of the base order. Once it has filled, the safety orders
wait below it as limit buys: safety order k sits at the base fill price less the sum of
the first k deviation steps (the first step is the price deviation, each next one is
`step scale` times the one before) and spends `volume scale` times the quote of the one
before. A limit sell for the whole position waits at the take-profit distance above the
average entry price; every safety fill replaces it (a new version of its tag) for the
larger position and the lower average.

With a trailing deviation there is no take-profit order: once the price reaches the
target the bot follows the high and sells at market when the price falls back from it
by the trailing deviation. A stop loss, measured from the average entry price, sells
everything at market. When a deal closes, its remaining orders are cancelled, its
result goes to the log and the next deal starts after the cooldown.

A deal's safety-order ladder is fixed (in memory) when its base order fills, so new
settings change the ladder from the next deal on; the take profit, trailing deviation
and stop loss follow new settings at once.
"""

from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from bots.strategies.base import Cancel, Context, Fill, Note, ParamsForm, Place, Remember, Stop, Strategy

ZERO = Decimal(0)
HUNDRED = Decimal(100)
MAX_COOLDOWN = 30 * 24 * 3600

IDLE, OPENING, OPEN, CLOSING = "idle", "opening", "open", "closing"

# --- helpers shared with the pair strategy ---------------------------------------------------


def positive(message):
    """A field validator refusing zero and negative values with `message`."""

    def check(value):
        if value is not None and value <= 0:
            raise ValidationError(message, code="min_value")

    return check


def to_step(amount: Decimal, market: dict) -> Decimal:
    """The amount truncated to the market's step, as the engine does."""
    step = Decimal(str(market["precision"]["amount"]))
    return (amount / step).to_integral_value(rounding=ROUND_DOWN) * step


def to_tick(price: Decimal, market: dict) -> Decimal:
    tick = Decimal(str(market["precision"]["price"]))
    return (price / tick).to_integral_value(rounding=ROUND_HALF_EVEN) * tick


def reference_price(market: dict) -> Decimal | None:
    """The price minimum checks convert quote sizes with: the form sees no live price, so
    the catalog's typical price of the market, when it has one."""
    price = (market.get("info") or {}).get("typical_price")
    return Decimal(str(price)) if price is not None else None


def meets_minimums(market: dict, amount: Decimal, price: Decimal) -> bool:
    limits = market.get("limits", {})
    min_amount = (limits.get("amount") or {}).get("min")
    min_cost = (limits.get("cost") or {}).get("min")
    if min_amount is not None and amount < Decimal(str(min_amount)):
        return False
    return min_cost is None or amount * price >= Decimal(str(min_cost))


def check_quote_order(form: ParamsForm, symbol: str, quote: Decimal | None, price: Decimal | None, field_name: str):
    """Exchange minimums for an order worth `quote` at `price`, its amount truncated to the
    market's step as the engine will. Without a price only the minimum cost can be checked."""
    market = form.markets.get(symbol)
    if not market or quote is None:
        return
    if price is not None:
        form.check_minimums(symbol, to_step(quote / price, market), price, field_name)
        return
    min_cost = ((market.get("limits") or {}).get("cost") or {}).get("min")
    if min_cost is not None and quote < Decimal(str(min_cost)):
        form.add_error(field_name, _("Orders on %(symbol)s must be worth at least %(cost)s %(quote)s.") % {
            "symbol": symbol, "cost": f"{Decimal(str(min_cost)).normalize():f}", "quote": market.get("quote", "")})


def percent_field(label, *, max_value, required=True, initial=None, help_text="", message=None):
    return forms.DecimalField(
        label=label, required=required, initial=initial, help_text=help_text, max_value=Decimal(max_value),
        max_digits=12, decimal_places=6, validators=[positive(message or _("Must be positive."))],
    )


def quote_field(label, *, required=True, help_text=""):
    return forms.DecimalField(label=label, required=required, help_text=help_text, max_digits=30, decimal_places=12,
                              validators=[positive(_("Must be positive."))])


# --- parameters --------------------------------------------------------------------------------


def safety_ladder(base_price: Decimal, count: int, size: Decimal, deviation: Decimal, volume_scale: Decimal,
                  step_scale: Decimal) -> list[tuple[Decimal, Decimal]]:
    """(price, quote size) of each safety order, unrounded; `deviation` in percent."""
    ladder = []
    total, step = ZERO, deviation
    for k in range(count):
        total += step
        ladder.append((base_price * (1 - total / HUNDRED), size * volume_scale**k))
        step *= step_scale
    return ladder


class DcaParams(ParamsForm):
    base_order_size = quote_field(_("Base order size (quote currency)"),
                                  help_text=_("Bought at market when a deal starts."))
    safety_order_size = quote_field(_("Safety order size (quote currency)"), required=False,
                                    help_text=_("The first safety order; not needed without safety orders."))
    max_safety_orders = forms.IntegerField(label=_("Maximum safety orders"), min_value=0, max_value=50, initial=5)
    price_deviation = percent_field(_("Price deviation to the first safety order (%)"), max_value=99, initial=Decimal(1),
                                    message=_("The price deviation must be positive."))
    safety_order_volume_scale = forms.DecimalField(
        label=_("Safety order volume scale"), min_value=Decimal("0.5"), max_value=Decimal(10), initial=Decimal(1),
        max_digits=8, decimal_places=4, help_text=_("Each safety order spends this many times the one before."))
    safety_order_step_scale = forms.DecimalField(
        label=_("Safety order step scale"), min_value=Decimal("0.5"), max_value=Decimal(10), initial=Decimal(1),
        max_digits=8, decimal_places=4,
        help_text=_("Each deviation step is this many times the one before."))
    take_profit = percent_field(_("Take profit (% above the average entry price)"), max_value=1000, initial=Decimal(1),
                                message=_("The take profit must be positive."))
    trailing_deviation = percent_field(
        _("Trailing deviation (%)"), max_value=50, required=False,
        message=_("The trailing deviation must be positive, or left empty for a plain take profit."),
        help_text=_("Once the take profit is reached, follow the high and sell when the price falls back this much."))
    stop_loss = percent_field(_("Stop loss (% below the average entry price)"), max_value="99.99", required=False,
                              message=_("The stop loss must be positive, or left empty for none."))
    cooldown = forms.IntegerField(label=_("Cooldown between deals (seconds)"), min_value=0, max_value=MAX_COOLDOWN,
                                  initial=0)

    def clean(self):
        cleaned = super().clean()
        count = cleaned.get("max_safety_orders")
        size, deviation = cleaned.get("safety_order_size"), cleaned.get("price_deviation")
        volume_scale, step_scale = cleaned.get("safety_order_volume_scale"), cleaned.get("safety_order_step_scale")
        take_profit, trailing = cleaned.get("take_profit"), cleaned.get("trailing_deviation")
        if count and size is None and "safety_order_size" not in self.errors:
            self.add_error("safety_order_size", _("Give the safety order size, or set the maximum safety orders to 0."))
        ladder = []
        if count and None not in (deviation, step_scale):
            ladder = safety_ladder(Decimal(1), count, size or ZERO, deviation, volume_scale or Decimal(1), step_scale)
            deepest = (1 - ladder[-1][0]) * HUNDRED
            if deepest >= HUNDRED:
                self.add_error("price_deviation", _(
                    "The safety orders would reach %(total)s%% below the base order's price; the total deviation "
                    "must stay under 100%%. Use fewer safety orders, a smaller deviation or a smaller step scale."
                ) % {"total": f"{deepest:.2f}"})
                ladder = []

        if take_profit is not None and trailing is not None and trailing >= take_profit:
            self.add_error("trailing_deviation", _(
                "The trailing deviation must be smaller than the take profit, or a trailing sale could close at a loss."))

        if self.markets:
            self._check_market(cleaned, ladder)
        return cleaned

    def _check_market(self, cleaned: dict, ladder: list[tuple[Decimal, Decimal]]) -> None:
        """The fees and the exchange minimums of the bot's one symbol."""
        symbol, market = next(iter(self.markets.items()))
        take_profit, trailing = cleaned.get("take_profit"), cleaned.get("trailing_deviation")
        if take_profit is not None:
            # The base order buys at market; the sale is a limit order, or at market when trailing.
            fees = Decimal(str(market.get("taker") or 0)) + Decimal(str(market.get("taker" if trailing else "maker") or 0))
            if take_profit <= fees * HUNDRED:
                self.add_error("take_profit", _(
                    "A take profit of %(tp)s%% cannot pay the %(fees)s%% fees of buying and selling."
                ) % {"tp": f"{take_profit.normalize():f}", "fees": f"{fees * HUNDRED:.3f}"})
        price = reference_price(market)
        check_quote_order(self, symbol, cleaned.get("base_order_size"), price, "base_order_size")
        if cleaned.get("safety_order_size") is None:
            return
        for fraction, quote in ladder:
            check_quote_order(self, symbol, quote, to_tick(price * fraction, market) if price else None,
                              "safety_order_size")
            if "safety_order_size" in self.errors:
                break


# --- the deal ----------------------------------------------------------------------------------


@dataclass
class Deal:
    """The current (or last) deal, as kept in memory."""

    number: int = 0
    phase: str = IDLE
    closed_at: float | None = None
    ladder: list[tuple[Decimal, Decimal]] = field(default_factory=list)  # (price, amount) of safety orders 1..n
    filled: list[int] = field(default_factory=list)  # safety orders filled
    amount: Decimal = ZERO  # base the deal holds
    cost: Decimal = ZERO  # what that base cost, fees apart: average = cost / amount
    spent: Decimal = ZERO  # quote paid for the buys, fees included
    received: Decimal = ZERO  # quote received for the sells, fees deducted
    tp_version: int = 0
    trail_high: Decimal | None = None
    close_reason: str | None = None

    @classmethod
    def load(cls, stored: dict | None) -> "Deal":
        if not stored:
            return cls()
        return cls(
            number=stored["number"], phase=stored["phase"], closed_at=stored["closed_at"],
            ladder=[(Decimal(price), Decimal(amount)) for price, amount in stored["ladder"]],
            filled=list(stored["filled"]), amount=Decimal(stored["amount"]), cost=Decimal(stored["cost"]),
            spent=Decimal(stored["spent"]), received=Decimal(stored["received"]), tp_version=stored["tp_version"],
            trail_high=Decimal(stored["trail_high"]) if stored["trail_high"] is not None else None,
            close_reason=stored["close_reason"],
        )

    def dump(self) -> dict:
        return {
            "number": self.number, "phase": self.phase, "closed_at": self.closed_at,
            "ladder": [[str(price), str(amount)] for price, amount in self.ladder], "filled": self.filled,
            "amount": str(self.amount), "cost": str(self.cost), "spent": str(self.spent),
            "received": str(self.received), "tp_version": self.tp_version,
            "trail_high": str(self.trail_high) if self.trail_high is not None else None,
            "close_reason": self.close_reason,
        }

    @property
    def average(self) -> Decimal:
        return self.cost / self.amount

    def tag(self, name: str) -> str:
        return f"dca:{self.number}:{name}"

    @property
    def tp_tag(self) -> str:
        return self.tag(f"tp:{self.tp_version}")


class Dca(Strategy):
    key = "dca"
    name = _("DCA")
    description = _("Buys more as the price falls and sells the whole position at a profit over its average price.")
    Params = DcaParams

    def on_tick(self, ctx: Context) -> list:
        symbol = ctx.symbols[0]
        price = ctx.prices[symbol]
        market = ctx.markets[symbol]
        p = self.params
        stored = ctx.memory.get("deal")
        deal = Deal.load(stored)
        intents = []
        open_tags = ctx.open_tags()

        filled_now = set()
        for fill in ctx.fills:
            if fill.symbol == symbol and fill.tag.startswith(deal.tag("")):
                filled_now.add(fill.tag)
                intents += self._apply_fill(deal, fill, market, open_tags)

        if deal.phase in (OPEN, CLOSING) and deal.amount <= 0:
            intents += self._finish(deal, open_tags, market.get("quote", ""))

        if ctx.config_changed and deal.phase == OPEN:
            if deal.tp_tag in open_tags:
                intents.append(Cancel(deal.tp_tag))
                open_tags.discard(deal.tp_tag)
            deal.tp_version += 1
            deal.trail_high = None
            intents.append(Note(f"New settings: deal {deal.number} takes profit and stops by them from now on; "
                                f"its safety orders stay as placed."))

        present = open_tags | filled_now
        if deal.phase == IDLE:
            if deal.closed_at is None or ctx.now >= deal.closed_at + p["cooldown"]:
                amount = to_step(p["base_order_size"] / price, market)
                if meets_minimums(market, amount, price):
                    deal = Deal(number=deal.number + 1, phase=OPENING)
                    intents.append(Place(deal.tag("base"), symbol, "buy", "market", amount))
                    intents.append(Note(f"Deal {deal.number} started: buying {amount.normalize():f} at market "
                                        f"near {price.normalize():f}."))
                else:
                    intents.append(Stop(f"The base order of {p['base_order_size'].normalize():f} "
                                        f"{market.get('quote', '')} is below the exchange minimum at "
                                        f"{price.normalize():f}."))
        elif deal.phase == OPENING:
            if deal.tag("base") not in present:  # refused, or cancelled before it filled
                amount = to_step(p["base_order_size"] / price, market)
                intents.append(Place(deal.tag("base"), symbol, "buy", "market", amount))
        elif deal.phase == OPEN:
            intents += self._watch(deal, symbol, price, open_tags)
            if deal.phase == OPEN:
                intents += self._keep_orders(deal, symbol, market, present)
        elif deal.phase == CLOSING:
            if deal.tag("close") not in present:
                intents.append(Place(deal.tag("close"), symbol, "sell", "market", deal.amount))

        if deal.dump() != stored:
            intents.append(Remember({"deal": deal.dump()}))
        return intents

    def _apply_fill(self, deal: Deal, fill: Fill, market: dict, open_tags: set[str]) -> list:
        value = fill.amount * fill.price
        if fill.side == "sell":
            deal.cost -= deal.average * fill.amount
            deal.amount -= fill.amount
            if deal.amount <= 0:
                deal.cost = ZERO
            deal.received += value - fill.fee
            deal.closed_at = fill.timestamp
            return []
        deal.amount += fill.amount
        deal.cost += value
        deal.spent += value + fill.fee
        if fill.tag == deal.tag("base"):
            deal.phase = OPEN
            return self._plan_ladder(deal, fill.price, market)
        deal.filled.append(int(fill.tag.rsplit(":", 1)[1]))
        intents = []
        if deal.tp_tag in open_tags:
            intents.append(Cancel(deal.tp_tag))
            open_tags.discard(deal.tp_tag)
        deal.tp_version += 1
        intents.append(Note(f"Deal {deal.number}: safety order {deal.filled[-1]} bought {fill.amount.normalize():f} "
                            f"at {fill.price.normalize():f}; the average is now {to_tick(deal.average, market).normalize():f}."))
        return intents

    def _plan_ladder(self, deal: Deal, base_price: Decimal, market: dict) -> list:
        p = self.params
        ladder = safety_ladder(base_price, p["max_safety_orders"], p["safety_order_size"] or ZERO, p["price_deviation"],
                               p["safety_order_volume_scale"], p["safety_order_step_scale"])
        deal.ladder = []
        dropped = 0
        for price, quote in ladder:
            price = to_tick(price, market)
            amount = to_step(quote / price, market)
            if price > 0 and meets_minimums(market, amount, price):
                deal.ladder.append((price, amount))
            else:
                dropped += 1
        intents = []
        if dropped:
            intents.append(Note(f"Deal {deal.number}: {dropped} safety orders would be below the exchange minimum "
                                f"and are left out.", alert=True))
        return intents

    def _watch(self, deal: Deal, symbol: str, price: Decimal, open_tags: set[str]) -> list:
        """Stop loss and trailing take profit: whether to sell everything at market now."""
        p = self.params
        average = deal.average
        if p["stop_loss"] and price <= average * (1 - p["stop_loss"] / HUNDRED):
            return self._close_at_market(deal, symbol, open_tags, "stop loss",
                                         f"Deal {deal.number}: stop loss at {price.normalize():f}, "
                                         f"{p['stop_loss'].normalize():f}% under the average.")
        if not p["trailing_deviation"]:
            return []
        if deal.trail_high is None:
            if price >= average * (1 + p["take_profit"] / HUNDRED):
                deal.trail_high = price
                return [Note(f"Deal {deal.number}: take profit reached at {price.normalize():f}; trailing.")]
            return []
        deal.trail_high = max(deal.trail_high, price)
        if price <= deal.trail_high * (1 - p["trailing_deviation"] / HUNDRED):
            return self._close_at_market(deal, symbol, open_tags, "trailing take profit",
                                         f"Deal {deal.number}: the price fell back to {price.normalize():f} "
                                         f"from {deal.trail_high.normalize():f}; selling.")
        return []

    def _close_at_market(self, deal: Deal, symbol: str, open_tags: set[str], reason: str, message: str) -> list:
        intents = [Cancel(tag) for tag in sorted(open_tags) if tag.startswith(deal.tag(""))]
        intents.append(Place(deal.tag("close"), symbol, "sell", "market", deal.amount))
        intents.append(Note(message, alert=reason == "stop loss"))
        deal.phase = CLOSING
        deal.close_reason = reason
        return intents

    def _keep_orders(self, deal: Deal, symbol: str, market: dict, present: set[str]) -> list:
        """Every safety order not yet filled and the take-profit order, placed if missing."""
        intents = []
        for k, (price, amount) in enumerate(deal.ladder, start=1):
            if k not in deal.filled and deal.tag(f"so:{k}") not in present:
                intents.append(Place(deal.tag(f"so:{k}"), symbol, "buy", "limit", amount, price))
        if not self.params["trailing_deviation"] and deal.tp_tag not in present:
            target = to_tick(deal.average * (1 + self.params["take_profit"] / HUNDRED), market)
            intents.append(Place(deal.tp_tag, symbol, "sell", "limit", deal.amount, target))
        return intents

    def _finish(self, deal: Deal, open_tags: set[str], quote: str) -> list:
        reason = deal.close_reason or "take profit"
        result = deal.received - deal.spent
        deal.phase = IDLE
        intents = [Cancel(tag) for tag in sorted(open_tags) if tag.startswith(deal.tag(""))]
        intents.append(Note(
            f"Deal {deal.number} closed by {reason}: {result:+.2f} {quote} after fees.",
            alert=reason == "stop loss",
            data={"deal": deal.number, "reason": reason, "pnl": str(result), "spent": str(deal.spent),
                  "received": str(deal.received), "safety_orders_filled": len(deal.filled)},
        ))
        return intents
