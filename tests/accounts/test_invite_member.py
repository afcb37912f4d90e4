import re

import pytest
from django.core import mail

from accounts.models import AuditEvent, Invitation, Role


def invite(workspace, actor, email="newbie@example.com", role=Role.TRADER, capture=None):
    client = workspace.client(actor)
    return client.post("/settings/members/invite/", {"email": email, "role": role})


def accept_link(message):
    return re.search(r"http://\S+/invitations/\S+/", message.body).group(0)


def test_an_owner_invites_by_email_and_the_link_points_at_the_workspace(acme, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = invite(acme, acme.owner)
    assert response.status_code == 302
    invitation = Invitation.objects.get(email="newbie@example.com")
    assert invitation.role == Role.TRADER and invitation.tenant == acme.tenant
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["newbie@example.com"]
    assert accept_link(mail.outbox[0]).startswith(f"http://{acme.host}/invitations/")
    assert AuditEvent.objects.filter(action="member.invited", target="newbie@example.com").exists()


def test_the_raw_token_is_stored_nowhere(acme, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invite(acme, acme.owner)
    token = accept_link(mail.outbox[0]).rstrip("/").rsplit("/", 1)[1]
    assert token not in str(Invitation.objects.values().get())


def test_no_email_leaves_when_the_invitation_is_not_committed(acme, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        invite(acme, acme.owner)
    assert len(callbacks) == 1
    assert mail.outbox == []


@pytest.mark.parametrize("role", ["trader", "viewer"])
def test_traders_and_viewers_cannot_invite(acme, role):
    response = invite(acme, getattr(acme, role))
    assert response.status_code == 403
    assert not Invitation.objects.exists()


def test_an_admin_invites_but_cannot_invite_an_owner(acme):
    assert invite(acme, acme.admin, role=Role.ADMIN).status_code == 302
    response = invite(acme, acme.admin, email="boss@example.com", role=Role.OWNER)
    assert response.status_code == 400
    assert "role" in response.context["invite_form"].errors
    assert not Invitation.objects.filter(email="boss@example.com").exists()


def test_inviting_an_existing_member_is_refused_with_a_message(acme):
    response = invite(acme, acme.owner, email=acme.viewer.email.upper())
    assert response.status_code == 400
    assert "already a member" in response.context["invite_form"].errors["email"][0]


def test_inviting_again_replaces_the_pending_invitation(acme):
    invite(acme, acme.owner)
    invite(acme, acme.owner, role=Role.VIEWER)
    pending = [i for i in Invitation.objects.filter(email="newbie@example.com") if i.is_pending]
    assert [i.role for i in pending] == [Role.VIEWER]
