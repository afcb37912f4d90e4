"""Connections and paper books never cross workspaces, even where row ids coincide."""

from decimal import Decimal as D

from asgiref.sync import async_to_sync

from exchanges.actions import do_create_connection
from exchanges.adapters import adapter_for


def test_each_workspace_lists_and_opens_only_its_own_connections(acme, globex):
    acme_paper = do_create_connection(acme.tenant, label="Acme paper", exchange="paper", actor=acme.owner,
                                      starting_balance=D("1111"))
    globex_paper = do_create_connection(globex.tenant, label="Globex paper", exchange="paper", actor=globex.owner,
                                        starting_balance=D("2222"))
    assert acme_paper.pk == globex_paper.pk  # separate schemas, separate sequences

    listing = globex.client(globex.owner).get("/exchanges/").content
    assert b"Globex paper" in listing and b"Acme paper" not in listing
    detail = globex.client(globex.owner).get(f"/exchanges/{acme_paper.pk}/")
    assert detail.context["connection"].label == "Globex paper"
    assert detail.context["balances"]["USDT"]["total"] == D("2222")


def test_orders_placed_in_one_workspace_are_invisible_in_another(acme, globex):
    acme_paper = do_create_connection(acme.tenant, label="P", exchange="paper", actor=acme.owner)
    globex_paper = do_create_connection(globex.tenant, label="P", exchange="paper", actor=globex.owner)
    async_to_sync(adapter_for(acme_paper, acme.tenant.schema_name).create_order)(
        "BTC/USDT", "limit", "buy", D("0.01"), D("1000"), {"clientOrderId": "acme-1"}
    )
    globex_adapter = adapter_for(globex_paper, globex.tenant.schema_name)
    assert async_to_sync(globex_adapter.fetch_open_orders)() == []
    assert async_to_sync(globex_adapter.fetch_balance)()["USDT"]["used"] == D("0")
    page = globex.client(globex.owner).get(f"/exchanges/{globex_paper.pk}/").content
    assert b"acme-1" not in page
