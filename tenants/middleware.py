from django.shortcuts import render
from django_tenants.middleware.main import TenantMainMiddleware


class TenantHostMiddleware(TenantMainMiddleware):
    """django-tenants' host routing, answering an unknown workspace host with a proper
    404 page instead of an exception."""

    def no_tenant_found(self, request, hostname):
        return render(request, "404_no_workspace.html", {"hostname": hostname}, status=404)
