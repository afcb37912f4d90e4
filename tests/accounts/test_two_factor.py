import base64
import hashlib
import hmac
import struct
import time

from allauth.mfa.models import Authenticator

from tests.conftest import PASSWORD


def totp(secret: str, at: float | None = None) -> str:
    """RFC 6238, written out here so the test does not trust the code under test."""
    counter = int((at or time.time()) // 30)
    digest = hmac.new(base64.b32decode(secret, casefold=True), struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return f"{(struct.unpack('>I', digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


def log_in(client, user):
    return client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})


def activate_totp(workspace, user) -> str:
    client = workspace.client()
    log_in(client, user)
    # allauth asks for the password again before security settings change.
    client.post("/accounts/reauthenticate/", {"password": PASSWORD})
    secret = client.get("/accounts/2fa/totp/activate/").context["form"].secret
    response = client.post("/accounts/2fa/totp/activate/", {"code": totp(secret)})
    assert response.status_code == 302, response.content
    return secret


def test_a_user_turns_on_totp(acme):
    activate_totp(acme, acme.owner)
    assert Authenticator.objects.filter(user=acme.owner, type=Authenticator.Type.TOTP).exists()


def test_with_totp_a_password_alone_does_not_log_in(acme):
    activate_totp(acme, acme.owner)
    client = acme.client()
    response = log_in(client, acme.owner)
    assert response.url == "/accounts/2fa/authenticate/"
    assert not client.get("/").wsgi_request.user.is_authenticated


def test_with_totp_a_wrong_code_is_refused_and_the_right_one_logs_in(acme):
    secret = activate_totp(acme, acme.owner)
    client = acme.client()
    log_in(client, acme.owner)
    wrong = f"{(int(totp(secret)) + 1) % 1_000_000:06d}"
    assert client.post("/accounts/2fa/authenticate/", {"code": wrong}).status_code == 200
    assert not client.get("/").wsgi_request.user.is_authenticated
    response = client.post("/accounts/2fa/authenticate/", {"code": totp(secret)})
    assert response.status_code == 302
    assert client.get("/").context["user"] == acme.owner


def test_the_public_site_asks_for_the_code_before_handing_over(public_client, acme):
    secret = activate_totp(acme, acme.owner)
    response = log_in(public_client, acme.owner)
    assert response.url == "/accounts/2fa/authenticate/"
    response = public_client.post("/accounts/2fa/authenticate/", {"code": totp(secret)})
    assert "/handover/?token=" in response.url
