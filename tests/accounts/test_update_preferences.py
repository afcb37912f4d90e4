"""do_update_preferences: a person's language and time zone, validated and audited."""

import pytest
from django.core.exceptions import ValidationError

from accounts.actions import do_update_preferences
from accounts.models import AuditEvent, User


def test_it_saves_the_language_and_time_zone_and_audits_the_change(acme):
    do_update_preferences(acme.trader, language="zh-hans", time_zone="Asia/Shanghai", actor=acme.trader)
    user = User.objects.get(pk=acme.trader.pk)
    assert (user.language, user.time_zone) == ("zh-hans", "Asia/Shanghai")
    event = AuditEvent.objects.get(action="user.preferences_changed")
    assert event.actor == acme.trader and event.target == acme.trader.email
    assert event.data == {"previous": {"language": "", "time_zone": "UTC"}, "language": "zh-hans",
                          "time_zone": "Asia/Shanghai"}


def test_a_new_user_follows_the_browser_in_utc(acme):
    assert (acme.viewer.language, acme.viewer.time_zone) == ("", "UTC")


def test_an_empty_language_goes_back_to_following_the_browser(acme):
    do_update_preferences(acme.trader, language="zh-hans", time_zone="UTC", actor=acme.trader)
    do_update_preferences(acme.trader, language="", time_zone="UTC", actor=acme.trader)
    assert User.objects.get(pk=acme.trader.pk).language == ""


def test_an_unknown_time_zone_is_refused_with_a_clear_message(acme):
    with pytest.raises(ValidationError) as refused:
        do_update_preferences(acme.trader, language="", time_zone="Mars/Olympus_Mons", actor=acme.trader)
    assert refused.value.message_dict == {
        "time_zone": ["“Mars/Olympus_Mons” is not a time zone. Choose one from the list, such as Asia/Shanghai."]
    }
    assert User.objects.get(pk=acme.trader.pk).time_zone == "UTC"
    assert not AuditEvent.objects.filter(action="user.preferences_changed").exists()


def test_a_language_the_site_does_not_offer_is_refused(acme):
    with pytest.raises(ValidationError) as refused:
        do_update_preferences(acme.trader, language="fr", time_zone="UTC", actor=acme.trader)
    assert list(refused.value.message_dict) == ["language"]
    assert User.objects.get(pk=acme.trader.pk).language == ""
