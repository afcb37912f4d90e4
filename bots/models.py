from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _

from exchanges.models import MONEY, ExchangeConnection


class Bot(models.Model):
    """A strategy with its parameters, trading on one exchange connection.

    State machine: draft -> running <-> paused -> stopped, and error (with a reason)
    from running or paused. `stopping` is the moment between a stop request and the
    engine having cancelled the bot's open orders.
    """

    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        RUNNING = "running", _("Running")
        PAUSED = "paused", _("Paused")
        STOPPING = "stopping", _("Stopping")
        STOPPED = "stopped", _("Stopped")
        ERROR = "error", _("Error")

    name = models.CharField(_("name"), max_length=100)
    connection = models.ForeignKey(ExchangeConnection, on_delete=models.PROTECT, related_name="bots",
                                   verbose_name=_("exchange connection"))
    strategy = models.CharField(_("strategy"), max_length=30)
    symbols = models.JSONField(_("symbols"), default=list)
    params = models.JSONField(default=dict)
    risk = models.JSONField(default=dict, blank=True)
    revision = models.PositiveIntegerField(default=0)

    state = models.CharField(max_length=10, choices=State.choices, default=State.DRAFT)
    state_reason = models.CharField(max_length=500, blank=True)
    state_changed_at = models.DateTimeField(null=True, blank=True)

    # The engine's bookkeeping.
    memory = models.JSONField(default=dict, blank=True)
    applied_revision = models.PositiveIntegerField(default=0)
    intent_seq = models.PositiveBigIntegerField(default=0)
    consecutive_failures = models.PositiveIntegerField(default=0)
    backoff_until = models.FloatField(default=0)
    last_tick_at = models.FloatField(null=True, blank=True)
    last_price = models.DecimalField(null=True, blank=True, **MONEY)
    reconciled_at = models.FloatField(default=0)
    needs_reconcile = models.BooleanField(default=True)

    # Signal bots: the secret URL token and the body secret, sealed; token looked up by hash.
    webhook_token_hash = models.CharField(max_length=64, blank=True, db_index=True)
    webhook_sealed = models.BinaryField(blank=True, default=b"")
    webhook_key_id = models.CharField(max_length=32, blank=True)

    created_by_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self):
        return self.name

    @property
    def symbol(self) -> str:
        return self.symbols[0] if self.symbols else ""

    @property
    def is_active(self) -> bool:
        """Registered with the engine."""
        return self.state in (self.State.RUNNING, self.State.PAUSED, self.State.STOPPING)


class BotConfigRevision(models.Model):
    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    name = models.CharField(max_length=100)
    symbols = models.JSONField(default=list)
    params = models.JSONField(default=dict)
    risk = models.JSONField(default=dict, blank=True)
    note = models.CharField(max_length=200, blank=True)
    created_by_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["bot", "number"], name="one_revision_number_per_bot")]
        ordering = ["-number"]


class Order(models.Model):
    """An order as the bot placed it. `pending` means written before the exchange call:
    whether the exchange took it is settled by looking its client order id up."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        OPEN = "open", _("Open")
        CLOSED = "closed", _("Filled")
        CANCELED = "canceled", _("Cancelled")
        FAILED = "failed", _("Failed")

    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="orders")
    client_order_id = models.CharField(max_length=40, unique=True)
    exchange_order_id = models.CharField(max_length=64, blank=True)
    tag = models.CharField(max_length=64)
    symbol = models.CharField(max_length=40)
    side = models.CharField(max_length=4)
    type = models.CharField(max_length=6)
    price = models.DecimalField(null=True, blank=True, **MONEY)
    amount = models.DecimalField(**MONEY)
    filled = models.DecimalField(default=Decimal("0"), **MONEY)
    average = models.DecimalField(null=True, blank=True, **MONEY)
    fee = models.DecimalField(default=Decimal("0"), **MONEY)
    reduce_only = models.BooleanField(default=False)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["bot", "status"]), models.Index(fields=["bot", "-created_at"])]
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.side} {self.amount.normalize()} {self.symbol} ({self.tag})"


class Fill(models.Model):
    """One increase of an order's filled amount, recorded exactly once: `sequence` is
    the order's cumulative filled amount after it."""

    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="fills")
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="fills")
    sequence = models.CharField(max_length=48)
    symbol = models.CharField(max_length=40)
    side = models.CharField(max_length=4)
    price = models.DecimalField(**MONEY)
    amount = models.DecimalField(**MONEY)
    fee = models.DecimalField(**MONEY)
    realized_pnl = models.DecimalField(default=Decimal("0"), **MONEY)
    timestamp = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["order", "sequence"], name="each_fill_once")]
        indexes = [models.Index(fields=["bot", "-timestamp"])]
        ordering = ["-timestamp", "-id"]


class Position(models.Model):
    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="positions")
    symbol = models.CharField(max_length=40)
    amount = models.DecimalField(default=Decimal("0"), **MONEY)
    average_price = models.DecimalField(default=Decimal("0"), **MONEY)
    realized_pnl = models.DecimalField(default=Decimal("0"), **MONEY)
    fees = models.DecimalField(default=Decimal("0"), **MONEY)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["bot", "symbol"], name="one_position_per_bot_symbol")]
        ordering = ["symbol"]


class BotEvent(models.Model):
    class Kind(models.TextChoices):
        CREATED = "created", _("Created")
        STARTED = "started", _("Started")
        PAUSED = "paused", _("Paused")
        RESUMED = "resumed", _("Resumed")
        STOPPED = "stopped", _("Stopped")
        ORDER_PLACED = "order_placed", _("Order placed")
        ORDER_FILLED = "order_filled", _("Order filled")
        ORDER_CANCELLED = "order_cancelled", _("Order cancelled")
        ORDER_FAILED = "order_failed", _("Order failed")
        RISK_STOP = "risk_stop", _("Risk stop")
        ERROR = "error", _("Error")
        CONFIG_CHANGED = "config_changed", _("Configuration changed")
        SIGNAL = "signal", _("Signal")
        NOTE = "note", _("Note")

    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    message = models.CharField(max_length=500)
    data = models.JSONField(default=dict, blank=True)
    alert = models.BooleanField(default=False, help_text=_("alert-worthy: the alerts system picks these up"))
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["bot", "-created_at"])]
        ordering = ["-created_at", "-id"]


class Signal(models.Model):
    """Every signal a bot's webhook received, with what became of it."""

    class Outcome(models.TextChoices):
        ACCEPTED = "accepted", _("Accepted")
        DUPLICATE = "duplicate", _("Duplicate")
        DROPPED = "dropped", _("Dropped")
        ALERTED = "alerted", _("Alert only")
        FAILED = "failed", _("Failed")
        REJECTED = "rejected", _("Rejected")

    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="signals")
    signal_id = models.CharField(max_length=100)
    action = models.CharField(max_length=20)
    strength = models.CharField(max_length=10)
    payload = models.JSONField(default=dict)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    reason = models.CharField(max_length=500, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["bot", "signal_id"], name="each_signal_once")]
        ordering = ["-received_at", "-id"]


class SeriesPoint(models.Model):
    """Chart series of a bot: equity (PnL) and, for the pair strategy, the spread.
    Points older than BOT_SERIES_RETENTION_DAYS are deleted by a daily task."""

    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="series")
    series = models.CharField(max_length=20)
    timestamp = models.DateTimeField()
    value = models.DecimalField(**MONEY)

    class Meta:
        indexes = [models.Index(fields=["bot", "series", "timestamp"]), models.Index(fields=["timestamp"])]
        ordering = ["timestamp"]

