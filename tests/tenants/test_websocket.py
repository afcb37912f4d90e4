"""The workspace websocket: tenant from Host, session auth, membership, own group only."""

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings

from config.asgi import application
from tenants.groups import workspace_group
from tenants.websocket import CLOSE_NOT_ALLOWED

pytestmark = pytest.mark.usefixtures("transactional_db")


def session_cookie(workspace, user):
    return workspace.client(user).cookies[settings.SESSION_COOKIE_NAME].value


def communicator(host, cookie=None, origin=None):
    headers = [(b"host", host.encode())]
    if cookie:
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()))
    if origin:
        headers.append((b"origin", origin.encode()))
    return WebsocketCommunicator(application, "/ws/workspace/", headers=headers)


@async_to_sync
async def connect(host, cookie=None, origin=None):
    socket = communicator(host, cookie, origin)
    connected, code = await socket.connect()
    await socket.disconnect()
    return connected, code


@async_to_sync
async def push_and_receive(socket_host, cookie, push_to_schema):
    socket = communicator(socket_host, cookie, origin=f"http://{socket_host}")
    connected, _code = await socket.connect()
    assert connected
    await get_channel_layer().group_send(
        workspace_group(push_to_schema), {"type": "push.html", "html": "<div id='x'>hello</div>"}
    )
    nothing = await socket.receive_nothing(timeout=0.5)
    received = None if nothing else await socket.receive_from()
    await socket.disconnect()
    return received


def test_a_member_connects_and_receives_pushes_for_the_workspace(acme):
    received = push_and_receive(acme.host, session_cookie(acme, acme.viewer), acme.tenant.schema_name)
    assert received == "<div id='x'>hello</div>"


def test_a_member_receives_nothing_pushed_to_another_workspace(acme, globex):
    received = push_and_receive(acme.host, session_cookie(acme, acme.owner), globex.tenant.schema_name)
    assert received is None


def test_an_outsider_is_refused(acme):
    assert connect(acme.host, session_cookie(acme, acme.outsider)) == (False, CLOSE_NOT_ALLOWED)


def test_a_member_of_another_workspace_is_refused(acme, globex):
    assert connect(acme.host, session_cookie(acme, globex.owner)) == (False, CLOSE_NOT_ALLOWED)


def test_an_anonymous_visitor_is_refused(acme):
    assert connect(acme.host) == (False, CLOSE_NOT_ALLOWED)


def test_an_unknown_host_is_refused(acme):
    assert connect("nowhere.localhost", session_cookie(acme, acme.owner)) == (False, CLOSE_NOT_ALLOWED)


def test_the_public_host_has_no_workspace_socket(acme):
    assert connect(settings.BASE_DOMAIN, session_cookie(acme, acme.owner)) == (False, CLOSE_NOT_ALLOWED)


def test_a_page_on_another_host_cannot_open_the_socket_with_the_visitors_cookie(acme, globex):
    cookie = session_cookie(acme, acme.owner)
    assert connect(acme.host, cookie, origin=f"http://{globex.host}") == (False, CLOSE_NOT_ALLOWED)
    assert connect(acme.host, cookie, origin=f"http://{acme.host}")[0] is True
