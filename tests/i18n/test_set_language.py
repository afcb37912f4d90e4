"""Visitors who are not signed in switch the language with Django's set_language, from
the selector in the public layout, on the public site and on a workspace's login page."""


def test_the_public_layout_offers_the_languages_to_a_visitor(public_client):
    page = public_client.get("/pricing/").content.decode()
    assert 'action="/i18n/setlang/"' in page
    assert '<option value="zh-hans" lang="zh-hans">简体中文</option>' in page


def test_a_visitor_switches_the_public_site_to_chinese(public_client):
    response = public_client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/pricing/"})
    assert response.status_code == 302 and response.url == "/pricing/"
    page = public_client.get("/pricing/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "<h1>价格</h1>" in page and "1 个机器人" in page


def test_a_visitor_switches_a_workspace_s_login_page_to_chinese(acme):
    client = acme.client()
    assert client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/accounts/login/"}).status_code == 302
    page = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="zh-hans">' in page and "登录" in page


def test_it_will_not_redirect_to_another_site(public_client):
    response = public_client.post("/i18n/setlang/", {"language": "zh-hans", "next": "https://evil.example/"})
    assert response.url == "/"
