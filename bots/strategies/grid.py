"""Grid: buy low and sell high on fixed price levels.

Levels run from the lower to the upper price, equally spaced (arithmetic) or by an
equal ratio (geometric). At the start the bot buys, at market, the base it needs for a
sell order on every level above the price, places those sells, and places a buy on
every level below. Whenever a level fills, the opposite order goes on the neighbouring
level: a filled buy at level i is followed by a sell at level i+1, a filled sell at
level i by a buy at level i-1, so each round trip earns one grid step less fees.
"""

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from bots.strategies.base import Cancel, Context, Note, ParamsForm, Place, Remember, Stop, Strategy

INIT = "grid:init"


class GridParams(ParamsForm):
    lower_price = forms.DecimalField(label=_("Lower price"), min_value=Decimal("0.00000001"), max_digits=30, decimal_places=12)
    upper_price = forms.DecimalField(label=_("Upper price"), min_value=Decimal("0.00000001"), max_digits=30, decimal_places=12)
    grid_count = forms.IntegerField(label=_("Number of levels"), min_value=2, max_value=200, initial=10)
    spacing = forms.ChoiceField(label=_("Spacing"), choices=[("arithmetic", _("Arithmetic (equal price steps)")),
                                                            # "% s" is text here, not a format: tell xgettext.
                                                            # xgettext:no-python-format
                                                            ("geometric", _("Geometric (equal % steps)"))],
                                initial="arithmetic")
    amount_per_level = forms.DecimalField(label=_("Amount per level (base currency)"), min_value=Decimal("0.00000001"),
                                          max_digits=30, decimal_places=12)
    stop_out_of_range = forms.BooleanField(label=_("Stop when the price leaves the range"), required=False)

    symbol = None  # set by the bot form: the market the checks use

    def clean(self):
        cleaned = super().clean()
        lower, upper, count = cleaned.get("lower_price"), cleaned.get("upper_price"), cleaned.get("grid_count")
        if lower is None or upper is None or count is None:
            return cleaned
        if upper <= lower:
            self.add_error("upper_price", _("The upper price must be above the lower price."))
            return cleaned
        levels = grid_levels(lower, upper, count, cleaned.get("spacing", "arithmetic"))
        step = min((b - a) / a for a, b in zip(levels, levels[1:], strict=False))
        for symbol, market in self.markets.items():
            fee = Decimal(str(market.get("maker") or 0))
            if step <= 2 * fee:
                self.add_error("grid_count", _(
                    "Levels are too close: a step of %(step)s%% cannot pay the %(fees)s%% fees of a round trip. "
                    "Use fewer levels or a wider range."
                ) % {"step": f"{step * 100:.3f}", "fees": f"{2 * fee * 100:.3f}"})
            tick = Decimal(str(market["precision"]["price"]))
            if min(b - a for a, b in zip(levels, levels[1:], strict=False)) < 2 * tick:
                self.add_error("grid_count", _("Levels are closer than two price ticks of %(symbol)s.") % {"symbol": symbol})
            self.check_minimums(symbol, cleaned.get("amount_per_level"), lower, "amount_per_level")
        return cleaned


def grid_levels(lower: Decimal, upper: Decimal, count: int, spacing: str) -> list[Decimal]:
    if spacing == "geometric":
        ratio = (upper / lower) ** (Decimal(1) / (count - 1))
        return [lower * ratio**i for i in range(count - 1)] + [upper]
    step = (upper - lower) / (count - 1)
    return [lower + step * i for i in range(count)]


def to_tick(price: Decimal, tick: Decimal) -> Decimal:
    return (price / tick).quantize(Decimal(1)) * tick


class Grid(Strategy):
    key = "grid"
    name = _("Grid")
    description = _("Buys and sells on fixed price levels, earning one step on every round trip.")
    Params = GridParams

    def levels(self, market: dict) -> list[Decimal]:
        tick = Decimal(str(market["precision"]["price"]))
        if getattr(self, "_levels", (None,))[0] != tick:
            p = self.params
            levels = grid_levels(p["lower_price"], p["upper_price"], p["grid_count"], p["spacing"])
            self._levels = (tick, [to_tick(level, tick) for level in levels])
        return self._levels[1]

    def on_tick(self, ctx: Context) -> list:
        symbol = ctx.symbols[0]
        price = ctx.prices[symbol]
        levels = self.levels(ctx.markets[symbol])
        memory = ctx.memory
        intents = []

        if ctx.config_changed and memory.get("expected"):
            intents += [Cancel(order.tag) for order in ctx.open_orders]
            intents.append(Remember({"expected": None, "initialized": False}))
            intents.append(Note("Grid rebuilt for the new settings."))
            return intents

        if self.params["stop_out_of_range"] and not levels[0] <= price <= levels[-1]:
            return [Stop(f"The price {price.normalize():f} left the grid range "
                         f"{levels[0].normalize():f}–{levels[-1].normalize():f}.")]

        expected: dict[str, str] = dict(memory.get("expected") or {})
        if not memory.get("initialized"):
            return self._start(symbol, price, levels)

        if any(fill.tag == INIT for fill in ctx.fills):
            expected.update({str(i): "sell" for i in memory.get("sell_levels", [])})
            intents.append(Remember({"awaiting_init": False}))
        elif memory.get("awaiting_init") and INIT not in ctx.open_tags():
            # The opening buy failed or was cancelled: the sells still need their base.
            amount = self.params["amount_per_level"] * len(memory.get("sell_levels", []))
            intents.append(Place(INIT, symbol, "buy", "market", amount))

        for fill in ctx.fills:
            if not fill.tag.startswith("grid:") or fill.tag == INIT:
                continue
            _grid, side, index = fill.tag.split(":")
            index = int(index)
            expected.pop(str(index), None)
            if side == "buy" and index + 1 < len(levels):
                expected[str(index + 1)] = "sell"
            elif side == "sell" and index >= 1:
                expected[str(index - 1)] = "buy"

        open_tags = ctx.open_tags()
        for index, side in sorted(expected.items(), key=lambda item: int(item[0])):
            tag = f"grid:{side}:{index}"
            if tag not in open_tags:
                intents.append(Place(tag, symbol, side, "limit", self.params["amount_per_level"], levels[int(index)]))
        if expected != (memory.get("expected") or {}):
            intents.append(Remember({"expected": expected}))
        return intents

    def _start(self, symbol: str, price: Decimal, levels: list[Decimal]) -> list:
        buys = [i for i, level in enumerate(levels) if level < price]
        sells = [i for i, level in enumerate(levels) if level > price]
        # Exactly one level stays empty, between the buys and the sells: a filled buy
        # moves its sell onto the empty level above and leaves its own level empty, a
        # filled sell likewise downwards, so no level ever holds two orders. When the
        # price sits on a level, that one is the empty one.
        if buys and sells and len(buys) + len(sells) == len(levels):
            sells = sells[1:]
        amount = self.params["amount_per_level"]
        intents = [Place(f"grid:buy:{i}", symbol, "buy", "limit", amount, levels[i]) for i in buys]
        if sells:
            intents.append(Place(INIT, symbol, "buy", "market", amount * len(sells)))
        intents.append(Remember({
            "initialized": True,
            "expected": {str(i): "buy" for i in buys},
            "sell_levels": sells,
            "awaiting_init": bool(sells),
        }))
        intents.append(Note(f"Grid started at {price.normalize():f}: {len(buys)} buy and {len(sells)} sell levels."))
        return intents
