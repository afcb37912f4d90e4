"""The Preferences page, on the public site and on workspace hosts."""

from accounts.models import AuditEvent, User


def test_a_member_finds_it_in_the_workspace_user_menu(acme):
    page = acme.client(acme.trader).get("/").content.decode()
    assert 'href="/accounts/preferences/"' in page


def test_it_shows_the_current_choices(acme):
    acme.trader.time_zone = "Europe/Berlin"
    acme.trader.save()
    page = acme.client(acme.trader).get("/accounts/preferences/").content.decode()
    assert '<option value="Europe/Berlin" selected>' in page
    assert '<option value="zh-hans">简体中文</option>' in page
    assert "in Europe/Berlin." in page


def test_saving_on_a_workspace_host_applies_at_once_and_says_so_in_the_new_language(acme):
    client = acme.client(acme.trader)
    response = client.post("/accounts/preferences/", {"language": "zh-hans", "time_zone": "Asia/Shanghai"})
    assert response.status_code == 302 and response.url == "/accounts/preferences/"
    user = User.objects.get(pk=acme.trader.pk)
    assert (user.language, user.time_zone) == ("zh-hans", "Asia/Shanghai")
    assert AuditEvent.objects.filter(action="user.preferences_changed", actor=acme.trader).count() == 1
    page = client.get(response.url).content.decode()
    assert "偏好设置已保存。" in page
    assert "Asia/Shanghai 当前时间为" in page


def test_an_unknown_time_zone_gets_a_clear_error_and_changes_nothing(acme):
    response = acme.client(acme.trader).post("/accounts/preferences/", {"language": "", "time_zone": "Asia/Peking"})
    assert response.status_code == 400
    assert "“Asia/Peking” is not a time zone. Choose one from the list, such as Asia/Shanghai." in (
        response.content.decode())
    assert User.objects.get(pk=acme.trader.pk).time_zone == "UTC"
    assert not AuditEvent.objects.filter(action="user.preferences_changed").exists()


def test_it_works_on_the_public_site_too(acme, public_client):
    public_client.force_login(acme.trader)
    page = public_client.get("/").content.decode()
    assert 'href="/accounts/preferences/"' in page
    response = public_client.post("/accounts/preferences/", {"language": "en", "time_zone": "America/New_York"})
    assert response.status_code == 302
    assert User.objects.get(pk=acme.trader.pk).time_zone == "America/New_York"


def test_an_anonymous_visitor_is_sent_to_log_in_on_either_host(acme, public_client):
    for client in (public_client, acme.client()):
        response = client.get("/accounts/preferences/")
        assert response.status_code == 302
        assert response.url.startswith("/accounts/login/?next=")


def test_a_signed_in_outsider_uses_it_on_the_public_site_not_on_a_workspace_host(acme):
    assert acme.client(acme.outsider).get("/accounts/preferences/").status_code == 403
