from django.core.management import call_command
from django.core.management.base import BaseCommand

from billing.actions import do_ensure_plans, do_ensure_subscriptions
from bots.registry import ensure_leases
from bots.tasks import ensure_schedules
from tenants.actions import do_ensure_public_site, do_ensure_template_schema


class Command(BaseCommand):
    help = (
        "Bring the database up to date: migrate the public schema, the workspace template "
        "and every workspace, and make sure the public site, the plans, every workspace's "
        "subscription and the cache table exist. Idempotent."
    )

    def handle(self, *args, verbosity=1, **options):
        quiet = max(verbosity - 1, 0)
        call_command("migrate_schemas", shared=True, interactive=False, verbosity=quiet)
        do_ensure_public_site()
        do_ensure_plans()
        call_command("createcachetable", verbosity=quiet)
        do_ensure_template_schema()
        call_command("migrate_schemas", tenant=True, interactive=False, verbosity=quiet)
        do_ensure_subscriptions()
        ensure_schedules()
        ensure_leases()
        if verbosity:
            self.stdout.write(self.style.SUCCESS("Database is up to date."))
