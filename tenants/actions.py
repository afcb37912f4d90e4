"""State changes of tenants: the public site, the template schema, workspaces."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django_tenants.utils import get_public_schema_name, schema_context

from accounts import audit
from accounts.models import Membership, Role
from billing.actions import do_start_subscription
from tenants.cloning import clone_template_into
from tenants.models import Domain, Tenant
from tenants.slugs import schema_name_for, slug_from_name, validate_slug


def do_create_workspace(*, name: str, owner, actor, slug: str | None = None) -> Tenant:
    """Create a workspace: its schema (a copy of the template), its domain and the
    owner's membership, all or nothing."""
    name = name.strip()
    slug = slug or slug_from_name(name)
    validate_slug(slug)
    taken = ValidationError(
        _("The address “%(slug)s” is already taken. Please choose another workspace name.") % {"slug": slug},
        code="taken",
    )
    # Tenants are created from the public schema, whichever host the caller is on.
    with schema_context(get_public_schema_name()), transaction.atomic():
        if Tenant.objects.filter(slug=slug).exists():
            raise taken
        tenant = Tenant(name=name, slug=slug, schema_name=schema_name_for(slug), kind=Tenant.Kind.WORKSPACE)
        try:
            with transaction.atomic():
                tenant.save()
        except IntegrityError:
            raise taken from None
        clone_template_into(tenant.schema_name)
        Domain.objects.create(domain=f"{slug}.{settings.BASE_DOMAIN}", tenant=tenant, is_primary=True)
        Membership.objects.create(user=owner, tenant=tenant, role=Role.OWNER)
        do_start_subscription(tenant, actor=actor)
        audit.record("workspace.created", actor=actor, tenant=tenant, target=slug, name=name)
    return tenant


def do_ensure_public_site() -> Tenant:
    """The public schema's tenant row and its domain, BASE_DOMAIN. Idempotent."""
    with schema_context(get_public_schema_name()), transaction.atomic():
        public, _created = Tenant.objects.get_or_create(
            schema_name="public", defaults={"name": "Aviary", "kind": Tenant.Kind.PUBLIC}
        )
        Domain.objects.update_or_create(
            domain=settings.BASE_DOMAIN, defaults={"tenant": public, "is_primary": True}
        )
    return public


def do_ensure_template_schema() -> Tenant:
    """The migrated schema every new workspace is cloned from. Being a Tenant row,
    `migrate_schemas` keeps it current along with the workspaces. Idempotent."""
    with schema_context(get_public_schema_name()):
        template, _created = Tenant.objects.get_or_create(
            schema_name=settings.TENANT_TEMPLATE_SCHEMA,
            defaults={"name": "Workspace template", "kind": Tenant.Kind.TEMPLATE},
        )
        # Creates and migrates the schema when it is missing.
        template.create_schema(check_if_exists=True, verbosity=0)
    return template
