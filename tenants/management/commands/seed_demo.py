import secrets
import time
from decimal import Decimal

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django_tenants.utils import schema_context

from accounts.actions import do_create_user
from accounts.models import User
from bots.actions import do_create_bot, do_start_bot
from bots.models import Bot
from exchanges import markets
from exchanges.adapters.paper import simulated_feed
from exchanges.actions import do_create_connection
from exchanges.models import ExchangeConnection
from tenants.actions import do_create_workspace
from tenants.hosts import workspace_url
from tenants.models import Tenant

DEMO_EMAIL = "demo@example.com"
DEMO_SLUG = "demo"
DEMO_PAPER = "Demo paper account"


def demo_bots(demo, paper, owner) -> list:
    """A grid of ±3% around BTC's price now, and a DCA bot on ETH."""
    price = simulated_feed().price("BTC/USDT", time.time())
    grid = do_create_bot(demo, name="BTC grid", connection=paper, strategy="grid", symbols=["BTC/USDT"], params={
        "lower_price": str(markets.price_to_precision("BTC/USDT", price * Decimal("0.97"))),
        "upper_price": str(markets.price_to_precision("BTC/USDT", price * Decimal("1.03"))),
        "grid_count": 10, "spacing": "arithmetic", "amount_per_level": "0.001", "stop_out_of_range": False,
    }, actor=owner)
    dca = do_create_bot(demo, name="ETH DCA", connection=paper, strategy="dca", symbols=["ETH/USDT"], params={
        "base_order_size": "100", "safety_order_size": "50", "max_safety_orders": 3, "price_deviation": "1",
        "safety_order_volume_scale": "1.5", "safety_order_step_scale": "1", "take_profit": "1", "cooldown": 0,
    }, actor=owner)
    return [grid, dca]


class Command(BaseCommand):
    help = ("Create the demo workspace, its owner, a paper account and two running bots if missing, and print "
            "how to log in. Idempotent.")

    def handle(self, *args, **options):
        password_file = settings.VAR_DIR / "demo-password"
        with transaction.atomic():
            owner = User.objects.filter(email=DEMO_EMAIL).first()
            if owner is None or not password_file.exists():
                password = secrets.token_urlsafe(12)
                if owner is None:
                    owner = do_create_user(DEMO_EMAIL, password, name="Demo Owner", email_verified=True)
                else:
                    # The password is only known when we keep it; start over when we don't.
                    owner.set_password(password)
                    owner.save(update_fields=["password"])
                settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
                password_file.write_text(password)
                password_file.chmod(0o600)
            demo = Tenant.objects.filter(slug=DEMO_SLUG).first()
            if demo is None:
                demo = do_create_workspace(name="Demo", slug=DEMO_SLUG, owner=owner, actor=owner)
            with schema_context(demo.schema_name):
                paper = ExchangeConnection.objects.filter(label=DEMO_PAPER).first()
                has_bots = Bot.objects.exists()
            if paper is None:
                paper = do_create_connection(demo, label=DEMO_PAPER, exchange="paper", actor=owner)
            if not has_bots:
                for bot in demo_bots(demo, paper, owner):
                    do_start_bot(demo, bot, actor=owner)
        self.stdout.write(
            f"Demo workspace: {workspace_url(demo)}\n"
            f"  log in as {DEMO_EMAIL} with password {password_file.read_text().strip()}"
        )
