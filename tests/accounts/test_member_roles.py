import pytest

from accounts.models import AuditEvent, Membership, Role


def membership(workspace, user):
    return Membership.objects.get(user=user, tenant=workspace.tenant)


def change_role(workspace, actor, target, role, **headers):
    return workspace.client(actor).post(
        f"/settings/members/{membership(workspace, target).pk}/role/", {"role": role}, **headers
    )


def test_an_owner_changes_a_role(acme):
    response = change_role(acme, acme.owner, acme.viewer, Role.TRADER)
    assert response.status_code == 302
    assert membership(acme, acme.viewer).role == Role.TRADER
    event = AuditEvent.objects.get(action="member.role_changed")
    assert event.data == {"previous": "viewer", "role": "trader"}


def test_an_htmx_role_change_answers_with_the_member_list_partial(acme):
    response = change_role(acme, acme.owner, acme.viewer, Role.ADMIN, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="member-list">')
    assert "<html" not in body
    assert acme.viewer.email in body


def test_an_owner_can_make_another_owner(acme):
    change_role(acme, acme.owner, acme.admin, Role.OWNER)
    assert membership(acme, acme.admin).role == Role.OWNER


def test_an_admin_cannot_grant_or_touch_the_owner_role(acme):
    assert change_role(acme, acme.admin, acme.viewer, Role.OWNER).status_code == 403
    assert change_role(acme, acme.admin, acme.owner, Role.VIEWER).status_code == 403
    assert membership(acme, acme.owner).role == Role.OWNER
    assert membership(acme, acme.viewer).role == Role.VIEWER


@pytest.mark.parametrize("role", ["trader", "viewer"])
def test_traders_and_viewers_cannot_change_roles(acme, role):
    assert change_role(acme, getattr(acme, role), acme.admin, Role.VIEWER).status_code == 403
    assert membership(acme, acme.admin).role == Role.ADMIN


def test_the_last_owner_cannot_step_down(acme):
    from accounts.actions import do_change_member_role
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        do_change_member_role(membership(acme, acme.owner), role=Role.ADMIN, actor=acme.owner)
    assert membership(acme, acme.owner).role == Role.OWNER


def test_an_unknown_role_changes_nothing(acme):
    change_role(acme, acme.owner, acme.viewer, "emperor")
    assert membership(acme, acme.viewer).role == Role.VIEWER


def test_a_role_cannot_be_changed_through_another_workspace(acme, globex):
    response = globex.client(globex.owner).post(
        f"/settings/members/{membership(acme, acme.viewer).pk}/role/", {"role": Role.OWNER}
    )
    assert response.status_code == 404
    assert membership(acme, acme.viewer).role == Role.VIEWER


def test_a_member_can_leave(acme):
    response = acme.client(acme.trader).post(f"/settings/members/{membership(acme, acme.trader).pk}/remove/")
    assert response.status_code == 302
    assert not Membership.objects.filter(user=acme.trader, tenant=acme.tenant).exists()


def test_an_admin_removes_a_trader_but_a_trader_cannot_remove_anyone(acme):
    assert acme.client(acme.trader).post(f"/settings/members/{membership(acme, acme.viewer).pk}/remove/").status_code == 403
    assert acme.client(acme.admin).post(f"/settings/members/{membership(acme, acme.trader).pk}/remove/").status_code == 302
    assert not Membership.objects.filter(user=acme.trader, tenant=acme.tenant).exists()
    assert Membership.objects.filter(user=acme.viewer, tenant=acme.tenant).exists()


def test_the_last_owner_cannot_leave(acme):
    acme.client(acme.owner).post(f"/settings/members/{membership(acme, acme.owner).pk}/remove/")
    assert membership(acme, acme.owner).role == Role.OWNER


def test_viewers_see_the_member_list_without_controls(acme):
    response = acme.client(acme.viewer).get("/settings/members/")
    assert response.status_code == 200
    assert not response.context["can_manage"]
    assert b"<select" not in response.content
    assert b"Send invitation" not in response.content


def test_the_sole_owner_is_offered_no_leave_button(acme):
    response = acme.client(acme.owner).get("/settings/members/")
    assert response.context["sole_owner"]
    assert f'/settings/members/{membership(acme, acme.owner).pk}/remove/'.encode() not in response.content
    assert f'/settings/members/{membership(acme, acme.trader).pk}/remove/'.encode() in response.content
