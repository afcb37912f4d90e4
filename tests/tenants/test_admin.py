import pytest

from accounts.models import User


@pytest.fixture
def staff_client(public_client):
    staff = User.objects.create_superuser("staff@example.com", "staff password 123")
    public_client.force_login(staff)
    return public_client


@pytest.mark.parametrize(
    "path",
    [
        "/admin/",
        "/admin/tenants/tenant/",
        "/admin/tenants/domain/",
        "/admin/accounts/user/",
        "/admin/accounts/membership/",
        "/admin/accounts/invitation/",
        "/admin/accounts/auditevent/",
    ],
)
def test_staff_reach_the_admin_on_the_public_host(staff_client, acme, path):
    assert staff_client.get(path).status_code == 200


def test_staff_see_workspaces_but_not_the_template_or_public_rows_by_default(staff_client, acme):
    response = staff_client.get("/admin/tenants/tenant/?kind__exact=workspace")
    assert list(response.context["cl"].result_list) == [acme.tenant]


def test_a_customer_cannot_enter_the_admin(public_client, acme):
    public_client.force_login(acme.owner)
    response = public_client.get("/admin/tenants/tenant/")
    assert response.status_code == 302
    assert response.url.startswith("/admin/login/")


def test_the_admin_does_not_exist_on_a_workspace_host(acme):
    staff = User.objects.create_superuser("staff@example.com", "staff password 123")
    assert acme.client(staff).get("/admin/").status_code == 404
