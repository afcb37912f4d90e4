import pytest

from accounts.actions import do_update_preferences
from bots.actions import do_start_bot
from tests.bots.conftest import make_bot, paper  # noqa: F401 - fixtures shared with the bot tests


@pytest.fixture
def prefer():
    """Set a user's language and time zone the way the Preferences page does."""

    def set_preferences(user, language="", time_zone="UTC"):
        return do_update_preferences(user, language=language, time_zone=time_zone, actor=user)

    return set_preferences


@pytest.fixture
def running_bot(acme, make_bot):  # noqa: F811
    return do_start_bot(acme.tenant, make_bot(name="Grid one"), actor=acme.owner)
