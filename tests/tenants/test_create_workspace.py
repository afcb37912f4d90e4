import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django_tenants.utils import schema_exists

from accounts.models import AuditEvent, Membership, Role
from tenants.actions import do_create_workspace
from tenants.models import Domain, Tenant
from tests.conftest import make_user


def tables_in(schema):
    with connection.cursor() as cursor:
        cursor.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s", [schema])
        return {row[0] for row in cursor.fetchall()}


def test_it_creates_schema_domain_and_owner_membership(db):
    owner = make_user("owner")
    tenant = do_create_workspace(name="Acme Trading", owner=owner, actor=owner)

    assert tenant.slug == "acme-trading"
    assert tenant.schema_name == "ws_acme_trading"
    assert tenant.kind == Tenant.Kind.WORKSPACE
    assert schema_exists(tenant.schema_name)
    assert Domain.objects.get(tenant=tenant).domain == "acme-trading.localhost"
    assert Membership.objects.get(tenant=tenant).role == Role.OWNER
    assert AuditEvent.objects.filter(action="workspace.created", tenant=tenant, actor=owner).exists()


def test_the_new_schema_is_a_clone_of_the_migrated_template(db):
    owner = make_user("owner")
    tenant = do_create_workspace(name="Acme", owner=owner, actor=owner)
    template_tables = tables_in("tenant_template")
    assert "django_migrations" in template_tables
    assert tables_in(tenant.schema_name) == template_tables
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM "{tenant.schema_name}".django_migrations')
        cloned_migrations = cursor.fetchone()[0]
        cursor.execute('SELECT count(*) FROM "tenant_template".django_migrations')
        assert cloned_migrations == cursor.fetchone()[0]


def test_a_taken_address_is_refused_and_nothing_is_left_behind(db):
    owner = make_user("owner")
    do_create_workspace(name="Acme", owner=owner, actor=owner)
    other = make_user("other")
    with pytest.raises(ValidationError) as error:
        do_create_workspace(name="ACME", owner=other, actor=other)
    assert error.value.code == "taken"
    assert not Membership.objects.filter(user=other).exists()
    assert Tenant.objects.filter(slug="acme").count() == 1


def test_a_reserved_address_is_refused(db):
    owner = make_user("owner")
    with pytest.raises(ValidationError) as error:
        do_create_workspace(name="Admin", owner=owner, actor=owner)
    assert error.value.code == "reserved"
    assert not Tenant.objects.filter(slug="admin").exists()


def test_the_workspace_list_holds_neither_the_public_site_nor_the_template(acme):
    assert list(Tenant.objects.workspaces()) == [acme.tenant]
