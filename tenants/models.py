from django.db import models
from django.utils.translation import gettext_lazy as _
from django_tenants.models import DomainMixin, TenantMixin


class TenantQuerySet(models.QuerySet):
    def workspaces(self):
        return self.filter(kind=Tenant.Kind.WORKSPACE)


class Tenant(TenantMixin):
    """A customer workspace: one PostgreSQL schema holding its exchanges, bots and alerts.

    Two rows are not customer workspaces: the public schema (the public site) and the
    migrated template schema new workspaces are cloned from.
    """

    class Kind(models.TextChoices):
        WORKSPACE = "workspace", _("Workspace")
        PUBLIC = "public", _("Public site")
        TEMPLATE = "template", _("Template")

    name = models.CharField(_("name"), max_length=100)
    slug = models.SlugField(_("address"), max_length=30, unique=True, null=True, blank=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.WORKSPACE)
    created_at = models.DateTimeField(auto_now_add=True)

    # Schemas are made by tenants.actions: workspaces are cloned from the template.
    auto_create_schema = False
    # The data is the customer's; dropping a schema is a deliberate staff action.
    auto_drop_schema = False

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Domain(DomainMixin):
    """A host name routed to a tenant: `<slug>.<BASE_DOMAIN>`, or BASE_DOMAIN for public."""


class BotRun(models.Model):
    """The engine's run registry: one row per bot the engine should tick (running,
    paused or stopping), so runners never scan tenant schemas to find work. `version`
    goes up whenever the bot's wishes change (pause, stop, new settings): runners poll
    these rows each tick and reload a bot only when its version moved."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="bot_runs")
    bot_id = models.BigIntegerField()
    shard = models.PositiveSmallIntegerField(db_index=True)
    version = models.PositiveBigIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "bot_id"], name="one_run_per_bot")]

    def __str__(self):
        return f"bot {self.bot_id} of {self.tenant_id} on shard {self.shard}"


class ShardLease(models.Model):
    """Who runs a shard of bots, until when. A runner holds the lease while it renews it;
    a lease that lapses is taken over. `generation` rises at every claim and fences
    writes: an order is only written under the generation that still holds the lease."""

    shard = models.PositiveSmallIntegerField(primary_key=True)
    owner = models.CharField(max_length=100, blank=True)
    generation = models.PositiveBigIntegerField(default=0)
    expires_at = models.FloatField(default=0)
    claimed_at = models.FloatField(default=0)
    enqueued_at = models.FloatField(default=0)
    # Goes up with every change to the shard's run registry rows: runners reload those
    # only when it moved.
    registry_version = models.PositiveBigIntegerField(default=0)
    # What the holder last reported: for engine_status and capacity planning.
    bots = models.PositiveIntegerField(default=0)
    ticks_per_second = models.FloatField(default=0)
    lag_p50_ms = models.FloatField(default=0)
    lag_p99_ms = models.FloatField(default=0)
    # Ticks counted by how late they started, cumulative for this holder: bucket upper
    # bound in ms (as text) -> count.
    lag_histogram = models.JSONField(default=dict, blank=True)
    reported_at = models.FloatField(default=0)

    class Meta:
        ordering = ["shard"]

    def __str__(self):
        return f"shard {self.shard}"


class RateCounter(models.Model):
    """Requests counted per rate-limit key and fixed window (unlogged: counts are
    cheap to lose, and not worth a WAL write per request)."""

    key = models.CharField(max_length=200)
    window = models.BigIntegerField()  # when the window starts, in seconds since the epoch
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key", "window"], name="rate_counter_key_window")]
