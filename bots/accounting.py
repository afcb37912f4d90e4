"""A bot's position and profit from its fills, in the quote currency, fees included.

One signed position per symbol (> 0 long, < 0 short) at an average entry price.
Reducing realises (exit - entry) on the reduced amount; every fee is a cost. The same
arithmetic serves spot (which never goes short) and linear perpetuals.
"""

from dataclasses import dataclass, replace
from decimal import Decimal

ZERO = Decimal(0)
PLACES = Decimal("1e-12")


@dataclass(frozen=True)
class Book:
    amount: Decimal = ZERO
    average_price: Decimal = ZERO
    realized_pnl: Decimal = ZERO  # net of fees
    fees: Decimal = ZERO

    def unrealized(self, price: Decimal) -> Decimal:
        return (self.amount * (price - self.average_price)).quantize(PLACES)

    def total_pnl(self, price: Decimal) -> Decimal:
        return self.realized_pnl + self.unrealized(price)


def apply_fill(book: Book, side: str, amount: Decimal, price: Decimal, fee: Decimal) -> tuple[Book, Decimal]:
    """The book after a fill, and the profit the fill realised (net of its fee)."""
    delta = amount if side == "buy" else -amount
    held = book.amount
    realized = -fee
    if held and (held > 0) != (delta > 0):
        reducing = min(abs(delta), abs(held))
        realized += reducing * (price - book.average_price) * (1 if held > 0 else -1)
        held += reducing if delta > 0 else -reducing
        delta += -reducing if delta > 0 else reducing
        average = book.average_price if held else ZERO
    else:
        average = book.average_price
    if delta:
        new = held + delta
        average = (abs(held) * average + abs(delta) * price) / abs(new)
        held = new
    realized = realized.quantize(PLACES)
    return (
        replace(book, amount=held, average_price=average.quantize(PLACES), realized_pnl=book.realized_pnl + realized,
                fees=book.fees + fee),
        realized,
    )
