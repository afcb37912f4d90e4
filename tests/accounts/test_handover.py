import pytest
from django.core import signing
from django.test import override_settings
from django.utils import timezone

from accounts.actions import HANDOVER_SALT, do_issue_handover
from accounts.models import HandoverToken


def redeem(workspace, token):
    client = workspace.client()
    response = client.get("/handover/", {"token": token})
    return client, response


def test_a_fresh_token_logs_the_user_in_on_the_workspace_host(acme):
    client, response = redeem(acme, do_issue_handover(acme.owner, acme.tenant))
    assert response.status_code == 302
    assert response.url == "/"
    assert client.get("/").context["user"] == acme.owner


def test_a_reused_token_is_refused(acme):
    token = do_issue_handover(acme.owner, acme.tenant)
    redeem(acme, token)
    client, response = redeem(acme, token)
    assert response.status_code == 400
    assert b"already been used" in response.content
    assert not client.get("/").wsgi_request.user.is_authenticated


def test_an_expired_token_is_refused(acme):
    token = do_issue_handover(acme.owner, acme.tenant)
    with override_settings(HANDOVER_TOKEN_MAX_AGE=-1):
        client, response = redeem(acme, token)
    assert response.status_code == 400
    assert b"expired" in response.content
    assert HandoverToken.objects.get().used_at is None


@pytest.mark.parametrize("tamper", [lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"), lambda t: "x" + t, lambda t: ""])
def test_a_tampered_token_is_refused(acme, tamper):
    client, response = redeem(acme, tamper(do_issue_handover(acme.owner, acme.tenant)))
    assert response.status_code == 400
    assert b"not valid" in response.content
    assert not client.get("/").wsgi_request.user.is_authenticated


def test_a_token_forged_with_another_users_id_is_refused(acme):
    token = do_issue_handover(acme.viewer, acme.tenant)
    payload = signing.loads(token, salt=HANDOVER_SALT)
    forged = token.replace(token.split(":")[0], signing.dumps({**payload, "u": acme.owner.pk}, salt="x").split(":")[0])
    _, response = redeem(acme, forged)
    assert response.status_code == 400


def test_a_token_for_another_workspace_is_refused_and_stays_unused(acme, globex):
    globex_member = globex.owner
    token = do_issue_handover(globex_member, globex.tenant)
    _, response = redeem(acme, token)
    assert response.status_code == 400
    assert b"another workspace" in response.content
    assert HandoverToken.objects.get(user=globex_member).used_at is None


def test_a_token_whose_holder_lost_membership_is_refused(acme):
    token = do_issue_handover(acme.trader, acme.tenant)
    acme.tenant.memberships.filter(user=acme.trader).delete()
    _, response = redeem(acme, token)
    assert response.status_code == 400


def test_no_token_is_issued_to_a_non_member(acme):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        do_issue_handover(acme.outsider, acme.tenant)
    assert not HandoverToken.objects.exists()


def test_redeeming_marks_the_token_spent(acme):
    redeem(acme, do_issue_handover(acme.owner, acme.tenant))
    assert HandoverToken.objects.get().used_at <= timezone.now()
