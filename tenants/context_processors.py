from django.conf import settings

from tenants.hosts import public_url
from tenants.models import Tenant


def workspace(request):
    tenant = getattr(request, "tenant", None)
    is_workspace = tenant is not None and tenant.kind == Tenant.Kind.WORKSPACE
    return {
        "workspace": tenant if is_workspace else None,
        "membership": getattr(request, "membership", None),
        "public_site_url": public_url("/", request),
        "base_domain": settings.BASE_DOMAIN,
    }
