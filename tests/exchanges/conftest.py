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

