"""A limit hit on a page: the action's message with a link to the plans, never a 500."""

import re

import pytest
from django.core import mail
from django.test import Client

from accounts.actions import do_invite_member
from accounts.models import Membership, Role, User
from bots.actions import do_stop_bot
from tests.billing.conftest import text
from tests.conftest import PASSWORD, make_user

PLANS_LINK = '<a href="/settings/plan/">See plans and usage</a>'


@pytest.fixture
def free(solo):
    solo.on("free")
    solo.paper = solo.connection()
    return solo


def test_creating_a_bot_over_the_limit_shows_the_message_in_the_form(free):
    free.bot(free.paper, name="Only")
    response = free.client().post("/bots/new/", {
        "strategy": "grid", "name": "Second", "connection": free.paper.pk, "symbol": "BTC/USDT",
        "p-lower_price": "59000", "p-upper_price": "61000", "p-grid_count": "5", "p-spacing": "arithmetic",
        "p-amount_per_level": "0.01", "save": "1"})
    assert response.status_code == 400
    assert "The Free plan allows 1 bot, and this workspace has 1" in text(response)
    assert PLANS_LINK in response.content.decode()


def test_a_signal_bot_on_a_plan_without_it_is_refused_in_the_form(free):
    response = free.client().post("/bots/new/", {
        "strategy": "signal", "name": "Signals", "connection": free.paper.pk, "symbol": "BTC/USDT",
        "p-size_mode": "quote", "p-size": "100", "p-strong": "execute", "p-medium": "execute", "p-weak": "alert",
        "p-ignore": "drop", "save": "1"})
    assert response.status_code == 400
    assert "Signal bots and webhooks are not part of the Free plan. Upgrade to use them." in text(response)


def test_starting_a_bot_without_a_free_slot_says_so_on_its_page(free):
    old = free.bot(free.paper, name="Old")
    do_stop_bot(free.tenant, old, actor=free.owner)
    free.bot(free.paper, name="New")
    response = free.client().post(f"/bots/{old.pk}/start/", follow=True)
    assert response.status_code == 200
    assert "The Free plan allows 1 bot" in text(response)
    assert PLANS_LINK in response.content.decode()


def test_adding_a_connection_over_the_limit_shows_the_message_in_the_form(free):
    free.connection("Second")
    response = free.client().post("/exchanges/new/", {"label": "Third", "exchange": "paper",
                                                      "market_data": "simulated", "starting_balance": "10000"})
    assert response.status_code == 400
    assert "The Free plan allows 2 exchange connections" in text(response)
    assert PLANS_LINK in response.content.decode()


def test_inviting_over_the_limit_shows_the_message_in_the_form(free):
    response = free.client().post("/settings/members/invite/", {"email": "new@example.com", "role": "trader"})
    assert response.status_code == 400
    assert "The Free plan allows 1 member" in text(response)
    assert PLANS_LINK in response.content.decode()


def test_an_invitee_signing_up_into_a_workspace_that_filled_up_is_told_so(solo, django_capture_on_commit_callbacks):
    solo.on("basic")
    with django_capture_on_commit_callbacks(execute=True):
        do_invite_member(solo.tenant, email="late@example.com", role=Role.VIEWER, actor=solo.owner)
    link = re.search(r"http://\S+(/invitations/\S+/)", mail.outbox[-1].body).group(1)
    for n in range(4):
        Membership.objects.create(user=make_user(f"member{n}"), tenant=solo.tenant, role=Role.VIEWER)
    client = Client(HTTP_HOST=f"{solo.tenant.slug}.localhost")
    response = client.post(link, {"name": "Late", "password": PASSWORD})
    assert response.status_code == 200
    assert "The Basic plan allows 5 members" in text(response)
    assert not User.objects.filter(email="late@example.com").exists()
