from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django_tenants.utils import schema_context

from bots.models import Bot
from tenants.models import ShardLease


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_the_bot_command_drives_the_state_machine(acme, make_bot):
    bot = make_bot(name="Grid one")
    assert "is now running" in run("bot", "start", "--workspace", "acme", "--bot", str(bot.pk))
    assert "is now paused" in run("bot", "pause", "--workspace", "acme", "--bot", str(bot.pk))
    with schema_context(acme.tenant.schema_name):
        assert Bot.objects.get(pk=bot.pk).state == Bot.State.PAUSED
    out = run("bot", "inspect", "--workspace", "acme", "--bot", str(bot.pk))
    assert "Grid one" in out and "Paused" in out and "strategy grid on BTC/USDT" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["bot", "start", "--workspace", "nowhere", "--bot", "1"], "No workspace"),
        (["bot", "start", "--workspace", "acme", "--bot", "999"], "No bot 999"),
        (["bot", "resume", "--workspace", "acme", "--bot", "{bot}"], "A draft bot cannot be resumed."),
    ],
)
def test_the_bot_command_explains_what_is_wrong(acme, make_bot, args, message):
    bot = make_bot()
    with pytest.raises(CommandError, match=message):
        run(*[arg.format(bot=bot.pk) for arg in args])


def test_engine_status_shows_shards_bots_and_lapsed_leases(acme, make_bot, settings):
    settings.ENGINE_SHARDS = 2
    run("bot", "start", "--workspace", "acme", "--bot", str(make_bot().pk))
    ShardLease.objects.update_or_create(shard=0, defaults={"owner": "", "expires_at": 0})
    out = run("engine_status")
    assert "1 bots registered on 1 shard(s)." in out
    assert "LAPSED" in out
