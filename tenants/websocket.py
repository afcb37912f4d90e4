"""Tenancy for websockets. django-tenants' middleware only sees HTTP, so the websocket
stack resolves the workspace from the Host header itself, authenticates the session
cookie and requires a membership before any consumer runs. Anything else is refused
with a close before the handshake is accepted."""

from urllib.parse import urlsplit

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async

from accounts.models import Membership
from tenants.hosts import workspace_for_host

CLOSE_NOT_ALLOWED = 4403


def header(scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return ""


def origin_matches_host(scope) -> bool:
    """Browsers always send Origin on websockets. Sibling workspace hosts are same-site,
    so SameSite cookies alone would let a page on one workspace host open another's
    socket with the visitor's session: only the host's own origin is accepted."""
    origin = header(scope, b"origin")
    return not origin or urlsplit(origin).netloc.lower() == header(scope, b"host").lower()


@database_sync_to_async
def _membership(user, tenant):
    if not user.is_authenticated or not user.is_active:
        return None
    return Membership.objects.filter(user=user, tenant=tenant).first()


class _RequireMembership:
    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        membership = await _membership(scope["user"], scope["tenant"])
        if membership is None:
            return await _refuse(receive, send)
        scope["membership"] = membership
        return await self.inner(scope, receive, send)


class TenantWebsocketMiddleware:
    def __init__(self, inner):
        self.inner = AuthMiddlewareStack(_RequireMembership(inner))

    async def __call__(self, scope, receive, send):
        host = header(scope, b"host").split(":")[0]
        tenant = await database_sync_to_async(workspace_for_host)(host) if origin_matches_host(scope) else None
        if tenant is None:
            return await _refuse(receive, send)
        scope = dict(scope, tenant=tenant)
        return await self.inner(scope, receive, send)


async def _refuse(receive, send):
    # Wait for the client's connect, then deny the handshake.
    message = await receive()
    if message["type"] == "websocket.connect":
        await send({"type": "websocket.close", "code": CLOSE_NOT_ALLOWED})
