"""do_set_addons: extra bot slots and extended backup retention."""

import pytest
from django.core.exceptions import ValidationError

from billing.actions import do_set_addons


def test_extra_bot_slots_raise_the_plan_s_bot_limit(solo):
    solo.on("free")
    do_set_addons(solo.subscription, extra_bot_slots=2, extended_backup_retention=False, actor=None)
    paper = solo.connection()
    for n in range(3):
        solo.bot(paper, name=f"Bot {n}")
    with pytest.raises(ValidationError, match="allows 3 bots"):
        solo.bot(paper, name="One too many")


def test_slots_in_use_cannot_be_given_up(solo):
    solo.on("free")
    do_set_addons(solo.subscription, extra_bot_slots=1, extended_backup_retention=False, actor=None)
    paper = solo.connection()
    solo.bot(paper, name="A")
    solo.bot(paper, name="B")
    with pytest.raises(ValidationError, match="stop some before giving up bot slots"):
        do_set_addons(solo.subscription, extra_bot_slots=0, extended_backup_retention=False, actor=None)


def test_extended_backup_retention_keeps_backups_a_year(solo):
    solo.on("basic")
    assert solo.subscription.backup_retention_days == 14
    do_set_addons(solo.subscription, extra_bot_slots=0, extended_backup_retention=True, actor=None)
    assert solo.subscription.backup_retention_days == 365
