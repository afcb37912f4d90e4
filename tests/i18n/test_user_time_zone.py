"""Times are shown in the signed-in user's time zone, in their language's format."""

from datetime import UTC, datetime

from django.utils import timezone
from django_tenants.utils import schema_context

from bots.models import Bot, BotEvent

MIDNIGHT_UTC = datetime(2026, 11, 22, 0, 0, tzinfo=UTC)


def ticked_at_midnight_utc(acme, bot):
    with schema_context(acme.tenant.schema_name):
        Bot.objects.filter(pk=bot.pk).update(last_tick_at=MIDNIGHT_UTC.timestamp())
        BotEvent.objects.filter(bot=bot).update(created_at=MIDNIGHT_UTC)


def test_a_chinese_user_in_shanghai_sees_the_last_tick_at_eight_in_the_morning(acme, prefer, running_bot):
    ticked_at_midnight_utc(acme, running_bot)
    prefer(acme.trader, "zh-hans", "Asia/Shanghai")
    page = acme.client(acme.trader).get(f"/bots/{running_bot.pk}/").content.decode()
    assert "2026年11月22日 08:00" in page


def test_an_english_user_in_new_york_sees_it_at_seven_the_evening_before(acme, prefer, running_bot):
    ticked_at_midnight_utc(acme, running_bot)
    prefer(acme.trader, "en", "America/New_York")
    page = acme.client(acme.trader).get(f"/bots/{running_bot.pk}/").content.decode()
    assert "11/21/2026 7 p.m." in page


def test_the_dashboard_s_events_are_in_the_user_s_time_zone(acme, prefer, running_bot):
    ticked_at_midnight_utc(acme, running_bot)
    prefer(acme.trader, "zh-hans", "Asia/Tokyo")
    page = acme.client(acme.trader).get("/").content.decode()
    assert "<time>2026年11月22日 09:00</time>" in page


def test_the_time_zone_ends_with_the_request(acme, prefer, running_bot):
    ticked_at_midnight_utc(acme, running_bot)
    prefer(acme.trader, "en", "Asia/Shanghai")
    acme.client(acme.trader).get(f"/bots/{running_bot.pk}/")
    assert timezone.get_current_timezone_name() == "UTC"
    page = acme.client(acme.viewer).get(f"/bots/{running_bot.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "11/22/2026 midnight" in page
