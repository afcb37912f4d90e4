"""The signal webhook of a signal bot: TradingView / 3Commas-style bodies in, orders on
the paper exchange out. BTC/USDT stands at 60,200."""

import json
import time
from decimal import Decimal as D

import pytest
from django_tenants.utils import schema_context

from bots.actions import do_create_bot, do_pause_bot, do_start_bot, webhook_credentials
from bots.models import BotEvent, Order, Position, Signal
from exchanges.actions import do_create_connection
from tenants.models import RateCounter
from tests.conftest import FAKE_KEYS

SIGNAL_PARAMS = {"size_mode": "quote", "size": "100", "strong": "execute", "medium": "execute", "weak": "alert",
                 "ignore": "drop"}


@pytest.fixture
def signal_bot(acme, market, make_bot):
    bot = do_start_bot(acme.tenant, make_bot(strategy="signal", params=SIGNAL_PARAMS), actor=acme.owner)
    credentials = webhook_credentials(acme.tenant, bot)

    class Hook:
        url = f"/hooks/signal/{credentials['token']}/"
        secret = credentials["secret"]

        def __init__(self):
            self.bot = bot

        def post(self, body=None, *, raw=None, content_type="application/json", workspace=acme):
            data = raw if raw is not None else json.dumps({"secret": self.secret, **(body or {})})
            return workspace.client().post(self.url, data=data, content_type=content_type)

    return Hook()


def stored(acme, **filters):
    with schema_context(acme.tenant.schema_name):
        return list(Signal.objects.filter(**filters).values_list("outcome", "reason"))


def bot_orders(acme, bot):
    with schema_context(acme.tenant.schema_name):
        return list(Order.objects.filter(bot=bot).order_by("id").values_list("side", "type", "amount", "status"))


def test_a_json_signal_opens_a_long_and_is_stored_as_accepted(acme, signal_bot):
    response = signal_bot.post({"action": "enter_long", "signal_id": "tv-1"})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "accepted"
    # 100 USDT at 60,200 is 0.00166 BTC (the step is 0.00001).
    assert bot_orders(acme, signal_bot.bot) == [("buy", "market", D("0.00166"), "closed")]
    assert stored(acme, signal_id="tv-1") == [("accepted", "")]


def test_a_key_value_body_works_too(acme, signal_bot):
    raw = f"secret={signal_bot.secret}\naction=buy\norder.amount=0.002\nsignal_id=tv-2"
    response = signal_bot.post(raw=raw, content_type="text/plain")
    assert response.status_code == 200, response.content
    assert bot_orders(acme, signal_bot.bot) == [("buy", "market", D("0.002"), "closed")]


def test_a_signal_sized_by_balance_spends_that_share_of_the_free_balance(acme, signal_bot):
    signal_bot.post({"action": "open_long", "order": {"percent_of_balance": "10"}})
    # 10 % of 10,000 USDT at 60,200: 0.01661 BTC.
    assert bot_orders(acme, signal_bot.bot)[0][2] == D("0.01661")


def test_closing_a_long_sells_the_whole_position(acme, signal_bot):
    signal_bot.post({"action": "open_long", "signal_id": "a"})
    response = signal_bot.post({"action": "exit_long", "signal_id": "b"})
    assert response.json()["status"] == "accepted"
    with schema_context(acme.tenant.schema_name):
        assert Position.objects.get(bot=signal_bot.bot).amount == 0


def test_a_bad_secret_is_refused_with_403_and_stored_without_the_secret(acme, signal_bot):
    response = signal_bot.post(raw=json.dumps({"secret": "guess", "action": "buy"}))
    assert response.status_code == 403
    assert bot_orders(acme, signal_bot.bot) == []
    with schema_context(acme.tenant.schema_name):
        rejected = Signal.objects.get()
    assert (rejected.outcome, rejected.reason) == ("rejected", "Bad secret.")
    assert "secret" not in rejected.payload and "guess" not in json.dumps(rejected.payload)


def test_an_unknown_url_is_404(acme, signal_bot):
    response = acme.client().post("/hooks/signal/nope/", data="{}", content_type="application/json")
    assert response.status_code == 404


@pytest.mark.parametrize(
    "raw, reason",
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ("", "neither JSON nor key=value"),
        ('{"secret": "%s", "action": "moon"}', "Unknown action 'moon'"),
        ('{"secret": "%s", "action": "buy", "strength": "huge"}', "Unknown strength"),
        ('{"secret": "%s", "action": "buy", "order": {"amount": "-1"}}', "order.amount must be positive"),
        ('{"secret": "%s", "action": "buy", "timestamp": "yesterday"}', "timestamp must be ISO 8601"),
    ],
)
def test_a_malformed_signal_is_refused_with_the_reason(acme, signal_bot, raw, reason):
    response = signal_bot.post(raw=raw.replace("%s", signal_bot.secret) if "%s" in raw else raw)
    assert response.status_code == 400
    assert reason in response.json()["error"]
    assert bot_orders(acme, signal_bot.bot) == []


def test_a_stale_signal_is_refused(acme, signal_bot):
    response = signal_bot.post({"action": "buy", "timestamp": int(time.time()) - 120, "max_lag": "60"})
    assert response.status_code == 400
    assert "stale" in response.json()["error"]
    assert stored(acme, outcome="rejected")[0][1].startswith("The signal is stale")


def test_a_fresh_signal_within_its_max_lag_is_accepted(acme, signal_bot):
    response = signal_bot.post({"action": "buy", "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                "max_lag": "60"})
    assert response.status_code == 200


def test_a_duplicate_delivery_is_accepted_once(acme, signal_bot):
    first = signal_bot.post({"action": "buy", "signal_id": "tv-9"})
    second = signal_bot.post({"action": "buy", "signal_id": "tv-9"})
    assert first.json()["status"] == "accepted" and second.json()["status"] == "duplicate"
    assert len(bot_orders(acme, signal_bot.bot)) == 1


def test_identical_bodies_without_an_id_count_as_one_signal(acme, signal_bot):
    body = {"action": "buy", "trigger_price": "60200", "timestamp": int(time.time())}
    assert [signal_bot.post(body).json()["status"] for _ in range(2)] == ["accepted", "duplicate"]


def test_strength_classes_map_to_their_configured_responses(acme, signal_bot):
    assert signal_bot.post({"action": "buy", "strength": "weak", "signal_id": "w"}).json()["status"] == "alerted"
    assert signal_bot.post({"action": "buy", "strength": "ignore", "signal_id": "i"}).json()["status"] == "dropped"
    assert bot_orders(acme, signal_bot.bot) == []
    with schema_context(acme.tenant.schema_name):
        assert BotEvent.objects.filter(bot=signal_bot.bot, kind=BotEvent.Kind.SIGNAL, alert=True).count() == 1


def test_a_spot_bot_refuses_to_short(acme, signal_bot):
    response = signal_bot.post({"action": "enter_short"})
    assert response.json()["status"] == "alerted"
    assert "cannot be shorted" in response.json()["reason"]


def test_a_paused_bot_answers_409_and_keeps_the_signal_as_dropped(acme, signal_bot):
    do_pause_bot(acme.tenant, signal_bot.bot, actor=acme.owner)
    response = signal_bot.post({"action": "buy", "signal_id": "p"})
    assert response.status_code == 409
    assert stored(acme, signal_id="p") == [("dropped", "The bot is paused.")]


def test_signals_beyond_the_rate_limit_get_429_with_retry_after(acme, signal_bot, settings):
    settings.SIGNAL_RATE_PER_MINUTE = 3
    statuses = [signal_bot.post({"action": "buy", "strength": "ignore", "signal_id": str(n)}).status_code
                for n in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert 1 <= int(signal_bot.post({"action": "buy"})["Retry-After"]) <= 60


def test_signals_to_unknown_webhooks_count_against_no_limit(acme, signal_bot, settings):
    settings.SIGNAL_RATE_PER_MINUTE = 1
    made_up = acme.client().post("/hooks/signal/made-up-token/", data=json.dumps({"action": "buy"}),
                                 content_type="application/json")
    assert made_up.status_code == 404
    assert not RateCounter.objects.exists()
    assert signal_bot.post({"action": "buy", "strength": "ignore", "signal_id": "first"}).status_code == 200
    assert signal_bot.post({"action": "buy", "strength": "ignore", "signal_id": "second"}).status_code == 429


def test_a_bots_webhook_cannot_be_reached_through_another_workspace(acme, globex, signal_bot):
    response = signal_bot.post({"action": "buy"}, workspace=globex)
    assert response.status_code == 404
    assert bot_orders(acme, signal_bot.bot) == []


def test_a_signal_bot_on_a_real_exchange_places_its_order_there(acme, fake_binance):
    binance = do_create_connection(acme.tenant, label="Binance", exchange="binance", credentials=FAKE_KEYS,
                                   actor=acme.owner)
    bot = do_start_bot(acme.tenant, do_create_bot(acme.tenant, name="Live signals", connection=binance,
                                                  strategy="signal", symbols=["BTC/USDT"], params=SIGNAL_PARAMS,
                                                  actor=acme.owner), actor=acme.owner)
    credentials = webhook_credentials(acme.tenant, bot)
    response = acme.client().post(f"/hooks/signal/{credentials['token']}/", content_type="application/json",
                                  data=json.dumps({"secret": credentials["secret"], "action": "buy",
                                                   "signal_id": "live-1"}))
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "accepted"
    [placed] = fake_binance.orders()
    assert (placed["side"], placed["type"], placed["clientOrderId"]) == ("BUY", "MARKET", response.json()["orders"][0])
