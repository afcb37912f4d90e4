"""The published price list: what `init_system` seeds the Plan and AddOn rows with when
they are missing. Staff edit the rows in the admin afterwards; a seed never overwrites
an edit."""

from decimal import Decimal

UNLIMITED = None
FREE = "free"

PLAN_FIELDS = ("key", "name", "price_per_month", "bots", "exchange_connections", "members", "api_calls_per_month",
               "api_rate_per_minute", "log_retention_days", "backup_retention_days", "webhooks_and_signal_bots",
               "pair_spread_hedge")
PLANS = [
    dict(zip(PLAN_FIELDS, row, strict=True))
    for row in [
        (FREE, "Free", Decimal("0"), 1, 2, 1, 1_000, 10, 7, 7, False, False),
        ("basic", "Basic", Decimal("29"), 3, 3, 5, 10_000, 50, 14, 14, False, False),
        ("pro", "Pro", Decimal("99"), 10, 5, 20, 100_000, 200, 30, 30, True, True),
        ("premium", "Premium", Decimal("299"), 50, 10, UNLIMITED, UNLIMITED, 1_000, 90, 90, True, True),
    ]
]
ADDONS = {"extra_bot_slot": Decimal("10"), "extended_backup_retention": Decimal("20")}
# What the extended backup retention add-on keeps backups for.
EXTENDED_BACKUP_RETENTION_DAYS = 365
