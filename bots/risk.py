"""Risk controls, applied by the engine to every strategy: pure functions of the bot's
risk settings, books and prices.

- max position value (quote): orders that would take the position, counting the open
  orders as if filled, beyond it are skipped;
- stop loss (% of the cost of the open positions): everything is closed at market and
  the bot paused, with an alert;
- max daily loss (quote): when today's realised PnL plus the open positions'
  unrealised PnL falls below minus this, open orders are cancelled and the bot paused;
- circuit breaker: after N consecutive order failures or exchange errors, paused.
"""

from dataclasses import dataclass
from decimal import Decimal

from bots.accounting import Book

ZERO = Decimal(0)


@dataclass(frozen=True)
class Verdict:
    reason: str
    close_positions: bool


def _limit(risk: dict, name: str) -> Decimal | None:
    value = (risk or {}).get(name)
    return Decimal(str(value)) if value not in (None, "") else None


def exceeds_max_position(risk: dict, book: Book, side: str, amount: Decimal, price: Decimal,
                         open_delta: Decimal = ZERO) -> bool:
    """Would this order, on top of the position and the open orders' remaining amounts
    (`open_delta`, signed), take the exposure beyond the limit?"""
    limit = _limit(risk, "max_position_value")
    if limit is None:
        return False
    before = book.amount + open_delta
    after = before + (amount if side == "buy" else -amount)
    return abs(after) > abs(before) and abs(after) * price > limit


def check(risk: dict, books: dict[str, Book], prices: dict[str, Decimal], realized_today: Decimal) -> Verdict | None:
    unrealized = sum((book.unrealized(prices[symbol]) for symbol, book in books.items() if symbol in prices), ZERO)
    cost = sum((abs(book.amount) * book.average_price for book in books.values()), ZERO)
    stop_loss = _limit(risk, "stop_loss_pct")
    if stop_loss is not None and cost and unrealized < 0 and -unrealized / cost * 100 >= stop_loss:
        return Verdict(f"Stop loss: the open position is down {(-unrealized / cost * 100).quantize(Decimal('0.01'))}% "
                       f"(limit {stop_loss.normalize():f}%). Closed and paused.", close_positions=True)
    daily = _limit(risk, "max_daily_loss")
    if daily is not None and realized_today + unrealized <= -daily:
        return Verdict(f"Daily loss limit: {(realized_today + unrealized).quantize(Decimal('0.01'))} today "
                       f"(limit -{daily.normalize():f}). Orders cancelled and paused.", close_positions=False)
    return None


def circuit_breaker(risk: dict) -> int:
    from django.conf import settings

    return int((risk or {}).get("circuit_breaker") or settings.BOT_CIRCUIT_BREAKER_FAILURES)
