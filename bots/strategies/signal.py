"""Signal: trade on signals from outside (TradingView alerts through the bot's webhook).

Each signal carries an action (open/close/reverse a long or a short, close all) and a
strength. The strength class maps to what the bot does with it: execute it, execute
it at half size, only raise an alert, or drop it. Longs and shorts open with market
orders sized by the signal (a base amount, or a percentage of the free balance) or,
when it says nothing, by the bot's own sizing; closing sells (or buys back) the whole
position. Shorts need a perpetual market.
"""

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from bots.strategies.base import Context, Note, ParamsForm, Place, Strategy

ACTIONS = ("open_long", "close_long", "open_short", "close_short", "reverse_long", "reverse_short", "close_all")
STRENGTHS = ("strong", "medium", "weak", "ignore")
RESPONSES = [("execute", _("Execute")), ("half", _("Execute at half size")), ("alert", _("Alert only")),
             ("drop", _("Drop"))]


class SignalParams(ParamsForm):
    size_mode = forms.ChoiceField(label=_("Order size"), choices=[("quote", _("Fixed value in quote currency")),
                                                                  ("percent", _("Percentage of the free balance"))],
                                  initial="quote")
    size = forms.DecimalField(label=_("Size (quote amount, or %)"), min_value=Decimal("0.00000001"), max_digits=30,
                              decimal_places=12)
    strong = forms.ChoiceField(label=_("Strong signals"), choices=RESPONSES, initial="execute")
    medium = forms.ChoiceField(label=_("Medium signals"), choices=RESPONSES, initial="execute")
    weak = forms.ChoiceField(label=_("Weak signals"), choices=RESPONSES, initial="alert")
    ignore = forms.ChoiceField(label=_("Signals marked ignore"), choices=RESPONSES, initial="drop")

    def clean(self):
        cleaned = super().clean()
        size = cleaned.get("size")
        if cleaned.get("size_mode") == "percent" and size is not None and size > 100:
            self.add_error("size", _("A percentage of the balance can be at most 100."))
        if cleaned.get("size_mode") == "quote" and size is not None:
            for symbol, market in self.markets.items():
                min_cost = (market.get("limits", {}).get("cost") or {}).get("min")
                if min_cost is not None and size < Decimal(str(min_cost)):
                    self.add_error("size", _("Orders on %(symbol)s must be worth at least %(min)s.")
                                   % {"symbol": symbol, "min": Decimal(str(min_cost)).normalize()})
        return cleaned


class SignalStrategy(Strategy):
    key = "signal"
    name = _("Signal")
    description = _("Opens and closes positions on TradingView-style webhook signals.")
    Params = SignalParams

    def on_tick(self, ctx: Context) -> list:
        signal = ctx.signal
        if signal is None:
            return []
        response = self.params.get(signal.strength if signal.strength in STRENGTHS else "strong", "execute")
        if response == "drop":
            return [Note(f"Dropped a {signal.strength} {signal.action} signal.", data={"signal": signal.signal_id})]
        if response == "alert":
            return [Note(f"Signal: {signal.action} ({signal.strength}).", alert=True, data={"signal": signal.signal_id})]
        symbol = ctx.symbols[0]
        perpetual = bool(ctx.markets[symbol].get("swap"))
        scale = Decimal("0.5") if response == "half" else Decimal(1)
        held = ctx.position(symbol).amount
        price = signal.price or ctx.prices[symbol]
        tag = f"signal:{signal.signal_id}"

        wants_short = signal.action in ("open_short", "reverse_short")
        if wants_short and not perpetual:
            return [Note(f"{symbol} is a spot market: it cannot be shorted.", alert=True)]

        intents = []
        closing_long = signal.action in ("close_long", "reverse_short", "close_all") and held > 0
        closing_short = signal.action in ("close_short", "reverse_long", "close_all") and held < 0
        if closing_long:
            intents.append(Place(f"{tag}:close", symbol, "sell", "market", held, reduce_only=perpetual))
        if closing_short:
            intents.append(Place(f"{tag}:close", symbol, "buy", "market", -held, reduce_only=True))
        if signal.action in ("open_long", "reverse_long", "open_short", "reverse_short"):
            amount = self._amount(ctx, signal, price) * scale
            side = "sell" if wants_short else "buy"
            intents.append(Place(f"{tag}:open", symbol, side, "market", amount))
        if not intents:
            intents.append(Note(f"Nothing to {signal.action.replace('_', ' ')}: no such position."))
        return intents

    def _amount(self, ctx: Context, signal, price: Decimal) -> Decimal:
        if signal.amount is not None:
            return signal.amount
        if signal.percent_of_balance is not None:
            return ctx.free_quote * signal.percent_of_balance / 100 / price
        if self.params["size_mode"] == "percent":
            return ctx.free_quote * self.params["size"] / 100 / price
        return self.params["size"] / price
