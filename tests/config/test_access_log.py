"""Request logging keeps secrets out: the access log line per request, and every log
record on the console, hide the secret segment of webhook, invitation and account-key
paths."""

import json
import logging

import pytest
from asgiref.sync import async_to_sync
from channels.testing import HttpCommunicator
from django.conf import settings

from config.access_log import RedactSecrets, redact
from config.asgi import application


@pytest.mark.parametrize("path, shown", [
    ("/hooks/signal/tok3n-S3cret_x/", "/hooks/signal/…/"),
    ("/invitations/abcDEF123/", "/invitations/…/"),
    ("/accounts/password/reset/key/1b-set-password/", "/accounts/password/reset/key/…/"),
    ("/accounts/confirm-email/MQ:1t2:abc/", "/accounts/confirm-email/…/"),
    ("/accounts/password/reset/key/done/", "/accounts/password/reset/key/done/"),
    ("/bots/12/", "/bots/12/"),
])
def test_secret_path_segments_are_hidden_and_others_kept(path, shown):
    assert redact(path) == shown
    assert redact(f"Not Found: {path}") == f"Not Found: {shown}"


def test_the_console_handler_hides_secrets_in_every_record():
    record = logging.LogRecord("django.request", logging.WARNING, __file__, 1, "Not Found: %s",
                               ("/invitations/abcDEF123/",), None)
    assert RedactSecrets().filter(record) is True
    assert record.getMessage() == "Not Found: /invitations/…/"
    assert settings.LOGGING["handlers"]["console"]["filters"] == ["redact_secrets"]
    # Django's own default handler on "django" would print the raw message beside it.
    printing = [h for h in logging.getLogger("django").handlers if type(h).__module__ == "logging"]
    assert len(printing) == 1
    assert [type(f).__name__ for f in printing[0].filters] == ["RedactSecrets"]


@pytest.mark.usefixtures("transactional_db")
def test_each_request_is_logged_once_with_its_status_and_without_the_webhook_token(acme, caplog):
    caplog.set_level(logging.INFO, logger="aviary.access")
    body = json.dumps({"secret": "s3cret-body", "action": "buy"}).encode()
    headers = [(b"host", acme.host.encode()), (b"content-type", b"application/json")]
    communicator = HttpCommunicator(application, "POST", "/hooks/signal/tok3n-S3cret_x/?x=1", body=body,
                                    headers=headers)
    response = async_to_sync(communicator.get_response)(timeout=10)

    lines = [r.getMessage() for r in caplog.records if r.name == "aviary.access"]
    assert response["status"] == 404
    assert len(lines) == 1
    assert '"POST /hooks/signal/…/" 404' in lines[0]
    assert "tok3n" not in caplog.text and "s3cret-body" not in caplog.text and "x=1" not in lines[0]
