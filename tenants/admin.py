from django.contrib import admin
from django_tenants.admin import TenantAdminMixin

from tenants.models import Domain, Tenant


class RecordAdmin(admin.ModelAdmin):
    """A record of what happened (audit events, Stripe events): listed and viewed in the
    admin, never added, edited or deleted there."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0


@admin.register(Tenant)
class TenantAdmin(TenantAdminMixin, admin.ModelAdmin):
    list_display = ["name", "slug", "kind", "schema_name", "created_at"]
    list_filter = ["kind"]
    search_fields = ["name", "slug", "schema_name"]
    # The slug is baked into the schema name and the domain; renaming is not an admin edit.
    readonly_fields = ["slug", "schema_name", "kind", "created_at"]
    inlines = [DomainInline]

    def has_add_permission(self, request):
        # Workspaces are provisioned by signup or `manage.py create_workspace`, which
        # also create the owner's membership.
        return False


@admin.register(Domain)
class DomainAdmin(admin.ModelAdmin):
    list_display = ["domain", "tenant", "is_primary"]
    search_fields = ["domain", "tenant__name"]
    list_select_related = ["tenant"]
