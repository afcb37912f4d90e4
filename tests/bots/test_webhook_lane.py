"""The signal webhook's own ASGI lane (`bots.webhook_lane`), as daphne serves it: the
same answers as the Django view, the workspace taken from the Host header, and every
other request still handed to Django."""

import json

import pytest
from asgiref.sync import async_to_sync
from channels.testing import HttpCommunicator
from django.conf import settings

from bots import webhook_lane
from bots.signals import MAX_BODY
from config.asgi import application
from tests.bots.test_signal_webhook import bot_orders, signal_bot, stored  # noqa: F401 (a fixture)

pytestmark = pytest.mark.usefixtures("transactional_db")


@pytest.fixture(autouse=True)
def _no_remembered_workspaces():
    """Every test makes its own Acme under the same host."""
    webhook_lane._workspaces.clear()


@async_to_sync
async def request(host, path, body=b"", method="POST", content_type="application/json"):
    headers = [(b"host", host.encode()), (b"content-type", content_type.encode())]
    response = await HttpCommunicator(application, method, path, body=body, headers=headers).get_response(timeout=10)
    headers = {name.decode().lower(): value.decode() for name, value in response["headers"]}
    return response["status"], headers, response["body"]


def post_signal(host, hook, **fields):
    body = json.dumps({"secret": hook.secret, **fields}).encode()
    status, headers, content = request(host, hook.url, body)
    return status, headers, json.loads(content)


def test_a_signal_through_the_lane_places_its_order_and_is_stored(acme, signal_bot):
    status, headers, answer = post_signal(f"{acme.host}:8000", signal_bot, action="enter_long", signal_id="lane-1")
    assert (status, answer["status"]) == (200, "accepted")
    assert headers["content-type"] == "application/json"
    assert [side for side, *_rest in bot_orders(acme, signal_bot.bot)] == ["buy"]
    assert stored(acme, signal_id="lane-1") == [("accepted", "")]


def test_the_lane_refuses_a_bad_secret_without_echoing_it(acme, signal_bot):
    body = json.dumps({"secret": "guessed-secret", "action": "enter_long"}).encode()
    status, _headers, content = request(acme.host, signal_bot.url, body)
    assert status == 403
    assert b"guessed-secret" not in content
    assert bot_orders(acme, signal_bot.bot) == []


def test_a_bots_webhook_is_unknown_on_another_workspaces_host(acme, globex, signal_bot):
    status, _headers, answer = post_signal(globex.host, signal_bot, action="enter_long", signal_id="lane-2")
    assert (status, answer) == (404, {"error": "Unknown webhook."})
    assert bot_orders(acme, signal_bot.bot) == []
    assert stored(acme) == []


@pytest.mark.parametrize("host", [settings.BASE_DOMAIN, "nowhere.example.com", "missing.localhost", ""])
def test_a_host_that_names_no_workspace_is_404(acme, signal_bot, host):
    status, _headers, answer = post_signal(host, signal_bot, action="enter_long")
    assert (status, answer) == (404, {"error": "Unknown webhook."})
    assert bot_orders(acme, signal_bot.bot) == []


def test_only_post_is_allowed(acme, signal_bot):
    status, headers, _content = request(acme.host, signal_bot.url, method="GET")
    assert (status, headers["allow"]) == (405, "POST")


def test_a_body_over_the_limit_is_refused_with_the_reason(acme, signal_bot):
    body = json.dumps({"secret": signal_bot.secret, "action": "enter_long", "note": "x" * MAX_BODY}).encode()
    status, _headers, content = request(acme.host, signal_bot.url, body)
    assert status == 400
    assert json.loads(content)["error"] == f"The body is larger than {MAX_BODY} bytes."


def test_rate_limit_answers_429_with_retry_after(acme, signal_bot, settings):
    settings.SIGNAL_RATE_PER_MINUTE = 1
    first, _headers, _answer = post_signal(acme.host, signal_bot, action="enter_long", signal_id="lane-3")
    second, headers, _answer = post_signal(acme.host, signal_bot, action="exit_long", signal_id="lane-4")
    assert (first, second) == (200, 429)
    assert int(headers["retry-after"]) > 0


def test_every_other_request_still_goes_to_django(acme, signal_bot):
    status, headers, _content = request(acme.host, "/bots/", method="GET")
    assert status == 302 and "/accounts/login/" in headers["location"]


def test_a_failure_inside_answers_500_in_json_without_details_and_logs_no_token(acme, signal_bot, monkeypatch,
                                                                                  caplog):
    def broken(*args):
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr("bots.webhooks.receive_signal", broken)
    status, headers, content = request(acme.host, signal_bot.url, b"{}")
    assert (status, headers["content-type"]) == (500, "application/json")
    assert b"hunter2" not in content
    token = signal_bot.url.split("/")[-2]
    assert "Signal webhook on" in caplog.text
    assert token[:6] not in caplog.text
