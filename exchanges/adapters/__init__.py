"""Exchange adapters by key. Each is one file implementing exchanges.adapters.base."""

from asgiref.sync import async_to_sync

from exchanges.adapters.base import ExchangeAdapter
from exchanges.adapters.ccxt import CcxtAdapter
from exchanges.adapters.paper import PaperAdapter

ADAPTERS: dict[str, type[ExchangeAdapter]] = {PaperAdapter.key: PaperAdapter, CcxtAdapter.key: CcxtAdapter}


def adapter_for(connection, schema_name: str, **options) -> ExchangeAdapter:
    """The adapter for a connection: the paper exchange, or ccxt for everything else."""
    if connection.is_paper:
        return PaperAdapter(connection, schema_name, **options)
    return CcxtAdapter.for_connection(connection, schema_name, **options)


def read_now(adapter: ExchangeAdapter, reader):
    """`await reader(adapter)` from synchronous code (views, actions), then close the
    adapter: its HTTP session belongs to the event loop this ran on."""

    async def run():
        try:
            return await reader(adapter)
        finally:
            await adapter.close()

    return async_to_sync(run)()
