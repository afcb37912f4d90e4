"""What the bot page's charts draw: candles of one of the bot's symbols with its fills
marked and its open orders (and a grid bot's levels) as price lines, the equity curve
and, for the pair strategy, the spread. Prices leave as strings: the browser plots
them, nothing here does arithmetic on floats."""

from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext as _

from bots.live import decimal_text
from bots.models import Order
from bots.strategies.grid import grid_levels
from exchanges.adapters import adapter_for, read_now
from exchanges.errors import ExchangeError

CANDLE_SECONDS = 60
CANDLES = 180
SERIES_DAYS = 7
SERIES_POINTS = 2000


def chart_data(tenant, bot, symbol: str) -> dict:
    since = timezone.now() - timedelta(seconds=CANDLE_SECONDS * CANDLES)
    fills = bot.fills.filter(symbol=symbol, timestamp__gte=since).order_by("timestamp", "id")
    open_orders = bot.orders.filter(symbol=symbol, status__in=[Order.Status.PENDING, Order.Status.OPEN],
                                    price__isnull=False).order_by("-price")
    return {
        **candle_data(tenant, bot.connection, symbol),
        "markers": [_marker(fill) for fill in fills],
        "orders": [{"price": decimal_text(order.price), "side": order.side, "amount": decimal_text(order.amount)}
                   for order in open_orders],
        "levels": _levels(bot) if bot.strategy == "grid" and symbol == bot.symbols[0] else [],
        "equity": _series(bot, "equity"),
        "spread": _series(bot, "spread") if bot.strategy == "pair_hedge" else [],
    }


def candle_data(tenant, connection, symbol: str) -> dict:
    """Candles as both charts draw them (the bot page's and the create page's preview),
    or why there are none."""
    if connection is None:
        candles, problem, symbol = [], _("Choose an exchange connection and a symbol."), ""
    else:
        candles, problem = _candles(tenant, connection, symbol)
    return {"symbol": symbol, "precision": price_decimals(candles), "tz_offset": _tz_offset(), "candles": candles,
            "error": problem}


def _candles(tenant, connection, symbol) -> tuple[list[dict], str]:
    """The last CANDLES one-minute candles of a symbol on a connection, or why not."""
    try:
        rows = ask(tenant, connection, "fetch_ohlcv", symbol, "1m", limit=CANDLES)
    except ExchangeError as problem:
        # Adapters' messages are safe to show (never credentials).
        return [], _("Candles are unavailable: %(reason)s") % {"reason": problem}
    return [{"time": _wall(int(row[0]) // 1000), "open": decimal_text(row[1]), "high": decimal_text(row[2]),
             "low": decimal_text(row[3]), "close": decimal_text(row[4])} for row in rows], ""


def price_decimals(candles: list[dict]) -> int:
    """Decimals to show on the price scale: as many as the prices have (an exchange's
    candles carry its tick size), at least 2."""
    places = [len(value.partition(".")[2]) for candle in candles for value in (candle["high"], candle["low"])]
    return min(max([2, *places]), 8)


def last_price(tenant, connection, symbol) -> Decimal | None:
    try:
        ticker = ask(tenant, connection, "fetch_ticker", symbol)
    except ExchangeError:
        return None
    return Decimal(str(ticker["last"])) if ticker.get("last") is not None else None


def ask(tenant, connection, method: str, *args, **kwargs):
    """One read from a connection's exchange, from synchronous code."""
    return read_now(adapter_for(connection, tenant.schema_name),
                    lambda adapter: getattr(adapter, method)(*args, **kwargs))


def _marker(fill) -> dict:
    buy = fill.side == "buy"
    minute = int(fill.timestamp.timestamp()) // CANDLE_SECONDS * CANDLE_SECONDS
    return {"time": _wall(minute), "side": fill.side,
            "text": f"{'B' if buy else 'S'} {decimal_text(fill.amount)} @ {decimal_text(fill.price)}"}


def _levels(bot) -> list[str]:
    params = bot.params
    try:
        levels = grid_levels(Decimal(params["lower_price"]), Decimal(params["upper_price"]),
                             int(params["grid_count"]), params.get("spacing", "arithmetic"))
    except (KeyError, ArithmeticError, ValueError):
        return []
    return [decimal_text(level.quantize(Decimal("1e-8"))) for level in levels]


def _series(bot, name: str) -> list[dict]:
    since = timezone.now() - timedelta(days=SERIES_DAYS)
    points = list(bot.series.filter(series=name, timestamp__gte=since).order_by("-timestamp")
                  .values_list("timestamp", "value")[:SERIES_POINTS])
    # The chart wants strictly increasing times: the latest point of each second.
    by_second = {int(at.timestamp()): value for at, value in reversed(points)}
    return [{"time": _wall(second), "value": decimal_text(value)} for second, value in by_second.items()]


def _tz_offset() -> int:
    """The user's time zone's offset now, in seconds."""
    return _offset(timezone.now().timestamp())


def _offset(epoch: float) -> int:
    return int(datetime.fromtimestamp(epoch, timezone.get_current_timezone()).utcoffset().total_seconds())


def _wall(epoch: int) -> int:
    """The chart library draws every time as UTC: shift to the user's wall clock."""
    return epoch + _offset(epoch)

