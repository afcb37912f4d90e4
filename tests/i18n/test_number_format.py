"""Amounts are shown in the active locale's format, exactly: trailing zeros dropped,
every other digit kept, never rounded, never in exponent notation."""

from decimal import Decimal as D

import pytest
from django.utils import translation
from django_tenants.utils import schema_context

from bots.models import Bot, Fill, Order
from bots.templatetags.bots import normalize


@pytest.mark.parametrize(("amount", "shown"), [
    # 30 digits: more than a float holds, and more than Decimal's default 28-digit context.
    (D("123456789012345678.123456789012"), "123456789012345678.123456789012"),
    (D("60123.450000000000"), "60123.45"),
    (D("10000.000000000000"), "10000"),
    (D("0.000000012300"), "0.0000000123"),
    (D("-0.595"), "-0.595"),
    (D("-0E-12"), "0"),
    ("1.250", "1.25"),  # live statuses carry amounts as decimal strings
])
def test_it_keeps_every_significant_digit_of_an_amount(amount, shown):
    with translation.override("zh-hans"):
        assert normalize(amount) == shown
    with translation.override("en"):
        assert normalize(amount) == shown


def test_it_uses_the_locale_s_decimal_separator():
    with translation.override("de"):
        assert normalize(D("1234.5000")) == "1234,5"


@pytest.mark.parametrize("value", ["market", None, "", "–"])
def test_what_is_not_an_amount_is_shown_as_it_is(value):
    assert normalize(value) == value


def test_a_chinese_user_sees_the_bot_s_exact_amounts(acme, prefer, running_bot):
    with schema_context(acme.tenant.schema_name):
        order = Order.objects.create(bot=running_bot, client_order_id="av1b1n1", tag="grid:buy:1", symbol="BTC/USDT",
                                     side="buy", type="limit", price=D("59500.123456789012"),
                                     amount=D("0.012345670000"), filled=D("0.01234567"), status=Order.Status.CLOSED)
        Fill.objects.create(bot=running_bot, order=order, sequence="1", symbol="BTC/USDT", side="buy",
                            price=D("59500.123456789012"), amount=D("0.01234567"), fee=D("0.000012345"),
                            realized_pnl=D("-0.5950001"), timestamp="2026-11-21T10:00Z")
        running_bot.positions.create(symbol="BTC/USDT", amount=D("0.01234567"), average_price=D("59500.123456789012"),
                                     realized_pnl=D("-0.5950001"), fees=D("0.000012345"))
        Bot.objects.filter(pk=running_bot.pk).update(last_price=D("60000.50"))
    prefer(acme.trader, "zh-hans")
    client = acme.client(acme.trader)
    listing = client.get("/bots/").content.decode()
    bot = running_bot.pk
    assert f'<td class="num" data-field="last_price" id="bot-{bot}-last_price">60000.5</td>' in listing
    assert f'<td class="num" id="bot-{bot}-position">0.01234567</td>' in listing
    assert f'<td class="num pnl" data-field="realized_pnl" id="bot-{bot}-realized_pnl">-0.5950001</td>' in listing
    detail = client.get(f"/bots/{running_bot.pk}/").content.decode()
    assert "59500.123456789012" in detail and "0.000012345" in detail


def test_a_paper_account_s_balance_is_never_in_exponent_notation(acme, prefer, paper):
    prefer(acme.owner, "zh-hans")
    page = acme.client(acme.owner).get(f"/exchanges/{paper.pk}/").content.decode()
    assert "<dd>10000 USDT</dd>" in page and "E+" not in page
