import re

import pytest
from django.core import mail

from accounts.actions import do_invite_member, do_revoke_invitation
from accounts.models import Membership, Role, User
from tests.conftest import PASSWORD, make_user


@pytest.fixture
def invited(acme, django_capture_on_commit_callbacks):
    """Invite newbie@example.com to Acme as trader; return the path of the emailed link."""
    with django_capture_on_commit_callbacks(execute=True):
        do_invite_member(acme.tenant, email="newbie@example.com", role=Role.TRADER, actor=acme.owner)
    link = re.search(r"http://\S+(/invitations/\S+/)", mail.outbox[-1].body)
    return link.group(1)


def test_a_newcomer_creates_an_account_and_joins(acme, invited):
    client = acme.client()
    assert client.get(invited).status_code == 200
    response = client.post(invited, {"name": "New Bie", "password": PASSWORD})
    assert response.status_code == 302
    user = User.objects.get(email="newbie@example.com")
    assert Membership.objects.get(user=user, tenant=acme.tenant).role == Role.TRADER
    assert user.emailaddress_set.get().verified
    assert client.get("/").context["user"] == user


def test_the_link_works_only_once(acme, invited):
    acme.client().post(invited, {"password": PASSWORD})
    response = acme.client().get(invited)
    assert response.status_code == 404
    assert b"not valid" in response.content


def test_an_existing_user_signs_in_then_accepts(acme, invited):
    user = make_user("x")
    user.email = "newbie@example.com"
    user.save()
    client = acme.client()
    assert client.get(invited).context["sign_in_first"]
    client.force_login(user)
    response = client.post(invited)
    assert response.status_code == 302
    assert Membership.objects.filter(user=user, tenant=acme.tenant, role=Role.TRADER).exists()


def test_someone_signed_in_with_another_address_cannot_accept(acme, invited):
    client = acme.client(acme.outsider)
    assert client.get(invited).context["wrong_account"]
    assert client.post(invited).status_code == 403
    assert not Membership.objects.filter(user=acme.outsider, tenant=acme.tenant).exists()


def test_a_revoked_invitation_is_refused(acme, invited):
    from accounts.models import Invitation

    do_revoke_invitation(Invitation.objects.get(), actor=acme.owner)
    assert acme.client().get(invited).status_code == 404


def test_an_invitation_is_useless_on_another_workspace_host(acme, globex, invited):
    response = globex.client().post(invited, {"password": PASSWORD})
    assert response.status_code == 404
    assert not User.objects.filter(email="newbie@example.com").exists()


def test_a_weak_password_is_refused(acme, invited):
    response = acme.client().post(invited, {"password": "123"})
    assert response.status_code == 200
    assert response.context["form"].errors["password"]
    assert not User.objects.filter(email="newbie@example.com").exists()
