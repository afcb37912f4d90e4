"""The published price list. Until billing lands, this is what the pricing page shows
and what the plan seed will be made from."""

from dataclasses import dataclass
from decimal import Decimal

UNLIMITED = None


@dataclass(frozen=True)
class PlanOffer:
    key: str
    name: str
    price_per_month: Decimal
    bots: int | None
    exchange_connections: int | None
    members: int | None
    api_calls_per_month: int | None
    api_rate_per_minute: int
    log_retention_days: int
    backup_retention_days: int
    webhooks_and_signal_bots: bool
    pair_spread_hedge: bool


PLANS = [
    PlanOffer("free", "Free", Decimal("0"), 1, 2, 1, 1_000, 10, 7, 7, False, False),
    PlanOffer("basic", "Basic", Decimal("29"), 3, 3, 5, 10_000, 50, 14, 14, False, False),
    PlanOffer("pro", "Pro", Decimal("99"), 10, 5, 20, 100_000, 200, 30, 30, True, True),
    PlanOffer("premium", "Premium", Decimal("299"), 50, 10, UNLIMITED, UNLIMITED, 1_000, 90, 90, True, True),
]
