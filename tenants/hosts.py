"""Hosts: the public site and `<slug>.<BASE_DOMAIN>` workspaces. Which workspace a
host names, and absolute URLs across hosts.

With a request at hand, scheme and port come from it (so a dev server on any port,
or a test server, links to itself); without one (emails from background jobs) they
come from PUBLIC_URL.
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.urls import reverse

DEFAULT_PORTS = {"http": "80", "https": "443"}


def public_url(path: str = "/", request=None) -> str:
    return _absolute(settings.BASE_DOMAIN, path, request)


def workspace_url(tenant, path: str = "/", request=None) -> str:
    return _absolute(f"{tenant.slug}.{settings.BASE_DOMAIN}", path, request)


def workspace_reverse(tenant, viewname: str, request=None, **kwargs) -> str:
    path = reverse(viewname, urlconf=settings.ROOT_URLCONF, kwargs=kwargs or None)
    return workspace_url(tenant, path, request)


def public_reverse(viewname: str, request=None, **kwargs) -> str:
    path = reverse(viewname, urlconf=settings.PUBLIC_SCHEMA_URLCONF, kwargs=kwargs or None)
    return public_url(path, request)


def _absolute(host: str, path: str, request) -> str:
    if request is not None:
        scheme, port = request.scheme, str(request.get_port())
    else:
        parts = urlsplit(settings.PUBLIC_URL)
        scheme, port = parts.scheme, str(parts.port or DEFAULT_PORTS[parts.scheme])
    netloc = host if DEFAULT_PORTS.get(scheme) == port else f"{host}:{port}"
    return f"{scheme}://{netloc}{path}"


def workspace_for_host(host: str):
    """The workspace `host` names, with its subscription and plan (the plan's limits and
    features are read on every request), or None. For the stacks outside django-tenants'
    middleware: websockets and the signal webhook's lane."""
    from tenants.models import Domain, Tenant

    host = host.lower()
    if not host.endswith("." + settings.BASE_DOMAIN):
        return None
    domain = Domain.objects.select_related("tenant__subscription__plan").filter(domain=host).first()
    if domain is None or domain.tenant.kind != Tenant.Kind.WORKSPACE:
        return None
    return domain.tenant
