"""UserPreferencesMiddleware: a signed-in user's own language wins over the browser's,
on whole pages and on htmx partials; without one, the browser decides."""

from accounts.models import Membership


def test_it_renders_the_dashboard_in_chinese_for_a_chinese_user(acme, prefer, running_bot):
    prefer(acme.trader, "zh-hans")
    response = acme.client(acme.trader).get("/", HTTP_ACCEPT_LANGUAGE="en")
    page = response.content.decode()
    assert '<html lang="zh-hans">' in page
    assert "<h1>仪表盘</h1>" in page and "今日已实现" in page and "运行中" in page
    assert response["Content-Language"] == "zh-hans"


def test_it_renders_the_bot_pages_in_chinese_for_a_chinese_user(acme, prefer, running_bot):
    prefer(acme.trader, "zh-hans")
    client = acme.client(acme.trader)
    listing = client.get("/bots/").content.decode()
    assert "<h1>机器人</h1>" in listing and "已实现盈亏" in listing and "运行中" in listing
    assert "新建机器人：网格" in listing
    detail = client.get(f"/bots/{running_bot.pk}/").content.decode()
    # Event messages are stored texts, in the language they were written in; the page around them is not.
    assert "事件日志" in detail and "挂单" in detail
    assert "Realised PnL" not in detail


def test_an_english_user_gets_english_even_from_a_chinese_browser(acme, prefer, running_bot):
    prefer(acme.trader, "en")
    response = acme.client(acme.trader).get("/bots/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    page = response.content.decode()
    assert "<h1>Bots</h1>" in page and "Running" in page
    assert response["Content-Language"] == "en"


def test_a_user_without_a_language_follows_the_browser(acme):
    client = acme.client(acme.trader)
    assert "<h1>仪表盘</h1>" in client.get("/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9").content.decode()
    assert "<h1>Dashboard</h1>" in client.get("/", HTTP_ACCEPT_LANGUAGE="en-GB,en").content.decode()


def test_pages_vary_on_the_session_cookie_and_the_browser_language(acme, prefer):
    prefer(acme.trader, "zh-hans")
    response = acme.client(acme.trader).get("/")
    vary = {part.strip() for part in response["Vary"].split(",")}
    assert {"Cookie", "Accept-Language"} <= vary


def test_htmx_partials_are_in_the_user_s_language_too(acme, prefer):
    prefer(acme.owner, "zh-hans")
    viewer = Membership.objects.get(user=acme.viewer, tenant=acme.tenant)
    response = acme.client(acme.owner).post(f"/settings/members/{viewer.pk}/role/", {"role": "trader"},
                                            HTTP_HX_REQUEST="true", HTTP_ACCEPT_LANGUAGE="en")
    partial = response.content.decode()
    assert partial.lstrip().startswith('<div id="member-list">')
    assert "<th>邮箱</th>" in partial and "现在的角色是交易员。" in partial
    assert response["Content-Language"] == "zh-hans"


def test_the_language_does_not_stay_with_the_thread_for_the_next_visitor(acme, prefer, public_client):
    prefer(acme.trader, "zh-hans")
    acme.client(acme.trader).get("/")
    assert "Run your crypto trading bots" in public_client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()


def test_the_language_does_not_stay_with_the_thread_after_the_request(acme, prefer):
    """Code that runs next on the thread outside a request (a task, an action called by
    a command) speaks the default language, not the last visitor's."""
    from django.utils import translation

    prefer(acme.trader, "zh-hans")
    response = acme.client(acme.trader).get("/")
    assert response["Content-Language"] == "zh-hans"
    assert translation.get_language() == "en"
