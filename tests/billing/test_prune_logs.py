"""billing.tasks.prune_logs: bot logs kept as long as the workspace's plan says."""

from django_tenants.utils import schema_context

from billing.tasks import prune_logs
from bots.actions import record_event
from bots.models import BotEvent
from tests.billing.conftest import ago


def test_bot_events_are_kept_as_long_as_each_workspace_s_plan_keeps_logs(make_solo):
    free, premium = make_solo("Free one"), make_solo("Premium one")
    free.on("free")
    premium.on("premium")
    for solo in (free, premium):
        bot = solo.bot(solo.connection())
        with schema_context(solo.tenant.schema_name):
            for days in (3, 10, 100):
                event = record_event(bot, BotEvent.Kind.NOTE, f"{days} days old")
                BotEvent.objects.filter(pk=event.pk).update(created_at=ago(days=days))
    prune_logs()
    for solo, kept in ((free, ["3 days old"]), (premium, ["10 days old", "3 days old"])):
        with schema_context(solo.tenant.schema_name):
            notes = BotEvent.objects.filter(kind=BotEvent.Kind.NOTE).values_list("message", flat=True)
            assert sorted(notes) == kept
