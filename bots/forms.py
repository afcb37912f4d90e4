"""The bot form: name, exchange connection and symbols, with the strategy's own
parameter form (bots/strategies/<key>.py `Params`) nested under the prefix `p`."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from bots.actions import markets_for
from bots.strategies import strategy_class
from exchanges import markets as paper_markets


class BotForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100, required=False)
    connection = forms.ModelChoiceField(label=_("Exchange connection"), queryset=None, empty_label=None)
    symbol = forms.CharField(label=_("Symbol"), max_length=40, initial="BTC/USDT")
    symbol_2 = forms.CharField(label=_("Second symbol"), max_length=40, required=False, initial="ETH/USDT:USDT")

    def __init__(self, strategy: str, connections, data=None, *, bot=None):
        self.strategy = strategy_class(strategy)
        self.bot = bot
        initial = {}
        if bot is not None:
            initial = {"name": bot.name, "connection": bot.connection_id, "symbol": bot.symbols[0],
                       "symbol_2": bot.symbols[1] if len(bot.symbols) > 1 else ""}
        super().__init__(data, initial=initial)
        self.fields["connection"].queryset = connections
        if self.strategy.symbol_count == 1:
            del self.fields["symbol_2"]
        else:
            self.fields["symbol"].initial = "BTC/USDT:USDT"
        if bot is not None:
            # The exchange and the markets are what the bot's history is about.
            for name in ("connection", "symbol", "symbol_2"):
                if name in self.fields:
                    self.fields[name].disabled = True
        self.params = self.strategy.form(data, initial=bot.params if bot else None, markets=self._markets(data))
        self.params.prefix = "p"

    def _markets(self, data) -> dict:
        connection = self.connection_from(data)
        if connection is None:
            return {}
        return markets_for(connection, [s for s in self.symbols_from(data) if s in paper_markets.MARKETS])

    def connection_from(self, data):
        """The chosen connection, before the whole form is valid (for the preview)."""
        if data is None:
            return None
        try:
            return self.fields["connection"].clean(data.get("connection") or self.initial.get("connection"))
        except ValidationError:
            return None

    def symbols_from(self, data) -> list[str]:
        names = ["symbol", "symbol_2"][: self.strategy.symbol_count]
        if self.bot is not None:
            return list(self.bot.symbols)
        return [str(data.get(name) or "").strip() for name in names]

    def is_valid(self) -> bool:
        own = super().is_valid()
        return self.params.is_valid() and own

    def bot_fields(self) -> dict:
        return {
            "name": self.cleaned_data["name"], "connection": self.cleaned_data["connection"],
            "strategy": self.strategy.key, "symbols": self.symbols_from(self.data),
            "params": self.strategy.serialise(self.params.cleaned_data),
        }

    def add_validation_error(self, error: ValidationError) -> None:
        """An action's refusal, shown on the field it is about."""
        if not hasattr(error, "error_dict"):
            self.add_error(None, error)
            return
        for field, errors in error.message_dict.items():
            if field == "symbols":
                self.add_error("symbol", errors)
            elif field in self.params.fields:
                self.params.add_error(field, errors)
            elif field in self.fields:
                self.add_error(field, errors)
            else:
                self.add_error(None, errors)
