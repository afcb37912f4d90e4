"""Absolute URLs across hosts: the public site and `<slug>.<BASE_DOMAIN>` workspaces.

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
