import secrets

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django_tenants.utils import schema_context

from accounts.actions import do_create_user
from accounts.models import User
from exchanges.actions import do_create_connection
from exchanges.models import ExchangeConnection
from tenants.actions import do_create_workspace
from tenants.hosts import workspace_url
from tenants.models import Tenant

DEMO_EMAIL = "demo@example.com"
DEMO_SLUG = "demo"
DEMO_PAPER = "Demo paper account"


class Command(BaseCommand):
    help = "Create the demo workspace and its owner if missing, and print how to log in. Idempotent."

    def handle(self, *args, **options):
        password_file = settings.VAR_DIR / "demo-password"
        with transaction.atomic():
            owner = User.objects.filter(email=DEMO_EMAIL).first()
            if owner is None or not password_file.exists():
                password = secrets.token_urlsafe(12)
                if owner is None:
                    owner = do_create_user(DEMO_EMAIL, password, name="Demo Owner", email_verified=True)
                else:
                    # The password is only known when we keep it; start over when we don't.
                    owner.set_password(password)
                    owner.save(update_fields=["password"])
                settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
                password_file.write_text(password)
                password_file.chmod(0o600)
            demo = Tenant.objects.filter(slug=DEMO_SLUG).first()
            if demo is None:
                demo = do_create_workspace(name="Demo", slug=DEMO_SLUG, owner=owner, actor=owner)
            with schema_context(demo.schema_name):
                has_paper = ExchangeConnection.objects.filter(label=DEMO_PAPER).exists()
            if not has_paper:
                do_create_connection(demo, label=DEMO_PAPER, exchange="paper", actor=owner)
        self.stdout.write(
            f"Demo workspace: {workspace_url(demo)}\n"
            f"  log in as {DEMO_EMAIL} with password {password_file.read_text().strip()}"
        )
