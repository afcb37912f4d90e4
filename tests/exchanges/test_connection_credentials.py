"""Credentials of a connection are sealed to that row of that workspace."""

import pytest
from django_tenants.utils import schema_context

from exchanges.actions import do_create_connection
from exchanges.models import ExchangeConnection
from exchanges.vault import SealBroken

KEYS = {"apiKey": "AKIA-1234567890-abcd", "secret": "s3cr3t-value-xyz"}


@pytest.fixture
def binance(acme):
    return do_create_connection(acme.tenant, label="Main", exchange="binance", credentials=KEYS, actor=acme.owner)


def test_credentials_round_trip_and_only_a_hint_is_kept_in_clear(acme, binance):
    with schema_context(acme.tenant.schema_name):
        stored = ExchangeConnection.objects.get(pk=binance.pk)
        assert stored.credentials() == KEYS
        assert stored.api_key_hint == "abcd"
        assert stored.credentials_key_id == "test2"
        raw = bytes(stored.credentials_blob)
    assert KEYS["secret"].encode() not in raw and KEYS["apiKey"].encode() not in raw
    assert KEYS["secret"] not in repr(stored)


def test_a_blob_copied_to_another_row_does_not_open(acme, binance):
    other = do_create_connection(
        acme.tenant, label="Other", exchange="binance", credentials={"apiKey": "other-key-0000", "secret": "x" * 10},
        actor=acme.owner,
    )
    with schema_context(acme.tenant.schema_name):
        ExchangeConnection.objects.filter(pk=other.pk).update(
            credentials_blob=binance.credentials_blob, credentials_key_id=binance.credentials_key_id
        )
        with pytest.raises(SealBroken):
            ExchangeConnection.objects.get(pk=other.pk).credentials()


def test_a_blob_copied_into_another_workspace_does_not_open(acme, globex, binance):
    with schema_context(globex.tenant.schema_name):
        # Same id, same key, same bytes: only the tenant differs.
        copy = ExchangeConnection.objects.create(
            pk=binance.pk, label="Stolen", exchange="binance",
            credentials_key_id=binance.credentials_key_id, credentials_blob=binance.credentials_blob,
        )
        with pytest.raises(SealBroken):
            copy.credentials()
