"""The invitation email is written in the invitee's language and time zone when they
have an account, else in the inviter's, and names the zone its expiry is given in."""

from datetime import UTC, datetime

import pytest
from django.core import mail


@pytest.fixture(autouse=True)
def invited_at_midnight_utc(monkeypatch):
    """Invitations last 7 days: these expire on 2026-11-29 at 00:00 UTC."""
    monkeypatch.setattr("django.utils.timezone.now", lambda: datetime(2026, 11, 22, 0, 0, tzinfo=UTC))


def invite(workspace, actor, email, capture):
    with capture(execute=True):
        workspace.client(actor).post("/settings/members/invite/", {"email": email, "role": "trader"},
                                     HTTP_ACCEPT_LANGUAGE="en")
    [message] = mail.outbox
    return message


def test_a_stranger_gets_it_in_the_chinese_inviter_s_language_and_zone(acme, prefer,
                                                                        django_capture_on_commit_callbacks):
    prefer(acme.owner, "zh-hans", "Asia/Shanghai")
    message = invite(acme, acme.owner, "newbie@example.com", django_capture_on_commit_callbacks)
    assert message.subject == "[Aviary] 您受邀加入 Acme"
    assert "邀请您以交易员身份加入 Aviary 工作区“Acme”" in message.body
    assert "将于 2026年11月29日 08:00（Asia/Shanghai）过期" in message.body


def test_someone_with_an_account_gets_it_in_their_own_language_and_zone(acme, globex, prefer,
                                                                         django_capture_on_commit_callbacks):
    prefer(acme.owner, "zh-hans", "Asia/Shanghai")
    prefer(globex.viewer, "en", "America/New_York")
    message = invite(acme, acme.owner, globex.viewer.email, django_capture_on_commit_callbacks)
    assert message.subject == "[Aviary] You are invited to Acme"
    assert "as Trader" in message.body
    assert "expires on Nov. 28, 2026, 7 p.m. (America/New_York)" in message.body
