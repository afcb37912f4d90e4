from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from exchanges import catalog
from exchanges.models import ExchangeConnection, OhlcvCandle

SECRET_INPUT = forms.PasswordInput(attrs={"autocomplete": "off", "spellcheck": "false"}, render_value=False)


class ConnectionForm(forms.Form):
    """Add or edit a connection. Credential fields are never filled back in: on edit, a
    field left empty keeps the stored value."""

    label = forms.CharField(label=_("Label"), max_length=100)
    exchange = forms.ChoiceField(label=_("Exchange"))
    sandbox = forms.BooleanField(label=_("Use the sandbox / testnet"), required=False)
    market_data = forms.ChoiceField(
        label=_("Market data"), choices=ExchangeConnection.MarketData.choices, required=False,
        initial=ExchangeConnection.MarketData.SIMULATED,
    )
    replay_dataset = forms.ChoiceField(label=_("Replay dataset"), required=False)
    live_price_exchange = forms.ChoiceField(label=_("Live prices from"), required=False, initial="binance")
    starting_balance = forms.DecimalField(
        label=_("Starting balance (USDT)"), min_value=Decimal("1"), max_digits=20, decimal_places=2,
        required=False, initial=Decimal("10000"),
    )

    def __init__(self, *args, editing: ExchangeConnection | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.editing = editing
        self.fields["exchange"].choices = catalog.choices()
        self.fields["live_price_exchange"].choices = [(i.id, i.name) for i in catalog.ccxt_exchanges().values()]
        datasets = OhlcvCandle.objects.values_list("dataset", flat=True).distinct().order_by("dataset")
        self.fields["replay_dataset"].choices = [("", "—")] + [(name, name) for name in datasets]
        for name, label in catalog.CREDENTIAL_FIELDS.items():
            self.fields[name] = forms.CharField(label=label, required=False, widget=SECRET_INPUT, max_length=500)
            if editing is not None:
                self.fields[name].help_text = _("Leave empty to keep the stored value.")
        if editing is not None:
            self.fields["exchange"].disabled = True
            self.fields["exchange"].initial = editing.exchange
            if editing.api_key_hint:
                self.fields["apiKey"].help_text = _("Stored key ends in …%(hint)s. Leave empty to keep it.") % {
                    "hint": editing.api_key_hint
                }

    @property
    def chosen_exchange(self) -> catalog.ExchangeInfo | None:
        exchange = self.editing.exchange if self.editing else (self.data.get("exchange") or self.initial.get("exchange") or "paper")
        return catalog.exchange_info(exchange)

    def credential_fields(self):
        info = self.chosen_exchange
        return [self[name] for name in (info.credentials if info else ())]

    def credentials(self) -> dict:
        return {name: self.cleaned_data.get(name, "") for name in catalog.CREDENTIAL_FIELDS}

    def paper_settings(self) -> dict:
        if self.cleaned_data.get("exchange", self.editing and self.editing.exchange) != "paper":
            return {}
        return {
            "market_data": self.cleaned_data.get("market_data") or ExchangeConnection.MarketData.SIMULATED,
            "replay_dataset": self.cleaned_data.get("replay_dataset") or "",
            "live_price_exchange": self.cleaned_data.get("live_price_exchange") or "binance",
            "starting_balance": self.cleaned_data.get("starting_balance") or Decimal("10000"),
        }
