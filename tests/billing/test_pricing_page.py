"""The public pricing page shows the plans and add-ons as staff keep them."""

from decimal import Decimal

from billing.models import AddOn, Plan
from tests.billing.conftest import text


def test_the_pricing_page_shows_the_offered_plans_and_add_ons_as_edited(public_client):
    Plan.objects.filter(key="basic").update(price_per_month=Decimal("25.50"))
    Plan.objects.filter(key="premium").update(is_public=False)
    AddOn.objects.filter(key="extra_bot_slot").update(price_per_month=Decimal("12"))
    page = text(public_client.get("/pricing/"))
    assert "Basic $25.5 /month" in page and "Pro $99 /month" in page
    assert "Premium" not in page
    assert "an extra bot slot for $12 a month; extended backup retention for $20 a month" in page
    assert "10 bots 5 exchange connections 20 members 100,000 API calls a month 200 API requests a minute" in page
