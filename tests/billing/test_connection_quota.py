"""The plan's exchange connections, enforced by do_create_connection."""

import pytest

from billing import quotas
from billing.models import BillingEvent
from exchanges.actions import do_delete_connection


def test_a_connection_beyond_the_plan_is_refused(solo):
    solo.on("free")
    solo.connection("One")
    solo.connection("Two")
    with pytest.raises(quotas.QuotaExceeded) as refused:
        solo.connection("Three")
    assert refused.value.messages == ["The Free plan allows 2 exchange connections, and this workspace has 2. "
                                      "Delete one, or upgrade the plan."]


def test_deleting_a_connection_makes_room(solo):
    solo.on("free")
    solo.connection("One")
    do_delete_connection(solo.tenant, solo.connection("Two"), actor=solo.owner)
    solo.connection("Three")


def test_the_fourth_of_five_connections_warns_the_owners(solo):
    solo.on("pro")
    for label in ("1", "2", "3"):
        solo.connection(label)
    assert not BillingEvent.objects.filter(tenant=solo.tenant, kind=BillingEvent.Kind.QUOTA_WARNING).exists()
    solo.connection("4")
    assert BillingEvent.objects.get(tenant=solo.tenant, kind=BillingEvent.Kind.QUOTA_WARNING).data == {
        "quota": "exchange_connections", "used": 4, "limit": 5}
