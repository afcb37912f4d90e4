"""ReadOnlyWhenExpiredMiddleware: an expired workspace refuses changes with a page
saying why, but lets its members pay, choose Free, make room and manage themselves."""

import pytest

from billing.actions import do_expire, do_mark_past_due
from billing.middleware import WRITABLE_WHEN_EXPIRED
from tests.billing.conftest import text
from tests.tenants.test_isolation import workspace_patterns


@pytest.fixture
def expired(solo):
    solo.paper = solo.connection()
    solo.running = solo.bot(solo.paper, name="Running", start=True)
    solo.on("basic")
    do_expire(do_mark_past_due(solo.subscription))
    return solo


def test_changes_are_refused_with_a_page_saying_why(expired):
    client = expired.client()
    for url, data in (("/bots/new/", {"strategy": "grid", "save": "1"}), (f"/bots/{expired.running.pk}/resume/", {}),
                      ("/exchanges/new/", {"label": "More", "exchange": "paper"}),
                      ("/settings/members/invite/", {"email": "x@example.com", "role": "viewer"})):
        response = client.post(url, data)
        assert response.status_code == 403, url
        assert "This workspace is read-only" in text(response)
    assert expired.states() == {"Running": "paused"}


def test_pages_can_still_be_read(expired):
    client = expired.client()
    for url in ("/", "/bots/", f"/bots/{expired.running.pk}/", "/exchanges/", "/settings/members/"):
        assert client.get(url).status_code == 200, url


def test_making_room_and_choosing_free_still_work(expired):
    client = expired.client()
    assert client.post(f"/bots/{expired.running.pk}/stop/").status_code == 302
    response = client.post("/settings/plan/change/", {"plan": "free"})
    assert response.status_code == 302
    assert expired.subscription.state == "active"
    # Writable again.
    assert client.post("/exchanges/new/", {"label": "More", "exchange": "paper"}).status_code == 302


def test_members_can_still_log_out_and_set_their_preferences(expired):
    client = expired.client()
    assert client.post("/accounts/preferences/", {"language": "", "time_zone": "UTC"}).status_code == 302
    assert client.post("/accounts/logout/").status_code == 302


def test_active_workspaces_are_not_affected(solo):
    assert solo.client().post("/exchanges/new/", {"label": "More", "exchange": "paper"}).status_code == 302


def test_the_views_writable_when_expired_are_exactly_the_reviewed_ones():
    names = {name for name, _route, _view in workspace_patterns()}
    assert WRITABLE_WHEN_EXPIRED <= names
    assert WRITABLE_WHEN_EXPIRED == {"billing", "change_plan", "change_addons", "preferences", "set_language",
                                     "bot_stop", "bot_delete", "connection_delete", "remove_member",
                                     "revoke_invitation", "signal_webhook"}
