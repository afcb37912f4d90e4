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
