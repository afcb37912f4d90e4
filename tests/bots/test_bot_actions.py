"""Creating bots, their configuration revisions and their state machine."""

import pytest
from django.core.exceptions import ValidationError
from django_tenants.utils import schema_context

from accounts.models import AuditEvent
from bots.actions import (
    do_delete_bot, do_pause_bot, do_resume_bot, do_rollback_bot_config, do_start_bot, do_stop_bot,
    do_update_bot_config, webhook_credentials,
)
from bots.models import Bot, BotConfigRevision
from exchanges.actions import do_delete_connection
from tenants.models import BotRun
from tests.bots.conftest import GRID


def state(acme, bot):
    with schema_context(acme.tenant.schema_name):
        return Bot.objects.get(pk=bot.pk).state


def test_a_new_bot_is_a_draft_with_its_first_revision(acme, make_bot):
    bot = make_bot()
    assert bot.state == Bot.State.DRAFT
    with schema_context(acme.tenant.schema_name):
        assert list(BotConfigRevision.objects.filter(bot=bot).values_list("number", flat=True)) == [1]
    assert bot.params["lower_price"] == "59000"
    assert AuditEvent.objects.filter(action="bot.created").exists()


def test_invalid_parameters_are_refused_with_the_fields_messages(make_bot):
    with pytest.raises(ValidationError) as error:
        make_bot(params={**GRID, "upper_price": "100"})
    assert "The upper price must be above the lower price." in error.value.message_dict["upper_price"]


def test_an_unknown_symbol_or_strategy_is_refused(make_bot):
    with pytest.raises(ValidationError, match="no market NOPE/USDT"):
        make_bot(symbols=["NOPE/USDT"])
    with pytest.raises(ValidationError, match="Unknown strategy"):
        make_bot(strategy="martingale")


def test_starting_registers_the_bot_with_the_engine(acme, make_bot):
    bot = do_start_bot(acme.tenant, make_bot(), actor=acme.owner)
    assert bot.state == Bot.State.RUNNING
    assert BotRun.objects.filter(tenant=acme.tenant, bot_id=bot.pk).exists()


def test_the_state_machine_runs_draft_running_paused_stopping(acme, make_bot):
    bot = make_bot()
    do_start_bot(acme.tenant, bot, actor=acme.owner)
    do_pause_bot(acme.tenant, bot, actor=acme.owner)
    assert state(acme, bot) == Bot.State.PAUSED
    do_resume_bot(acme.tenant, bot, actor=acme.owner)
    assert state(acme, bot) == Bot.State.RUNNING
    do_stop_bot(acme.tenant, bot, actor=acme.owner)
    # The engine still has to cancel its orders.
    assert state(acme, bot) == Bot.State.STOPPING
    assert BotRun.objects.filter(bot_id=bot.pk).exists()


def test_pausing_bumps_the_registry_version_so_the_engine_notices(acme, make_bot):
    bot = do_start_bot(acme.tenant, make_bot(), actor=acme.owner)
    before = BotRun.objects.get(bot_id=bot.pk).version
    do_pause_bot(acme.tenant, bot, actor=acme.owner)
    assert BotRun.objects.get(bot_id=bot.pk).version == before + 1


@pytest.mark.parametrize(
    "steps, refused, message",
    [
        ([], do_pause_bot, "A draft bot cannot be paused."),
        ([], do_resume_bot, "A draft bot cannot be resumed."),
        ([do_start_bot], do_start_bot, "A running bot cannot be started."),
        ([do_start_bot], do_resume_bot, "A running bot cannot be resumed."),
    ],
)
def test_impossible_transitions_are_refused_clearly(acme, make_bot, steps, refused, message):
    bot = make_bot()
    for step in steps:
        step(acme.tenant, bot, actor=acme.owner)
    with pytest.raises(ValidationError, match=message):
        refused(acme.tenant, bot, actor=acme.owner)


def test_a_draft_stops_at_once(acme, make_bot):
    bot = do_stop_bot(acme.tenant, make_bot(), actor=acme.owner)
    assert bot.state == Bot.State.STOPPED


def test_settings_changes_are_versioned_and_can_be_rolled_back(acme, make_bot):
    bot = make_bot()
    do_update_bot_config(acme.tenant, bot, actor=acme.owner, params={**GRID, "grid_count": 6})
    rollback = do_rollback_bot_config(acme.tenant, bot, to_revision=1, actor=acme.owner)
    assert rollback.number == 3
    assert rollback.params["grid_count"] == 5
    with schema_context(acme.tenant.schema_name):
        current = Bot.objects.get(pk=bot.pk)
        history = list(BotConfigRevision.objects.filter(bot=bot).values_list("number", "params__grid_count", "note"))
    assert current.revision == 3 and current.params["grid_count"] == 5
    assert history == [(3, 5, "Rolled back to revision 1"), (2, 6, "Edited"), (1, 5, "Created")]


def test_an_unchanged_configuration_makes_no_new_revision(acme, make_bot):
    bot = make_bot()
    do_update_bot_config(acme.tenant, bot, actor=acme.owner, params=GRID)
    with schema_context(acme.tenant.schema_name):
        assert Bot.objects.get(pk=bot.pk).revision == 1


def test_a_new_revision_is_pushed_to_the_bots_open_pages_once_committed(acme, make_bot, monkeypatch,
                                                                        django_capture_on_commit_callbacks):
    bot = make_bot()
    pushed = []
    monkeypatch.setattr("bots.live.push", lambda schema_name, statuses: pushed.append((schema_name, statuses)))
    with django_capture_on_commit_callbacks(execute=True):
        do_update_bot_config(acme.tenant, bot, actor=acme.owner, name="Renamed")
        assert pushed == []
    [(schema_name, [status])] = pushed
    assert schema_name == acme.tenant.schema_name and status["id"] == bot.pk and status["name"] == "Renamed"


def test_rolling_back_to_a_missing_revision_is_refused(acme, make_bot):
    with pytest.raises(ValidationError, match="Revision 9 does not exist"):
        do_rollback_bot_config(acme.tenant, make_bot(), to_revision=9, actor=acme.owner)


def test_a_running_bot_cannot_be_deleted_a_stopped_one_can(acme, make_bot):
    bot = do_start_bot(acme.tenant, make_bot(), actor=acme.owner)
    with pytest.raises(ValidationError, match="Stop the bot"):
        do_delete_bot(acme.tenant, bot, actor=acme.owner)
    bot = make_bot(name="Other")
    do_delete_bot(acme.tenant, bot, actor=acme.owner)
    with schema_context(acme.tenant.schema_name):
        assert not Bot.objects.filter(pk=bot.pk).exists()


def test_a_connection_used_by_a_bot_cannot_be_deleted(acme, paper, make_bot):
    make_bot(name="Grid one")
    with pytest.raises(ValidationError) as error:
        do_delete_connection(acme.tenant, paper, actor=acme.owner)
    assert error.value.messages == ["“Paper” is used by Grid one. Delete or move those first."]


def test_the_connection_page_refuses_the_delete_with_that_message(acme, paper, make_bot):
    make_bot(name="Grid one")
    response = acme.client(acme.admin).post(f"/exchanges/{paper.pk}/delete/", follow=True)
    assert "is used by Grid one" in response.content.decode()


def test_a_signal_bot_gets_its_own_sealed_webhook_token_and_secret(acme, make_bot):
    bot = make_bot(strategy="signal", params={"size_mode": "quote", "size": "100", "strong": "execute",
                                              "medium": "execute", "weak": "alert", "ignore": "drop"})
    credentials = webhook_credentials(acme.tenant, bot)
    assert len(credentials["token"]) >= 32 and len(credentials["secret"]) >= 24
    assert credentials["token"].encode() not in bytes(bot.webhook_sealed)
