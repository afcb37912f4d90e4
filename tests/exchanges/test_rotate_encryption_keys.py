from io import StringIO
from unittest import mock

import pytest
from django.core.management import call_command
from django_tenants.utils import schema_context

from exchanges import actions, vault
from exchanges.actions import do_create_connection
from exchanges.models import ExchangeConnection

NEW_KEY = vault.generate_key_spec("test3")


def connections_of(*workspaces):
    found = {}
    for workspace in workspaces:
        with schema_context(workspace.tenant.schema_name):
            for connection in ExchangeConnection.objects.exclude(credentials_blob=b""):
                found[(workspace.tenant.slug, connection.label)] = (
                    connection.credentials_key_id, connection.credentials(workspace.tenant.schema_name)
                )
    return found


@pytest.fixture
def sealed_under_old_keys(acme, globex, settings):
    """Three connections in two workspaces, sealed under test1 and test2."""
    original = list(settings.ENCRYPTION_KEYS)
    settings.ENCRYPTION_KEYS = original[1:]  # test1 only
    for number, workspace in enumerate((acme, acme, globex)):
        do_create_connection(
            workspace.tenant, label=f"Binance {number}", exchange="binance", actor=workspace.owner,
            credentials={"apiKey": f"key-{number}-abcdefgh", "secret": f"secret-{number}-zz"},
        )
    settings.ENCRYPTION_KEYS = original  # test2 newest
    do_create_connection(globex.tenant, label="Binance 3", exchange="binance", actor=globex.owner,
                         credentials={"apiKey": "key-3-abcdefgh", "secret": "secret-3-zz"})
    settings.ENCRYPTION_KEYS = [NEW_KEY, *original]  # then test3 arrives
    return connections_of(acme, globex)


def test_it_reseals_every_connection_of_every_workspace_under_the_newest_key(acme, globex, sealed_under_old_keys, settings):
    out = StringIO()
    call_command("rotate_encryption_keys", stdout=out)
    after = connections_of(acme, globex)
    assert {key_id for key_id, _ in after.values()} == {"test3"}
    assert {label: creds for label, (_, creds) in after.items()} == {
        label: creds for label, (_, creds) in sealed_under_old_keys.items()
    }
    assert "4 re-sealed under key test3" in out.getvalue()
    # The old keys can go now.
    settings.ENCRYPTION_KEYS = [NEW_KEY]
    assert connections_of(acme, globex) == after


def test_an_interrupted_rotation_resumes_where_it_stopped(acme, globex, sealed_under_old_keys):
    real = actions.do_reseal_connection
    calls = []

    def dies_on_the_third(tenant, connection_id):
        calls.append(connection_id)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(tenant, connection_id)

    with mock.patch("exchanges.management.commands.rotate_encryption_keys.do_reseal_connection", dies_on_the_third):
        with pytest.raises(KeyboardInterrupt):
            call_command("rotate_encryption_keys", stdout=StringIO())
    halfway = connections_of(acme, globex)
    assert sorted(key_id for key_id, _ in halfway.values()).count("test3") == 2
    assert all(creds == sealed_under_old_keys[label][1] for label, (_, creds) in halfway.items())

    out = StringIO()
    call_command("rotate_encryption_keys", stdout=out)
    assert {key_id for key_id, _ in connections_of(acme, globex).values()} == {"test3"}
    assert "2 re-sealed" in out.getvalue()


def test_a_second_run_has_nothing_to_do(acme, globex, sealed_under_old_keys):
    call_command("rotate_encryption_keys", stdout=StringIO())
    out = StringIO()
    call_command("rotate_encryption_keys", stdout=out)
    assert "0 re-sealed" in out.getvalue()
