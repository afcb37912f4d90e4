"""Exchange adapters by key. Each is one file implementing exchanges.adapters.base."""

from exchanges.adapters.base import ExchangeAdapter
from exchanges.adapters.ccxt import CcxtAdapter
from exchanges.adapters.paper import PaperAdapter

ADAPTERS: dict[str, type[ExchangeAdapter]] = {PaperAdapter.key: PaperAdapter, CcxtAdapter.key: CcxtAdapter}


def adapter_for(connection, schema_name: str, **options) -> ExchangeAdapter:
    """The adapter for a connection: the paper exchange, or ccxt for everything else."""
    if connection.is_paper:
        return PaperAdapter(connection, schema_name, **options)
    return CcxtAdapter.for_connection(connection, schema_name, **options)
