"""What a bot's settings will do, shown before saving: the grid's levels, the DCA
safety order ladder, the pair hedge's spread thresholds. Drawn from the same
functions the strategies trade by."""

from decimal import Decimal

from bots import charts
from bots.strategies.dca import safety_ladder
from bots.strategies.grid import grid_levels
from bots.strategies.pair_hedge import parse_multipliers
from exchanges import markets as paper_markets


def preview(tenant, strategy: str, form) -> dict | None:
    """None unless the strategy's parameters are valid. Prices are the chosen
    connection's, when it answers."""
    if not form.params.is_valid():
        return None
    params = form.params.cleaned_data
    symbols = form.symbols_from(form.data)
    connection = form.connection_from(form.data)
    price = _price(tenant, connection, symbols[0]) if symbols and symbols[0] else None
    chart = {"connection": connection.pk, "symbol": symbols[0]} if connection is not None and symbols else None
    if strategy == "grid":
        levels = grid_levels(params["lower_price"], params["upper_price"], params["grid_count"], params["spacing"])
        rows = [{"price": _round(symbols[0], level), "side": "sell" if price is not None and level > price else "buy"}
                for level in reversed(levels)]
        return {"kind": "grid", "price": price, "chart": chart, "levels": rows,
                "lines": [{**row, "title": ""} for row in rows]}
    if strategy == "dca":
        base = price or Decimal(1)
        ladder = safety_ladder(base, params["max_safety_orders"], params.get("safety_order_size") or Decimal(0),
                               params["price_deviation"], params["safety_order_volume_scale"],
                               params["safety_order_step_scale"])
        steps = [{"number": number, "price": _round(symbols[0], at), "size": size.quantize(Decimal("0.01")),
                  "drop": ((1 - at / base) * 100).quantize(Decimal("0.01"))}
                 for number, (at, size) in enumerate(ladder, start=1)]
        return {"kind": "dca", "price": price, "chart": chart, "base_order": params["base_order_size"],
                "ladder": steps, "lines": [{"price": step["price"], "side": "buy", "title": f"SO{step['number']}"}
                                           for step in steps]}
    if strategy == "pair_hedge":
        multipliers = parse_multipliers(params.get("add_multipliers") or "1")
        step = params.get("add_step") or Decimal(0)
        adds = [{"number": k, "spread": params["entry_threshold"] + step * k,
                 "value": params["position_value"] * multipliers[min(k - 1, len(multipliers) - 1)]}
                for k in range(1, params["max_adds"] + 1)]
        return {"kind": "pair_hedge", "entry": params["entry_threshold"], "adds": adds,
                "take_profit_mode": params["take_profit_mode"], "take_profit": params["take_profit"]}
    return None


def _price(tenant, connection, symbol: str) -> Decimal | None:
    if connection is not None:
        price = charts.last_price(tenant, connection, symbol)
        if price is not None:
            return _round(symbol, price)
    try:
        return paper_markets.typical_price(symbol)
    except paper_markets.UnknownMarket:
        return None


def _round(symbol: str, price: Decimal) -> Decimal:
    try:
        return paper_markets.price_to_precision(symbol, price)
    except paper_markets.UnknownMarket:
        return price.quantize(Decimal("1e-8"))
