"""Syncing plan and add-on prices to Stripe by lookup key."""

from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from billing.actions import do_ensure_stripe_prices
from billing.models import AddOn, Plan


def test_every_paid_plan_and_add_on_gets_a_monthly_usd_price_with_its_key(db, fake_stripe):
    found = do_ensure_stripe_prices()
    assert set(found) == {"basic", "pro", "premium", "extra_bot_slot", "extended_backup_retention"}
    pro = fake_stripe.object(Plan.objects.get(key="pro").stripe_price_id)
    assert (pro["lookup_key"], pro["unit_amount"], pro["currency"], pro["recurring"]["interval"]) == \
        ("pro", 9900, "usd", "month")
    assert AddOn.objects.get(key="extra_bot_slot").stripe_price_id == found["extra_bot_slot"]
    assert Plan.objects.get(key="free").stripe_price_id == ""


def test_syncing_again_finds_the_prices_instead_of_making_more(db, fake_stripe):
    first = do_ensure_stripe_prices()
    assert do_ensure_stripe_prices() == first
    assert len(fake_stripe.events("price.created")) == len(first)


def test_a_price_made_in_the_dashboard_is_found_by_its_lookup_key(db, fake_stripe):
    made = fake_stripe.add_price("Aviary Pro", 9900, lookup_key="pro")
    assert do_ensure_stripe_prices()["pro"] == made["id"]


def test_the_command_prints_the_prices_and_refuses_without_keys(db, fake_stripe, capsys, settings):
    call_command("stripe_sync_plans")
    assert "pro: price_" in capsys.readouterr().out
    settings.STRIPE_SECRET_KEY = ""
    with pytest.raises(CommandError, match="Billing is not configured"):
        call_command("stripe_sync_plans")


def test_prices_are_whole_cents_of_the_decimal_price(db, fake_stripe):
    Plan.objects.filter(key="basic").update(price_per_month=Decimal("29.99"))
    do_ensure_stripe_prices()
    assert fake_stripe.object(Plan.objects.get(key="basic").stripe_price_id)["unit_amount"] == 2999
