"""What a paper account is worth, in the paper exchange's quote currency: its balances
at the account's own prices, and its perpetual positions at their margin plus their
unrealised PnL. Real exchange accounts are not valued here: that needs the exchange,
which a page load should not wait for."""

from decimal import Decimal

from exchanges import markets
from exchanges.adapters import adapter_for, read_now


def paper_equity(tenant, connection) -> Decimal:
    async def read(adapter):
        balances = await adapter.fetch_balance()
        positions = await adapter.fetch_positions()
        prices = {asset: (await adapter.fetch_ticker(f"{asset}/{markets.QUOTE}"))["last"]
                  for asset, balance in balances.items() if asset != markets.QUOTE and balance["total"]}
        return balances, positions, prices

    balances, positions, prices = read_now(adapter_for(connection, tenant.schema_name), read)
    worth = sum((balance["total"] * prices.get(asset, Decimal(1)) for asset, balance in balances.items()),
                Decimal(0))
    return worth + sum((position["initialMargin"] + position["unrealizedPnl"] for position in positions), Decimal(0))
