import json
from decimal import Decimal

from django.db import connection as db_connection
from django.db import models
from django.utils.translation import gettext_lazy as _

from exchanges import vault

MONEY = {"max_digits": 30, "decimal_places": 12}
PAPER = "paper"


class ExchangeConnection(models.Model):
    """A workspace's account on an exchange: a real one through ccxt (live or sandbox),
    or the built-in paper exchange. Credentials are sealed (exchanges/vault.py) and never
    shown again after saving; only the last characters of the API key are kept in clear."""

    class Mode(models.TextChoices):
        PAPER = "paper", _("Paper")
        LIVE = "live", _("Live")
        SANDBOX = "sandbox", _("Sandbox")

    class MarketData(models.TextChoices):
        SIMULATED = "simulated", _("Simulated feed")
        REPLAY = "replay", _("Replay of imported candles")
        LIVE = "live", _("Live public prices")

    class CheckStatus(models.TextChoices):
        UNCHECKED = "unchecked", _("Not checked")
        OK = "ok", _("Working")
        FAILED = "failed", _("Failed")

    label = models.CharField(_("label"), max_length=100, unique=True)
    exchange = models.CharField(_("exchange"), max_length=50, help_text=_("A ccxt exchange id, or 'paper'."))
    sandbox = models.BooleanField(_("sandbox / testnet"), default=False)

    credentials_key_id = models.CharField(max_length=32, blank=True)
    credentials_blob = models.BinaryField(blank=True, default=b"")
    api_key_hint = models.CharField(max_length=8, blank=True)

    # Paper accounts only.
    market_data = models.CharField(
        _("market data"), max_length=10, choices=MarketData.choices, default=MarketData.SIMULATED
    )
    replay_dataset = models.CharField(_("replay dataset"), max_length=100, blank=True)
    live_price_exchange = models.CharField(
        _("live prices from"), max_length=50, blank=True, default="binance",
        help_text=_("ccxt exchange whose public tickers drive a paper account in live mode."),
    )
    starting_balance = models.DecimalField(_("starting balance (USDT)"), default=Decimal("10000"), **MONEY)

    check_status = models.CharField(max_length=10, choices=CheckStatus.choices, default=CheckStatus.UNCHECKED)
    check_message = models.CharField(max_length=500, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["label"]

    def __str__(self):
        return self.label

    @property
    def is_paper(self) -> bool:
        return self.exchange == PAPER

    @property
    def mode(self) -> str:
        if self.is_paper:
            return self.Mode.PAPER
        return self.Mode.SANDBOX if self.sandbox else self.Mode.LIVE

    def get_mode_display(self) -> str:
        return self.Mode(self.mode).label

    # --- sealed credentials ----------------------------------------------------------

    def seal_context(self, schema_name: str | None = None) -> str:
        """Bound into the ciphertext: a blob copied to another row or tenant fails to open."""
        assert self.pk, "credentials are sealed after the row exists"
        return f"exchange-connection:{schema_name or db_connection.schema_name}:{self.pk}"

    def set_credentials(self, credentials: dict, schema_name: str | None = None) -> None:
        sealed = vault.seal(json.dumps(credentials, sort_keys=True).encode(), context=self.seal_context(schema_name))
        self.credentials_key_id, self.credentials_blob = sealed.key_id, sealed.blob
        api_key = credentials.get("apiKey", "")
        self.api_key_hint = api_key[-4:] if len(api_key) >= 8 else ""

    def credentials(self, schema_name: str | None = None) -> dict:
        if not self.credentials_blob:
            return {}
        sealed = vault.Sealed(self.credentials_key_id, bytes(self.credentials_blob))
        return json.loads(vault.unseal(sealed, context=self.seal_context(schema_name)))

    def __repr__(self):
        # Never let a debugger or log line print the sealed blob.
        return f"<ExchangeConnection {self.pk} {self.label!r} {self.exchange}>"


class OhlcvCandle(models.Model):
    """Imported historical candles for replaying through a paper account. A dataset is
    a name plus one symbol's candles at one timeframe."""

    dataset = models.CharField(max_length=100)
    symbol = models.CharField(max_length=40)
    timeframe_seconds = models.PositiveIntegerField()
    timestamp_ms = models.BigIntegerField()
    open = models.DecimalField(**MONEY)
    high = models.DecimalField(**MONEY)
    low = models.DecimalField(**MONEY)
    close = models.DecimalField(**MONEY)
    volume = models.DecimalField(max_digits=40, decimal_places=12)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["dataset", "symbol", "timestamp_ms"], name="one_candle_per_time"),
        ]
        ordering = ["dataset", "symbol", "timestamp_ms"]


# --- the paper exchange's own books ------------------------------------------------------


class PaperAccount(models.Model):
    connection = models.OneToOneField(ExchangeConnection, on_delete=models.CASCADE, related_name="paper_account")
    # Replays map wall-clock time onto the dataset from this moment on.
    epoch = models.FloatField(help_text=_("unix time the account (re)started"))
    # The price path up to here has been matched against every open order.
    matched_until = models.FloatField(default=0)
    next_order_id = models.PositiveBigIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"paper account of {self.connection}"


class PaperBalance(models.Model):
    account = models.ForeignKey(PaperAccount, on_delete=models.CASCADE, related_name="balances")
    asset = models.CharField(max_length=20)
    free = models.DecimalField(default=Decimal("0"), **MONEY)
    used = models.DecimalField(default=Decimal("0"), **MONEY)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "asset"], name="one_balance_per_asset")]
        ordering = ["asset"]

    @property
    def total(self) -> Decimal:
        return self.free + self.used


class PaperOrder(models.Model):
    class Status(models.TextChoices):
        OPEN = "open"
        CLOSED = "closed"
        CANCELED = "canceled"

    account = models.ForeignKey(PaperAccount, on_delete=models.CASCADE, related_name="orders")
    exchange_order_id = models.CharField(max_length=32)
    client_order_id = models.CharField(max_length=64)
    symbol = models.CharField(max_length=40)
    side = models.CharField(max_length=4)  # buy / sell
    type = models.CharField(max_length=6)  # limit / market
    price = models.DecimalField(null=True, blank=True, **MONEY)
    amount = models.DecimalField(**MONEY)
    filled = models.DecimalField(default=Decimal("0"), **MONEY)
    average = models.DecimalField(null=True, blank=True, **MONEY)
    fee_cost = models.DecimalField(default=Decimal("0"), **MONEY)
    fee_currency = models.CharField(max_length=20, default="USDT")
    reduce_only = models.BooleanField(default=False)
    leverage = models.DecimalField(null=True, blank=True, max_digits=6, decimal_places=2)
    # What the order holds back from the balance while it is open.
    reserved = models.DecimalField(default=Decimal("0"), **MONEY)
    reserved_asset = models.CharField(max_length=20, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    created_ts = models.FloatField()
    updated_ts = models.FloatField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "client_order_id"], name="paper_client_order_id_unique"),
            models.UniqueConstraint(fields=["account", "exchange_order_id"], name="paper_order_id_unique"),
        ]
        indexes = [models.Index(fields=["account", "status"])]
        ordering = ["created_ts", "id"]


class PaperTrade(models.Model):
    account = models.ForeignKey(PaperAccount, on_delete=models.CASCADE, related_name="trades")
    order = models.ForeignKey(PaperOrder, on_delete=models.CASCADE, related_name="trades")
    trade_id = models.CharField(max_length=32)
    symbol = models.CharField(max_length=40)
    side = models.CharField(max_length=4)
    price = models.DecimalField(**MONEY)
    amount = models.DecimalField(**MONEY)
    cost = models.DecimalField(**MONEY)
    fee_cost = models.DecimalField(**MONEY)
    fee_currency = models.CharField(max_length=20)
    taker_or_maker = models.CharField(max_length=5)
    realized_pnl = models.DecimalField(default=Decimal("0"), **MONEY)
    timestamp = models.FloatField()

    class Meta:
        ordering = ["timestamp", "id"]


class PaperPosition(models.Model):
    """A perpetual position, isolated margin. `contracts` is signed: > 0 long, < 0 short."""

    account = models.ForeignKey(PaperAccount, on_delete=models.CASCADE, related_name="positions")
    symbol = models.CharField(max_length=40)
    contracts = models.DecimalField(default=Decimal("0"), **MONEY)
    entry_price = models.DecimalField(default=Decimal("0"), **MONEY)
    leverage = models.DecimalField(default=Decimal("1"), max_digits=6, decimal_places=2)
    margin = models.DecimalField(default=Decimal("0"), **MONEY)
    realized_pnl = models.DecimalField(default=Decimal("0"), **MONEY)
    updated_ts = models.FloatField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "symbol"], name="one_position_per_symbol")]
        ordering = ["symbol"]
