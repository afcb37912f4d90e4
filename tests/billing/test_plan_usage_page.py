"""The Plan & usage page of a workspace."""

from billing.actions import do_cancel_at_period_end, do_end_trial, do_mark_past_due, do_set_addons
from tests.billing.conftest import text


def test_it_shows_the_plan_the_trial_and_each_quota_s_use(solo):
    paper = solo.connection()
    solo.bot(paper, name="One")
    response = solo.client().get("/settings/plan/")
    assert response.status_code == 200
    page = text(response)
    assert "Pro Trial" in page and "14 days left" in page and "$99 a month" in page
    rows = {row.quota: (row.used, row.limit) for row in response.context["usage"]}
    assert rows == {"bots": (1, 10), "exchange_connections": (1, 5), "members": (1, 20),
                    "api_calls_per_month": (0, 100_000)}
    assert "Bots 1 10" in page and "Exchange connections 1 5" in page


def test_a_quota_at_80_percent_is_flagged(solo):
    solo.on("basic")
    for label in ("1", "2", "3"):
        solo.connection(label)
    page = text(solo.client().get("/settings/plan/"))
    assert "Exchange connections: 3 of 3 used, 80 % or more of the plan's limit." in page
    assert "Bots:" not in page


def test_a_workspace_over_its_limit_is_told_nothing_new_can_be_added(solo):
    paper = solo.connection()
    solo.bot(paper, name="A", start=True)
    solo.bot(paper, name="B", start=True)
    do_end_trial(solo.subscription)
    assert "Bots: 2 of 1, over the plan's limit." in text(solo.client().get("/settings/plan/"))


def test_without_stripe_keys_the_page_says_billing_is_not_configured(solo, settings):
    settings.STRIPE_SECRET_KEY = ""
    assert "Billing is not configured on this server" in text(solo.client().get("/settings/plan/"))
    settings.STRIPE_SECRET_KEY = "sk_test_configured"
    assert "Billing is not configured on this server" not in text(solo.client().get("/settings/plan/"))


def test_add_ons_are_priced_into_the_monthly_price(solo):
    solo.on("basic")
    do_set_addons(solo.subscription, extra_bot_slots=2, extended_backup_retention=True, actor=None)
    page = text(solo.client().get("/settings/plan/"))
    assert "$69 a month" in page  # 29 + 2 × 10 + 20
    assert "2 extra bot slots" in page and "Backup retention 365 days" in page


def test_the_state_and_its_dates_are_shown(make_solo):
    overdue, canceled = make_solo("Overdue"), make_solo("Canceled")
    do_mark_past_due(overdue.on("basic"))
    assert "Basic Overdue" in text(overdue.client().get("/settings/plan/"))
    assert "Grace period ends" in text(overdue.client().get("/settings/plan/"))
    do_cancel_at_period_end(canceled.on("pro"), actor=None)
    assert "Moves to the Free plan" in text(canceled.client().get("/settings/plan/"))


def test_members_who_cannot_change_the_plan_see_the_usage_without_the_controls(acme):
    response = acme.client(acme.viewer).get("/settings/plan/")
    assert response.status_code == 200
    assert b'href="/settings/plan/change/"' not in response.content
    assert b"Owners and admins change the plan and add-ons." in response.content
    assert b'href="/settings/plan/change/"' in acme.client(acme.admin).get("/settings/plan/").content
