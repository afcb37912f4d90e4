"""The signal webhook under the workspace's plan: its feature flag and its rate a minute,
counted in the same statement as the bot's own limit."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.actions import do_end_trial
from billing.models import Plan
from bots.actions import webhook_credentials


@pytest.fixture
def hooks(solo, market):
    """Two running signal bots during the Pro trial."""
    paper = solo.connection()
    bots = [solo.bot(paper, "signal", name=f"Signals {n}", start=True) for n in (1, 2)]

    def post(bot, signal_id):
        credentials = webhook_credentials(solo.tenant, bot)
        body = {"secret": credentials["secret"], "action": "buy", "strength": "ignore", "signal_id": signal_id}
        return solo.client().post(f"/hooks/signal/{credentials['token']}/", json.dumps(body),
                                  content_type="application/json")

    solo.post, solo.signal_bots = post, bots
    return solo


def test_the_workspace_s_signals_are_held_to_its_plan_rate_across_its_bots(hooks, settings):
    Plan.objects.filter(key="pro").update(api_rate_per_minute=3)  # as staff would in the admin
    first, second = hooks.signal_bots
    statuses = [hooks.post(bot, str(n)).status_code for n, bot in enumerate([first, second, first, second])]
    assert statuses == [200, 200, 200, 429]
    refused = hooks.post(first, "again")
    assert refused.status_code == 429 and 1 <= int(refused["Retry-After"]) <= 60


def test_one_statement_counts_a_signal_against_both_limits_and_the_plan_costs_no_query(hooks):
    with CaptureQueriesContext(connection) as queries:
        assert hooks.post(hooks.signal_bots[0], "one").status_code == 200
    assert len([q for q in queries.captured_queries if "tenants_ratecounter" in q["sql"]]) == 1
    # The plan came with the tenant, in the host lookup.
    assert [q["sql"] for q in queries.captured_queries if "billing_plan" in q["sql"]] == [
        q["sql"] for q in queries.captured_queries if "tenants_domain" in q["sql"]]


def test_after_the_trial_the_free_plan_refuses_signals(hooks):
    do_end_trial(hooks.subscription)
    response = hooks.post(hooks.signal_bots[0], "late")
    assert response.status_code == 403
    assert response.json() == {"error": "The workspace's plan does not include webhooks."}
