from urllib.parse import urlsplit

from allauth.account.models import EmailAddress
from django.core import mail
from django.test import Client

from accounts.models import Membership, Role, User
from tenants.models import Domain, Tenant
from tests.conftest import PASSWORD


def sign_up(client, **overrides):
    data = {"email": "ada@example.com", "password1": PASSWORD, "workspace_name": "Ada Capital", **overrides}
    return client.post("/accounts/signup/", data)


def test_signup_creates_user_workspace_domain_and_owner_then_lands_logged_in_on_the_workspace(
    public_client, django_capture_on_commit_callbacks
):
    response = sign_up(public_client)

    assert response.status_code == 302, response.content
    user = User.objects.get(email="ada@example.com")
    tenant = Tenant.objects.get(slug="ada-capital")
    assert Domain.objects.filter(tenant=tenant, domain="ada-capital.localhost").exists()
    assert Membership.objects.get(user=user, tenant=tenant).role == Role.OWNER

    target = urlsplit(response.url)
    assert target.hostname == "ada-capital.localhost"
    assert target.path == "/handover/"

    workspace_client = Client(HTTP_HOST="ada-capital.localhost")
    arrived = workspace_client.get(f"{target.path}?{target.query}", follow=True)
    assert arrived.status_code == 200
    assert arrived.context["user"] == user
    assert arrived.context["workspace"] == tenant
    assert arrived.redirect_chain[-1][0] == "/"


def test_signup_sends_an_email_verification(public_client):
    sign_up(public_client)
    assert not EmailAddress.objects.get(email="ada@example.com").verified
    assert len(mail.outbox) == 1
    assert "ada@example.com" in mail.outbox[0].to
    assert "/accounts/confirm-email/" in mail.outbox[0].body


def test_following_the_verification_link_verifies_the_address(public_client):
    sign_up(public_client)
    link = next(word for word in mail.outbox[0].body.split() if "/accounts/confirm-email/" in word)
    path = urlsplit(link).path
    public_client.post(path)
    assert EmailAddress.objects.get(email="ada@example.com").verified


def test_a_reserved_workspace_name_is_refused_with_a_clear_message(public_client):
    response = sign_up(public_client, workspace_name="Admin")
    assert response.status_code == 200
    assert "is reserved" in response.context["form"].errors["workspace_name"][0]
    assert not User.objects.filter(email="ada@example.com").exists()


def test_a_taken_workspace_address_is_refused(public_client, acme):
    response = sign_up(public_client, workspace_name="ACME")
    assert "already taken" in response.context["form"].errors["workspace_name"][0]
    assert not User.objects.filter(email="ada@example.com").exists()


def test_a_weak_password_is_refused(public_client):
    response = sign_up(public_client, password1="123")
    assert response.context["form"].errors["password1"]
    assert not Tenant.objects.filter(slug="ada-capital").exists()


def test_a_workspace_host_has_no_signup_and_sends_people_to_the_public_one(acme):
    response = acme.client().get("/accounts/signup/")
    assert response.status_code == 302
    assert response.url == "http://localhost/accounts/signup/"


def test_login_on_the_public_site_hands_over_to_the_only_workspace(public_client, acme):
    response = public_client.post("/accounts/login/", {"login": acme.owner.email, "password": PASSWORD})
    assert response.status_code == 302
    assert urlsplit(response.url).hostname == acme.host
    assert urlsplit(response.url).path == "/handover/"


def test_login_on_the_public_site_lists_several_workspaces(public_client, acme, globex):
    Membership.objects.create(user=acme.owner, tenant=globex.tenant, role=Role.VIEWER)
    response = public_client.post("/accounts/login/", {"login": acme.owner.email, "password": PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == "/workspaces/"
    names = [m.tenant.name for m in response.context["memberships"]]
    assert names == ["Acme", "Globex"]


def test_opening_a_workspace_from_the_list_hands_over_by_post_only(public_client, acme):
    public_client.force_login(acme.owner)
    assert public_client.get(f"/workspaces/{acme.tenant.slug}/open/").status_code == 405
    response = public_client.post(f"/workspaces/{acme.tenant.slug}/open/")
    assert urlsplit(response.url).hostname == acme.host


def test_nobody_can_open_a_workspace_they_are_not_a_member_of(public_client, acme):
    public_client.force_login(acme.outsider)
    assert public_client.post(f"/workspaces/{acme.tenant.slug}/open/").status_code == 404


def test_logging_in_on_a_workspace_host_lands_on_its_dashboard(acme):
    client = acme.client()
    response = client.post("/accounts/login/", {"login": acme.trader.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response.url == "/"
    assert client.get("/").status_code == 200
