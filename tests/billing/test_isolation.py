"""Billing data stays in its workspace: pages, counts, events and transitions."""

from billing.actions import do_expire, do_mark_past_due
from billing.models import BillingEvent
from billing.tasks import sweep
from tests.billing.conftest import ago, text
from tests.tenants.test_isolation import workspace_patterns


def test_the_billing_pages_are_in_the_isolation_sweep_and_closed_to_non_members():
    """tests/tenants/test_isolation.py sweeps them for outsiders and other workspaces."""
    guarded = {name for name, _route, view in workspace_patterns() if not getattr(view, "open_to_non_members", False)}
    assert {"billing", "change_plan", "change_addons"} <= guarded


def test_a_workspace_s_plan_page_counts_only_its_own_bots_connections_and_members(make_solo):
    mine, theirs = make_solo("Mine"), make_solo("Theirs")
    paper = theirs.connection()
    for n in range(3):
        theirs.bot(paper, name=f"Theirs {n}")
    response = mine.client().get("/settings/plan/")
    assert {row.quota: row.used for row in response.context["usage"]} == {
        "bots": 0, "exchange_connections": 0, "members": 1, "api_calls_per_month": 0}
    assert "Theirs" not in text(response)


def test_quotas_count_each_workspace_on_its_own(make_solo):
    mine, theirs = make_solo("Mine"), make_solo("Theirs")
    mine.on("free")
    theirs.on("free")
    mine.bot(mine.connection(), name="Mine")
    theirs.bot(theirs.connection(), name="Theirs")
    assert mine.states() == {"Mine": "draft"} and theirs.states() == {"Theirs": "draft"}


def test_one_workspace_s_expiry_leaves_the_other_s_bots_and_events_alone(make_solo):
    mine, theirs = make_solo("Mine"), make_solo("Theirs")
    for solo in (mine, theirs):
        solo.bot(solo.connection(), name="Bot", start=True)
        solo.on("basic")
    do_mark_past_due(mine.subscription)
    mine.backdate(grace_ends_at=ago(minutes=1))
    sweep()
    assert mine.states() == {"Bot": "paused"} and theirs.states() == {"Bot": "running"}
    assert not BillingEvent.objects.filter(tenant=theirs.tenant).exclude(kind="quota_warning").exists()
    assert theirs.client().post("/exchanges/new/", {"label": "More", "exchange": "paper"}).status_code == 302
    assert mine.client().post("/exchanges/new/", {"label": "More", "exchange": "paper"}).status_code == 403


def test_an_expired_workspace_s_members_elsewhere_are_not_read_only(make_solo):
    mine, theirs = make_solo("Mine"), make_solo("Theirs")
    mine.on("basic")
    do_expire(do_mark_past_due(mine.subscription))
    assert theirs.client().post("/exchanges/new/", {"label": "x", "exchange": "paper"}).status_code == 302
