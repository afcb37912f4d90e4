"""The Exchanges pages: add, test, edit, delete connections; paper balances and reset."""

import socket
from decimal import Decimal as D

import pytest
from django_tenants.utils import schema_context

from accounts.models import AuditEvent
from exchanges.actions import do_create_connection
from exchanges.models import ExchangeConnection, PaperOrder
from tests.conftest import FAKE_KEYS

BINANCE_FORM = {"label": "Main", "exchange": "binance", **FAKE_KEYS}


def stored(workspace, **filters):
    with schema_context(workspace.tenant.schema_name):
        return ExchangeConnection.objects.filter(**filters).first()


def all_pages_of(workspace, user, connection):
    client = workspace.client(user)
    return b"".join(
        client.get(path).content
        for path in ("/exchanges/", f"/exchanges/{connection.pk}/", f"/exchanges/{connection.pk}/edit/")
    )


def test_the_empty_list_offers_a_paper_account(acme):
    response = acme.client(acme.owner).get("/exchanges/")
    assert b"No exchange connections yet" in response.content
    assert b"/exchanges/new/?exchange=paper" in response.content


def test_an_admin_adds_a_paper_account_that_starts_with_10000_usdt(acme):
    response = acme.client(acme.admin).post("/exchanges/new/", {"label": "Practice", "exchange": "paper",
                                                                "market_data": "simulated", "starting_balance": "10000"})
    connection = stored(acme, label="Practice")
    assert response.status_code == 302 and response.url == f"/exchanges/{connection.pk}/"
    page = acme.client(acme.viewer).get(response.url)
    assert page.context["balances"] == {"USDT": {"free": D("10000"), "used": D("0"), "total": D("10000")}}
    assert connection.check_status == ExchangeConnection.CheckStatus.OK
    assert AuditEvent.objects.filter(action="exchange.connection_created", target="Practice").exists()


def test_adding_a_live_connection_checks_it_and_never_shows_the_secret_again(acme, fake_binance):
    response = acme.client(acme.admin).post("/exchanges/new/", BINANCE_FORM)
    connection = stored(acme, label="Main")
    assert response.status_code == 302
    assert connection.check_status == ExchangeConnection.CheckStatus.OK
    html = all_pages_of(acme, acme.owner, connection)
    assert FAKE_KEYS["secret"].encode() not in html
    assert FAKE_KEYS["apiKey"].encode() not in html
    assert b"\xe2\x80\xa61234" in html  # "…1234", the key's last four characters


def test_bad_credentials_are_saved_but_reported_as_failing(acme, fake_binance):
    acme.client(acme.admin).post("/exchanges/new/", {**BINANCE_FORM, "secret": "not-the-secret"})
    connection = stored(acme, label="Main")
    assert connection.check_status == ExchangeConnection.CheckStatus.FAILED
    assert "rejected the API key or secret" in connection.check_message
    assert "not-the-secret" not in connection.check_message


def test_testing_typed_credentials_stores_nothing(acme, fake_binance):
    response = acme.client(acme.admin).post("/exchanges/new/", {**BINANCE_FORM, "test": "1"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert b"Connected" in response.content
    assert b'<div id="check-result">' in response.content and b"<form" not in response.content
    assert stored(acme) is None


def test_a_test_reports_an_ip_not_whitelisted_clearly(acme, fake_binance):
    fake_binance.fail_next("GET /api/v3/account", "ip_not_whitelisted")
    response = acme.client(acme.admin).post("/exchanges/new/", {**BINANCE_FORM, "test": "1"})
    assert "IP whitelist" in response.context["check"].message


def test_a_test_reports_an_unreachable_exchange_clearly(acme, settings):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{closed_port}/api/v3"
    settings.CCXT_CLIENT_OVERRIDES = {"binance": {"api": {"public": url, "private": url}, "options": {
        "fetchMarkets": {"types": ["spot"]}, "fetchMargins": False, "fetchCurrencies": False}}}
    response = acme.client(acme.admin).post("/exchanges/new/", {**BINANCE_FORM, "test": "1"})
    assert "could not be reached" in response.context["check"].message


def test_missing_credentials_are_named(acme):
    response = acme.client(acme.admin).post("/exchanges/new/", {"label": "Main", "exchange": "okx", "apiKey": "k" * 10})
    assert response.status_code == 400
    assert "OKX needs: API secret, Passphrase." in str(response.context["form"].errors)
    assert stored(acme) is None


def test_a_sandbox_is_refused_where_the_exchange_has_none(acme):
    response = acme.client(acme.admin).post("/exchanges/new/", {"label": "K", "exchange": "kraken", "sandbox": "on",
                                                                "apiKey": "k" * 10, "secret": "s" * 10})
    assert "has no sandbox" in str(response.context["form"].errors)


def test_the_credential_fields_follow_the_chosen_exchange(acme):
    client = acme.client(acme.admin)
    okx = client.get("/exchanges/new/credentials/?exchange=okx", HTTP_HX_REQUEST="true").content
    assert b'name="password"' in okx and b"Passphrase" in okx and b'name="sandbox"' in okx
    paper = client.get("/exchanges/new/credentials/?exchange=paper", HTTP_HX_REQUEST="true").content
    assert b'name="apiKey"' not in paper and b'name="starting_balance"' in paper


@pytest.mark.parametrize("role", ["trader", "viewer"])
def test_traders_and_viewers_cannot_add_connections(acme, role):
    response = acme.client(getattr(acme, role)).post("/exchanges/new/", {"label": "X", "exchange": "paper"})
    assert response.status_code == 403
    assert stored(acme) is None


def test_a_trader_may_test_but_a_viewer_may_not(acme):
    connection = do_create_connection(acme.tenant, label="P", exchange="paper", actor=acme.owner)
    assert acme.client(acme.viewer).post(f"/exchanges/{connection.pk}/test/").status_code == 403
    assert acme.client(acme.trader).post(f"/exchanges/{connection.pk}/test/").status_code == 302


def test_editing_keeps_secrets_left_empty_and_replaces_typed_ones(acme, fake_binance):
    connection = do_create_connection(acme.tenant, label="Main", exchange="binance", credentials=FAKE_KEYS, actor=acme.owner)
    client = acme.client(acme.admin)
    client.post(f"/exchanges/{connection.pk}/edit/", {"label": "Renamed", "apiKey": "", "secret": ""})
    with schema_context(acme.tenant.schema_name):
        assert stored(acme, pk=connection.pk).credentials() == FAKE_KEYS
    client.post(f"/exchanges/{connection.pk}/edit/", {"label": "Renamed", "secret": "rotated-secret-1"})
    with schema_context(acme.tenant.schema_name):
        renamed = stored(acme, pk=connection.pk)
        assert renamed.label == "Renamed"
        assert renamed.credentials() == {**FAKE_KEYS, "secret": "rotated-secret-1"}


def test_deleting_removes_the_connection(acme):
    connection = do_create_connection(acme.tenant, label="P", exchange="paper", actor=acme.owner)
    response = acme.client(acme.admin).post(f"/exchanges/{connection.pk}/delete/")
    assert response.url == "/exchanges/"
    assert stored(acme) is None


def test_resetting_a_paper_account_starts_it_over(acme):
    connection = do_create_connection(acme.tenant, label="P", exchange="paper", actor=acme.owner,
                                      starting_balance=D("2500"))
    from asgiref.sync import async_to_sync

    from exchanges.adapters import adapter_for

    adapter = adapter_for(connection, acme.tenant.schema_name)
    async_to_sync(adapter.create_order)("BTC/USDT", "limit", "buy", D("0.01"), D("1000"))
    response = acme.client(acme.owner).post(f"/exchanges/{connection.pk}/reset/")
    assert response.status_code == 302
    page = acme.client(acme.owner).get(f"/exchanges/{connection.pk}/")
    assert page.context["balances"]["USDT"]["total"] == D("2500")
    assert page.context["open_orders"] == []
    with schema_context(acme.tenant.schema_name):
        assert not PaperOrder.objects.exists()
