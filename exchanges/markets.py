"""The markets of the paper exchange, in ccxt's unified market shape, and Decimal
precision helpers that behave like ccxt's TICK_SIZE precision mode (amounts are
truncated to the step, prices rounded to the tick).

Spot fees are charged in the quote currency on both sides; perpetuals are linear,
USDT-margined, with isolated margin per position.
"""

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal

SPOT_FEES = {"maker": Decimal("0.001"), "taker": Decimal("0.001")}
SWAP_FEES = {"maker": Decimal("0.0002"), "taker": Decimal("0.0005")}
QUOTE = "USDT"

# base: (typical price, price tick, amount step, max leverage of the perpetual)
_ASSETS = {
    "BTC": (Decimal("60000"), Decimal("0.01"), Decimal("0.00001"), 50),
    "ETH": (Decimal("3000"), Decimal("0.01"), Decimal("0.0001"), 50),
    "SOL": (Decimal("150"), Decimal("0.01"), Decimal("0.001"), 20),
    "BNB": (Decimal("550"), Decimal("0.01"), Decimal("0.001"), 20),
    "XRP": (Decimal("0.6"), Decimal("0.0001"), Decimal("0.1"), 20),
    "ADA": (Decimal("0.45"), Decimal("0.0001"), Decimal("0.1"), 20),
    "DOGE": (Decimal("0.15"), Decimal("0.00001"), Decimal("1"), 20),
    "LTC": (Decimal("80"), Decimal("0.01"), Decimal("0.001"), 20),
}
MIN_COST = Decimal("5")


def _market(base: str, swap: bool) -> dict:
    price, tick, step, leverage = _ASSETS[base]
    symbol = f"{base}/{QUOTE}:{QUOTE}" if swap else f"{base}/{QUOTE}"
    fees = SWAP_FEES if swap else SPOT_FEES
    return {
        "id": f"{base}{QUOTE}{'-PERP' if swap else ''}",
        "symbol": symbol,
        "base": base,
        "quote": QUOTE,
        "settle": QUOTE if swap else None,
        "type": "swap" if swap else "spot",
        "spot": not swap,
        "swap": swap,
        "linear": True if swap else None,
        "contract": swap,
        "contractSize": Decimal("1") if swap else None,
        "active": True,
        "maker": fees["maker"],
        "taker": fees["taker"],
        "precision": {"amount": step, "price": tick},
        "limits": {
            "amount": {"min": step, "max": None},
            "price": {"min": tick, "max": None},
            "cost": {"min": MIN_COST, "max": None},
            "leverage": {"min": Decimal("1"), "max": Decimal(leverage) if swap else None},
        },
        "info": {"typical_price": price},
    }


MARKETS: dict[str, dict] = {m["symbol"]: m for base in _ASSETS for m in (_market(base, False), _market(base, True))}


class UnknownMarket(KeyError):
    pass


def market(symbol: str) -> dict:
    try:
        return MARKETS[symbol]
    except KeyError:
        raise UnknownMarket(symbol) from None


def typical_price(symbol: str) -> Decimal:
    return market(symbol)["info"]["typical_price"]


def amount_to_precision(symbol: str, amount: Decimal) -> Decimal:
    step = market(symbol)["precision"]["amount"]
    return (Decimal(amount) / step).to_integral_value(rounding=ROUND_DOWN) * step


def price_to_precision(symbol: str, price: Decimal) -> Decimal:
    tick = market(symbol)["precision"]["price"]
    return (Decimal(price) / tick).to_integral_value(rounding=ROUND_HALF_EVEN) * tick
