"""The shared test base: workspaces with an owner, an admin, a trader, a viewer and an
outsider, and clients already logged in on the right host."""

import itertools
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client

from accounts.models import Membership, Role, User
from billing.actions import do_change_plan, do_ensure_plans
from billing.models import Plan
from tenants.actions import do_create_workspace, do_ensure_public_site, do_ensure_template_schema
from tenants.models import Tenant

PASSWORD = "correct horse battery staple"
_numbers = itertools.count(1)


def ensure_platform_rows():
    do_ensure_public_site()
    do_ensure_template_schema()
    do_ensure_plans()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Every test database gets the public site and the migrated workspace template,
    so tests provision workspaces by cloning like production does."""
    with django_db_blocker.unblock():
        ensure_platform_rows()
        # The tests cache in memory, but processes they start (qcluster) use the database cache.
        call_command("createcachetable", "aviary_cache", verbosity=0)


@pytest.fixture
def db(db):
    # A transactional test's flush empties the public tables, rows of the public site
    # and the template included: put them back (cheaply, in this test's transaction).
    ensure_platform_rows()


@dataclass
class Workspace:
    tenant: Tenant
    owner: User
    admin: User
    trader: User
    viewer: User
    outsider: User

    @property
    def host(self) -> str:
        return f"{self.tenant.slug}.{settings.BASE_DOMAIN}"

    def client(self, user: User | None = None) -> Client:
        """A test client on this workspace's host, logged in as `user` if given."""
        client = Client(HTTP_HOST=self.host)
        if user is not None:
            client.force_login(user)
        return client

    def url(self, path: str = "/") -> str:
        return f"http://{self.host}{path}"


def make_user(label: str, **extra) -> User:
    return User.objects.create_user(f"{label}-{next(_numbers)}@example.com", PASSWORD, **extra)


@pytest.fixture
def make_workspace(db):
    def make(name: str) -> Workspace:
        owner = make_user(f"{name.lower()}-owner")
        tenant = do_create_workspace(name=name, owner=owner, actor=owner)
        # Room for the many bots and people tests make; tests of quotas choose their own plan.
        do_change_plan(tenant.subscription, plan=Plan.objects.get(key="premium"), actor=None)
        people = {}
        for role in (Role.ADMIN, Role.TRADER, Role.VIEWER):
            people[role] = make_user(f"{name.lower()}-{role}")
            Membership.objects.create(user=people[role], tenant=tenant, role=role)
        return Workspace(
            tenant=tenant,
            owner=owner,
            admin=people[Role.ADMIN],
            trader=people[Role.TRADER],
            viewer=people[Role.VIEWER],
            outsider=make_user(f"{name.lower()}-outsider"),
        )

    return make


@pytest.fixture
def acme(make_workspace) -> Workspace:
    return make_workspace("Acme")


@pytest.fixture
def globex(make_workspace) -> Workspace:
    return make_workspace("Globex")


@pytest.fixture
def public_client(db) -> Client:
    return Client(HTTP_HOST=settings.BASE_DOMAIN)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate limits and throttles live in the cache; each test starts with none spent."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def transactional_db(transactional_db):
    """pytest-django's transactional_db, plus: drop the workspace schemas the test
    committed. This runs before the flush that empties the tables, and leaves the
    connection on the public schema, which is the one flush must see."""
    ensure_platform_rows()
    yield
    from django.db import connection

    connection.set_schema_to_public()
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'ws\\_%'")
        for (schema,) in cursor.fetchall():
            cursor.execute(f'DROP SCHEMA "{schema}" CASCADE')


FAKE_KEYS = {"apiKey": "fake-key-1234", "secret": "fake-secret-5678"}


@pytest.fixture
def fake_binance(settings, monkeypatch):
    """A local fake Binance, with ccxt's `binance` pointed at it for this test, and short
    back-offs so that retries do not slow the suite."""
    from tests.fakes.binance import FakeBinance

    monkeypatch.setattr("exchanges.adapters.ccxt.FIRST_BACKOFF", 0.01)
    with FakeBinance(api_key=FAKE_KEYS["apiKey"], secret=FAKE_KEYS["secret"], fault_delay=3.0) as fake:
        fake.set_balance("USDT", Decimal("10000"))
        settings.CCXT_CLIENT_OVERRIDES = {
            "binance": {
                "api": {"public": fake.base_url + "/api/v3", "private": fake.base_url + "/api/v3"},
                # Spot markets only, from the fake's exchangeInfo: nothing else to reach.
                "options": {"fetchMarkets": {"types": ["spot"]}, "fetchMargins": False, "fetchCurrencies": False},
            }
        }
        yield fake


@pytest.fixture
def fake_stripe(settings, monkeypatch):
    """A local fake Stripe (tests/fakes/stripe.py) for this test. The settings billing code
    reads point at it: STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET, and STRIPE_API_BASE, the
    API's base address, for `stripe.StripeClient(key, base_addresses={"api": ...})`
    (https://api.stripe.com in production). So do the `stripe` module's own api_key and
    api_base, with a client closed afterwards, no telemetry file, and retries that back
    off in milliseconds."""
    import stripe

    from tests.fakes.stripe import FakeStripe

    with FakeStripe() as fake:
        settings.STRIPE_SECRET_KEY = fake.api_key
        settings.STRIPE_WEBHOOK_SECRET = fake.webhook_secret
        settings.STRIPE_API_BASE = fake.base_url
        http_client = stripe.RequestsClient(timeout=5)
        monkeypatch.setattr(stripe, "api_key", fake.api_key)
        monkeypatch.setattr(stripe, "api_base", fake.base_url)
        monkeypatch.setattr(stripe, "default_http_client", http_client)
        monkeypatch.setattr(stripe, "enable_telemetry", False)
        monkeypatch.setattr(stripe.HTTPClient, "INITIAL_DELAY", 0.01)
        monkeypatch.setattr(stripe.HTTPClient, "MAX_DELAY", 0.02)
        try:
            yield fake
        finally:
            http_client.close()
