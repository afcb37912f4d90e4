"""The signal webhook's own lane through the ASGI server.

A signal is a machine talking to a machine: no session, cookie, CSRF token, language or
membership is involved, and its answer waits on an order. Django's middleware chain
and its single thread for synchronous views (every request of a process queues behind
the one before it, including their database round trips) cost a signal more than the
order itself. So /hooks/signal/<token>/ is answered here, before Django's handler: the
workspace comes from the Host header as the tenant middleware finds it, and
`bots.webhooks.receive_signal` runs on a pool of threads, each keeping its database
connection. Everything else goes on to Django."""

import json
import logging
import re
import time

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection
from django.http.request import split_domain_port, validate_host

from bots import webhooks
from bots.signals import MAX_BODY
from tenants.hosts import workspace_for_host

logger = logging.getLogger("django.request")
PATH = re.compile(r"^/hooks/signal/(?P<token>[^/]+)/$")


class SignalWebhookLane:
    def __init__(self, django_app):
        self.django_app = django_app

    async def __call__(self, scope, receive, send):
        match = PATH.match(scope["path"]) if scope["type"] == "http" else None
        if match is None:
            return await self.django_app(scope, receive, send)
        if scope["method"] != "POST":
            return await _send(send, webhooks.Answer(405, {"error": "Use POST."}, {"Allow": "POST"}))
        body = await _read_body(receive)
        if body is None:
            return
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        try:
            answer = await sync_to_async(_answer, thread_sensitive=False)(
                headers.get("host", ""), match["token"], headers.get("content-type", ""), body)
        except Exception:
            # Logged as Django logs a failed request, without the path (its token is the
            # webhook's secret); the sender learns nothing more.
            logger.exception("Signal webhook on %s failed", headers.get("host", "")[:100])
            answer = webhooks.Answer(500, {"error": "The signal could not be handled; try again."})
        await _send(send, answer)


def _answer(host: str, token: str, content_type: str, body: bytes) -> webhooks.Answer:
    try:
        domain, _port = split_domain_port(host)
        tenant = _workspace(domain) if domain and validate_host(domain, settings.ALLOWED_HOSTS) else None
        if tenant is None:
            return webhooks.Answer(404, {"error": "Unknown webhook."})
        return webhooks.receive_signal(tenant, token, content_type.split(";")[0].strip(), body)
    finally:
        # With a pool (the web server's), each of the lane's threads keeps its connection
        # from one signal to the next: handing it back and taking one again costs more
        # than the signal's smaller statements. One that failed is dropped; without a
        # pool, connections close after each request, as Django's do.
        if connection.errors_occurred or "pool" not in connection.settings_dict.get("OPTIONS", {}):
            connection.close()


# host -> (until, workspace). Only workspaces found are kept, so a flood of made-up
# hosts cannot grow it. A plan change reaches the webhook within WORKSPACE_TTL.
_workspaces: dict = {}
WORKSPACE_TTL = 5.0


def _workspace(host: str):
    now = time.monotonic()
    until, tenant = _workspaces.get(host, (0.0, None))
    if until < now:
        tenant = workspace_for_host(host)
        if tenant is None:
            _workspaces.pop(host, None)
        else:
            _workspaces[host] = (now + WORKSPACE_TTL, tenant)
    return tenant


async def _read_body(receive) -> bytes | None:
    """The request body, cut off one byte past the limit (the webhook refuses that with
    its reason); None when the client went away."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        if size <= MAX_BODY:
            chunks.append(chunk[: MAX_BODY + 1 - size])
            size += len(chunks[-1])
        if not message.get("more_body"):
            return b"".join(chunks)


async def _send(send, answer: webhooks.Answer) -> None:
    content = json.dumps(answer.body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(content)).encode()),
               *((name.lower().encode(), value.encode()) for name, value in answer.headers.items())]
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": content})
