"""The plan's members, enforced by invitations and by accepting them."""

import pytest

from accounts.actions import do_accept_invitation, do_invite_member, do_revoke_invitation
from accounts.models import Invitation, Membership, Role
from billing import quotas
from tests.conftest import make_user


def invite(solo, email):
    return do_invite_member(solo.tenant, email=email, role=Role.TRADER, actor=solo.owner)


def test_the_free_plan_has_room_for_its_owner_alone(solo):
    solo.on("free")
    with pytest.raises(quotas.QuotaExceeded, match="The Free plan allows 1 member, and this workspace has 1"):
        invite(solo, "colleague@example.com")
    assert not Invitation.objects.exists()


def test_pending_invitations_count_because_each_may_be_accepted(solo):
    solo.on("basic")
    for n in range(4):
        invite(solo, f"person{n}@example.com")
    with pytest.raises(quotas.QuotaExceeded, match="allows 5 members, and this workspace has 5 members and pending"):
        invite(solo, "sixth@example.com")
    # Inviting the same address again replaces its invitation, so it takes no more room.
    invite(solo, "person0@example.com")
    do_revoke_invitation(Invitation.objects.filter(email="person1@example.com").get(), actor=solo.owner)
    invite(solo, "sixth@example.com")


def test_accepting_is_refused_when_the_workspace_filled_up_meanwhile(solo):
    solo.on("basic")
    invitation = invite(solo, "late@example.com")
    for n in range(4):
        Membership.objects.create(user=make_user(f"member{n}"), tenant=solo.tenant, role=Role.VIEWER)
    late = make_user("late")
    late.email = "late@example.com"
    late.save()
    with pytest.raises(quotas.QuotaExceeded, match="allows 5 members"):
        do_accept_invitation(invitation, late)
    assert not Membership.objects.filter(user=late).exists()
    assert Invitation.objects.get().accepted_at is None
