"""do_ensure_plans and do_ensure_subscriptions, which init_system runs."""

from decimal import Decimal

from django.core.management import call_command

from billing.actions import do_ensure_plans, do_ensure_subscriptions
from billing.models import AddOn, Plan, Subscription
from tests.billing.conftest import plan


def test_the_plans_are_the_published_price_table(db):
    rows = {p.key: (p.price_per_month, p.bots, p.exchange_connections, p.members, p.api_calls_per_month,
                    p.api_rate_per_minute, p.log_retention_days, p.backup_retention_days,
                    p.webhooks_and_signal_bots, p.pair_spread_hedge) for p in Plan.objects.all()}
    assert rows == {
        "free": (Decimal("0"), 1, 2, 1, 1_000, 10, 7, 7, False, False),
        "basic": (Decimal("29"), 3, 3, 5, 10_000, 50, 14, 14, False, False),
        "pro": (Decimal("99"), 10, 5, 20, 100_000, 200, 30, 30, True, True),
        "premium": (Decimal("299"), 50, 10, None, None, 1_000, 90, 90, True, True),
    }
    assert dict(AddOn.objects.values_list("key", "price_per_month")) == {
        "extra_bot_slot": Decimal("10"), "extended_backup_retention": Decimal("20")}


def test_seeding_again_keeps_what_staff_edited_and_restores_what_is_missing(db):
    Plan.objects.filter(key="basic").update(price_per_month=Decimal("25"))
    AddOn.objects.filter(key="extra_bot_slot").delete()
    do_ensure_plans()
    assert plan("basic").price_per_month == Decimal("25")
    assert Plan.objects.count() == 4
    assert AddOn.objects.get(key="extra_bot_slot").price_per_month == Decimal("10")


def test_workspaces_from_before_billing_get_the_signup_trial_once(make_solo):
    older, newer = make_solo("Older"), make_solo("Newer")
    Subscription.objects.filter(tenant=older.tenant).delete()
    assert do_ensure_subscriptions() == 1
    assert do_ensure_subscriptions() == 0
    assert older.subscription.state == Subscription.State.TRIALING
    assert Subscription.objects.count() == 2


def test_init_system_seeds_plans_and_subscriptions(make_solo):
    solo = make_solo()
    Subscription.objects.filter(tenant=solo.tenant).delete()
    Plan.objects.filter(key="premium").delete()
    call_command("init_system", verbosity=0)
    assert plan("premium").bots == 50
    assert solo.subscription.plan.key == "pro"
