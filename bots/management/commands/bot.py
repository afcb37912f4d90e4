from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import schema_context

from bots import actions
from bots.models import Bot
from tenants.models import Tenant

VERBS = {"start": actions.do_start_bot, "pause": actions.do_pause_bot, "resume": actions.do_resume_bot,
         "stop": actions.do_stop_bot}


class Command(BaseCommand):
    help = "Start, pause, resume, stop or inspect a bot: manage.py bot <verb> --workspace SLUG --bot ID"

    def add_arguments(self, parser):
        parser.add_argument("verb", choices=[*VERBS, "inspect"])
        parser.add_argument("--workspace", required=True, help="the workspace's slug")
        parser.add_argument("--bot", type=int, required=True, help="the bot's id")

    def handle(self, *args, verb, workspace, bot, **options):
        tenant = Tenant.objects.workspaces().filter(slug=workspace).first()
        if tenant is None:
            raise CommandError(f"No workspace {workspace!r}.")
        with schema_context(tenant.schema_name):
            found = Bot.objects.select_related("connection").filter(pk=bot).first()
            if found is None:
                raise CommandError(f"No bot {bot} in {workspace}.")
            if verb == "inspect":
                return self.inspect(found)
        try:
            changed = VERBS[verb](tenant, found, actor=None)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        self.stdout.write(self.style.SUCCESS(f"{changed.name} (bot {changed.pk}) is now {changed.get_state_display().lower()}."))

    def inspect(self, bot: Bot) -> None:
        write = self.stdout.write
        write(f"{bot.name} (bot {bot.pk}): {bot.get_state_display()}" + (f" - {bot.state_reason}" if bot.state_reason else ""))
        write(f"  strategy {bot.strategy} on {', '.join(bot.symbols)} via {bot.connection.label} ({bot.connection.get_mode_display()})")
        write(f"  revision {bot.revision} (applied {bot.applied_revision}); params {bot.params}")
        write(f"  risk {bot.risk}; consecutive failures {bot.consecutive_failures}; last tick {bot.last_tick_at}")
        for position in bot.positions.all():
            write(f"  position {position.symbol}: {position.amount.normalize():f} at {position.average_price.normalize():f}, "
                  f"realised {position.realized_pnl.normalize():f}")
        for order in bot.orders.filter(status__in=["pending", "open"]):
            write(f"  open {order.client_order_id}: {order}")
        for event in bot.events.all()[:10]:
            write(f"  {event.created_at:%Y-%m-%d %H:%M:%S} {event.kind}: {event.message}")
