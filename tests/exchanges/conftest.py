from decimal import Decimal

import pytest
from django_tenants.utils import schema_context

from exchanges.actions import do_create_connection
from exchanges.models import PaperAccount
from exchanges.paper_ledger import PaperLedger
from tests.exchanges.paper import T0, Clock, LedgerInSchema, ScriptedFeed


@pytest.fixture
def paper(acme):
    """A paper connection of Acme (10,000 USDT) and a way to get its ledger on a script."""
    connection = do_create_connection(acme.tenant, label="Paper", exchange="paper", actor=acme.owner)
    with schema_context(acme.tenant.schema_name):
        account = PaperAccount.objects.get(connection=connection)
        account.epoch = T0
        account.save()

    class Paper:
        def __init__(self):
            self.connection = connection
            self.clock = Clock()

        def ledger(self, paths) -> "LedgerInSchema":
            return LedgerInSchema(acme.tenant.schema_name, PaperLedger(account.pk, ScriptedFeed(paths), clock=self.clock))

    return Paper()


FAKE_KEYS = {"apiKey": "fake-key-1234", "secret": "fake-secret-5678"}


@pytest.fixture
def fake_binance(settings, monkeypatch):
    """A local fake Binance, with ccxt's `binance` pointed at it for this test, and short
    back-offs so that retries do not slow the suite."""
    from tests.fakes.binance import FakeBinance

    monkeypatch.setattr("exchanges.adapters.ccxt.FIRST_BACKOFF", 0.01)
    with FakeBinance(api_key=FAKE_KEYS["apiKey"], secret=FAKE_KEYS["secret"], fault_delay=3.0) as fake:
        fake.set_balance("USDT", Decimal("10000"))
        settings.CCXT_CLIENT_OVERRIDES = {
            "binance": {
                "api": {"public": fake.base_url + "/api/v3", "private": fake.base_url + "/api/v3"},
                # Spot markets only, from the fake's exchangeInfo: nothing else to reach.
                "options": {"fetchMarkets": {"types": ["spot"]}, "fetchMargins": False, "fetchCurrencies": False},
            }
        }
        yield fake
