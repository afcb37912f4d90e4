"""Workspaces on a chosen plan, and bots and connections to fill their quotas."""

import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import User
from billing.actions import do_change_plan
from billing.models import Plan, Subscription
from bots.actions import do_create_bot, do_start_bot
from bots.models import Bot
from exchanges.actions import do_create_connection
from tenants.actions import do_create_workspace
from tenants.models import Tenant
from tests.bots.conftest import GRID, market  # noqa: F401 (the scripted market, for signal bots)
from tests.conftest import make_user

SIGNAL = {"size_mode": "quote", "size": "100", "strong": "execute", "medium": "execute", "weak": "alert",
          "ignore": "drop"}
PAIR = {"entry_threshold": "2", "position_value": "1000", "add_step": "2", "max_adds": 2, "add_multipliers": "1.5",
        "max_position_value": "5000", "take_profit_mode": "regression", "take_profit": "1.5", "stop_loss": None}
SYMBOLS = {"grid": ["BTC/USDT"], "signal": ["BTC/USDT"], "pair_hedge": ["BTC/USDT:USDT", "ETH/USDT:USDT"]}
PARAMS = {"grid": GRID, "signal": SIGNAL, "pair_hedge": PAIR}


@dataclass
class Solo:
    """A workspace of one: its owner, as a new signup has it."""

    tenant: Tenant
    owner: User

    @property
    def subscription(self) -> Subscription:
        return Subscription.objects.select_related("plan").get(tenant=self.tenant)

    def client(self, user: User | None = None) -> Client:
        client = Client(HTTP_HOST=f"{self.tenant.slug}.{settings.BASE_DOMAIN}")
        client.force_login(user or self.owner)
        return client

    def on(self, key: str) -> Subscription:
        return do_change_plan(self.subscription, plan=plan(key), actor=None)

    def connection(self, label: str = "Paper"):
        return do_create_connection(self.tenant, label=label, exchange="paper", actor=self.owner)

    def bot(self, connection, strategy: str = "grid", *, name: str = "Bot", start: bool = False) -> Bot:
        bot = do_create_bot(self.tenant, name=name, connection=connection, strategy=strategy,
                            symbols=SYMBOLS[strategy], params=PARAMS[strategy], actor=self.owner)
        return do_start_bot(self.tenant, bot, actor=self.owner) if start else bot

    def states(self) -> dict[str, str]:
        with schema_context(self.tenant.schema_name):
            return dict(Bot.objects.values_list("name", "state"))

    def backdate(self, **fields) -> None:
        """Move the subscription's deadlines, as time passing would (a test arrangement)."""
        Subscription.objects.filter(tenant=self.tenant).update(**fields)


def text(page) -> str:
    """A page's (or a response's) words, tags dropped and spaces squeezed."""
    html = page if isinstance(page, str) else page.content.decode()
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def plan(key: str) -> Plan:
    return Plan.objects.get(key=key)


def ago(**delta):
    return timezone.now() - timedelta(**delta)


def ahead(**delta):
    return timezone.now() + timedelta(**delta)


@pytest.fixture
def make_solo(db):
    def make(name: str = "Solo") -> Solo:
        owner = make_user(f"{name.lower()}-owner")
        return Solo(do_create_workspace(name=name, owner=owner, actor=owner), owner)

    return make


@pytest.fixture
def solo(make_solo) -> Solo:
    return make_solo()
