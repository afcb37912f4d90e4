"""Tenant isolation across every view of the workspace host.

The sweep walks the tenant URLconf itself, so a view added later is covered without
anyone remembering to add it here: it must refuse outsiders, members of other
workspaces and anonymous visitors, and it must not reach another workspace's rows."""

import re

import pytest
from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver
from django_tenants.utils import schema_context

from accounts.actions import do_invite_member
from accounts.models import Invitation, Membership, Role
from bots.actions import do_create_bot, do_start_bot
from bots.models import Bot
from exchanges.actions import do_create_connection

# Views on a workspace host that non-members may reach, each for a reason.
OPEN_TO_NON_MEMBERS = {
    "handover": "carries a login from the public site; refuses bad tokens",
    "accept_invitation": "the invitee is not a member yet; needs the emailed token",
    "account_signup": "redirects to the public site",
    "signal_webhook": "authenticated by the bot's secret URL and the secret in the body",
    "set_language": "sets this host's language cookie for a visitor who is not signed in; nothing else",
}


def workspace_patterns():
    """(url name, route with <params>, view) for every workspace-host view but allauth's."""
    found = []

    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if pattern.urlconf_name.__name__.startswith("allauth"):
                    continue
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                found.append((pattern.name, prefix + str(pattern.pattern), pattern.callback))

    walk(get_resolver(settings.ROOT_URLCONF).url_patterns)
    return found


def fill(route, values):
    def value(match):
        name = match.group(1).split(":")[-1]
        assert name in values, f"the isolation sweep needs a value for <{name}> in {route}"
        return str(values[name])

    return "/" + re.sub(r"<([^>]+)>", value, route)


@pytest.fixture
def acme_rows(acme):
    """IDs of Acme's own rows, for every kind of URL parameter the workspace host takes."""
    invitation = do_invite_member(acme.tenant, email="pending@example.com", role=Role.VIEWER, actor=acme.owner)
    connection = do_create_connection(acme.tenant, label="Acme paper", exchange="paper", actor=acme.owner)
    bot = do_start_bot(acme.tenant, do_create_bot(
        acme.tenant, name="Acme signals", connection=connection, strategy="signal", symbols=["BTC/USDT"],
        params={"size_mode": "quote", "size": "100", "strong": "execute", "medium": "execute", "weak": "alert",
                "ignore": "drop"}, actor=acme.owner), actor=acme.owner)
    return {
        "bot_id": bot.pk,
        "number": 1,
        "verb": "pause",
        "membership_id": Membership.objects.get(tenant=acme.tenant, user=acme.viewer).pk,
        "invitation_id": invitation.pk,
        "connection_id": connection.pk,
        "token": "not-a-real-token",
    }


def guarded_urls(acme_rows):
    return [
        (name, fill(route, acme_rows))
        for name, route, view in workspace_patterns()
        if not getattr(view, "open_to_non_members", False)
    ]


def test_the_open_views_are_exactly_the_reviewed_ones():
    open_views = {name for name, _route, view in workspace_patterns() if getattr(view, "open_to_non_members", False)}
    assert open_views == set(OPEN_TO_NON_MEMBERS)


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_signed_in_outsider_gets_403_everywhere(acme, acme_rows, method):
    client = acme.client(acme.outsider)
    for name, url in guarded_urls(acme_rows):
        response = getattr(client, method)(url)
        assert response.status_code == 403, (name, url, response.status_code)
        assert acme.viewer.email.encode() not in response.content, name


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_member_of_another_workspace_gets_403_everywhere(acme, globex, acme_rows, method):
    client = acme.client(globex.owner)
    for name, url in guarded_urls(acme_rows):
        response = getattr(client, method)(url)
        assert response.status_code == 403, (name, url, response.status_code)


@pytest.mark.parametrize("method", ["get", "post"])
def test_an_anonymous_visitor_is_sent_to_login_everywhere(acme, acme_rows, method):
    client = acme.client()
    for name, url in guarded_urls(acme_rows):
        response = getattr(client, method)(url)
        assert response.status_code == 302, (name, url)
        assert response.url.startswith("/accounts/login/"), (name, response.url)


def test_another_workspace_s_rows_cannot_be_reached_through_ones_own_host(acme, globex, acme_rows):
    """Globex's owner, on Globex's host, aims every URL at Acme's row IDs."""
    client = globex.client(globex.owner)
    for name, url in guarded_urls(acme_rows):
        if not any(key in url for key in map(str, acme_rows.values())):
            continue
        response = client.post(url, {"role": Role.OWNER})
        assert response.status_code == 404, (name, url, response.status_code)
    assert Membership.objects.get(pk=acme_rows["membership_id"]).role == Role.VIEWER
    assert Invitation.objects.get(pk=acme_rows["invitation_id"]).revoked_at is None
    with schema_context(acme.tenant.schema_name):
        assert Bot.objects.get(pk=acme_rows["bot_id"]).state == Bot.State.RUNNING


def pages(workspace_patterns):
    """Parameterless guarded pages: what a member browses."""
    return [
        (name, "/" + route)
        for name, route, view in workspace_patterns
        if "<" not in route and not getattr(view, "open_to_non_members", False)
    ]


def test_a_workspace_s_pages_show_only_its_own_people(acme, globex, acme_rows):
    client = globex.client(globex.owner)
    for name, url in pages(workspace_patterns()):
        response = client.get(url)
        for person in (acme.owner, acme.admin, acme.trader, acme.viewer):
            assert person.email.encode() not in response.content, (name, person.email)
        assert b"pending@example.com" not in response.content, name


def test_members_see_every_page_of_their_own_workspace(acme, acme_rows):
    """The owner reaches every page; a viewer reaches them or is told no (never a 500)."""
    for user, allowed in ((acme.owner, (200, 405)), (acme.viewer, (200, 403, 405))):
        client = acme.client(user)
        for name, url in pages(workspace_patterns()):
            response = client.get(url)
            assert response.status_code in allowed, (name, user.email, response.status_code)
