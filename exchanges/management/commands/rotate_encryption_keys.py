from django.core.management.base import BaseCommand
from django_tenants.utils import schema_context

from exchanges import vault
from exchanges.actions import do_reseal_connection
from exchanges.models import ExchangeConnection
from tenants.models import Tenant


class Command(BaseCommand):
    help = (
        "Re-seal every exchange connection's credentials, in every workspace, under the newest "
        "key of ENCRYPTION_KEYS. Each connection is its own transaction: safe to interrupt, and "
        "running it again carries on where it stopped. Remove an old key from ENCRYPTION_KEYS only "
        "after a run that reports nothing left on it."
    )

    def handle(self, *args, **options):
        newest = vault.newest_key_id()
        resealed = total = 0
        for tenant in Tenant.objects.workspaces().order_by("pk"):
            with schema_context(tenant.schema_name):
                pending = list(
                    ExchangeConnection.objects.exclude(credentials_key_id=newest)
                    .exclude(credentials_blob=b"")
                    .values_list("pk", flat=True)
                )
            for connection_id in pending:
                resealed += do_reseal_connection(tenant, connection_id)
            total += len(pending)
            if pending:
                self.stdout.write(f"{tenant.slug}: re-sealed {len(pending)} connection(s)")
        self.stdout.write(self.style.SUCCESS(f"Done: {resealed} re-sealed under key {newest}; none left on older keys."))
