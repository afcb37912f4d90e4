from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from tenants.actions import do_create_workspace
from tenants.hosts import workspace_url


class Command(BaseCommand):
    help = "Create a workspace owned by an existing user."

    def add_arguments(self, parser):
        parser.add_argument("name", help="Workspace name; its address is derived from it unless --slug is given.")
        parser.add_argument("--owner", required=True, help="Email address of an existing user.")
        parser.add_argument("--slug", help="Workspace address, e.g. 'acme' for acme.<BASE_DOMAIN>.")

    def handle(self, *args, name, owner, slug=None, **options):
        user = User.objects.filter(email__iexact=owner).first()
        if user is None:
            raise CommandError(f"No user with email {owner}.")
        try:
            tenant = do_create_workspace(name=name, slug=slug, owner=user, actor=None)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        self.stdout.write(self.style.SUCCESS(f"Created {tenant.name} at {workspace_url(tenant)}"))
