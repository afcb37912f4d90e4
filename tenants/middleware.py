from django.shortcuts import render
from django_tenants.middleware.main import TenantMainMiddleware


class TenantHostMiddleware(TenantMainMiddleware):
    """django-tenants' host routing, answering an unknown workspace host with a proper
    404 page instead of an exception."""

    def get_tenant(self, domain_model, hostname):
        # In the same query: the layout's billing banner, the read-only check of expired
        # workspaces and the plan's rate limits read them on every request.
        return domain_model.objects.select_related("tenant__subscription__plan").get(domain=hostname).tenant

    def no_tenant_found(self, request, hostname):
        return render(request, "404_no_workspace.html", {"hostname": hostname}, status=404)
