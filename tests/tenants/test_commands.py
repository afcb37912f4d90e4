from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Membership, Role
from tenants.models import Tenant
from tests.conftest import make_user


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_init_system_can_run_again_without_harm(db):
    run("init_system")
    run("init_system")
    assert Tenant.objects.filter(kind=Tenant.Kind.PUBLIC).count() == 1
    assert Tenant.objects.filter(kind=Tenant.Kind.TEMPLATE).count() == 1


def test_seed_demo_creates_the_demo_workspace_with_running_bots_once_and_prints_the_login(db, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    first = run("seed_demo")
    second = run("seed_demo")
    demo = Tenant.objects.get(slug="demo")
    owner = Membership.objects.get(tenant=demo, role=Role.OWNER).user
    password = (tmp_path / "demo-password").read_text()
    assert owner.check_password(password)
    assert "http://demo.localhost:8000/" in first
    assert f"log in as {owner.email} with password {password}" in first
    assert first == second
    from django_tenants.utils import schema_context

    from exchanges.models import ExchangeConnection

    from bots.models import Bot

    with schema_context(demo.schema_name):
        assert list(ExchangeConnection.objects.values_list("exchange", flat=True)) == ["paper"]
        assert sorted(Bot.objects.values_list("strategy", "state")) == [("dca", "running"), ("grid", "running")]


def test_create_workspace_makes_a_workspace_for_an_existing_user(db):
    owner = make_user("owner")
    out = run("create_workspace", "Initech", "--owner", owner.email)
    tenant = Tenant.objects.get(slug="initech")
    assert Membership.objects.get(tenant=tenant).user == owner
    assert "initech.localhost" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["Initech", "--owner", "nobody@example.com"], "No user"),
        (["Initech", "--owner", "{owner}", "--slug", "www"], "reserved"),
    ],
)
def test_create_workspace_explains_what_is_wrong(db, args, message):
    owner = make_user("owner")
    with pytest.raises(CommandError, match=message):
        run("create_workspace", *[arg.format(owner=owner.email) for arg in args])
