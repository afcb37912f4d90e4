"""OHLCV files imported with `import_ohlcv` and replayed through a paper account."""

from decimal import Decimal as D
from io import StringIO

import pytest
from asgiref.sync import async_to_sync
from django.core.management import CommandError, call_command
from django_tenants.utils import schema_context

from exchanges.actions import do_create_connection
from exchanges.adapters.paper import PaperAdapter
from exchanges.models import OhlcvCandle, PaperAccount
from tests.exchanges.paper import T0, Clock

START_MS = 1_700_000_040_000  # on the 1-minute grid
CSV = f"""timestamp,open,high,low,close,volume
{START_MS},60000,60300,59700,60200,12.5
{START_MS + 60_000},60200,60250,59500,59600,8
"""


def import_csv(tmp_path, workspace, text=CSV, **options):
    path = tmp_path / "candles.csv"
    path.write_text(text)
    out = StringIO()
    call_command("import_ohlcv", str(path), "--workspace", workspace.tenant.slug, "--dataset", "btc-test",
                 "--symbol", "BTC/USDT", "--timeframe", "1m", stdout=out, **options)
    return out.getvalue()


@pytest.fixture
def replay(acme, tmp_path):
    import_csv(tmp_path, acme)
    connection = do_create_connection(acme.tenant, label="Replay", exchange="paper", actor=acme.owner,
                                       market_data="replay", replay_dataset="btc-test")
    with schema_context(acme.tenant.schema_name):
        PaperAccount.objects.filter(connection=connection).update(epoch=T0)
    clock = Clock()
    return PaperAdapter(connection, acme.tenant.schema_name, clock=clock), clock


def test_the_importer_stores_the_candles(acme, tmp_path):
    out = import_csv(tmp_path, acme)
    assert "Imported 2 1m candles of BTC/USDT into 'btc-test'" in out
    with schema_context(acme.tenant.schema_name):
        first = OhlcvCandle.objects.get(timestamp_ms=START_MS)
    assert (first.open, first.high, first.low, first.close, first.volume) == (
        D("60000"), D("60300"), D("59700"), D("60200"), D("12.5")
    )


def test_a_missing_candle_is_filled_flat_at_the_previous_close(acme, tmp_path):
    text = f"{START_MS},1,2,1,2,1\n{START_MS + 180_000},2,3,2,3,1\n"
    assert "(2 missing candles filled flat)" in import_csv(tmp_path, acme, text)
    with schema_context(acme.tenant.schema_name):
        filled = OhlcvCandle.objects.get(timestamp_ms=START_MS + 60_000)
    assert (filled.open, filled.close, filled.volume) == (D("2"), D("2"), D("0"))


@pytest.mark.parametrize(
    "text, message",
    [
        (f"{START_MS},1,2,1\n", "expected 6 columns"),
        (f"{START_MS},1,2,1,x,1\n", "not a number"),
        (f"{START_MS},5,4,3,4,1\n", "low <= open, close <= high"),
        (f"{START_MS + 60_000},1,2,1,2,1\n{START_MS},1,2,1,2,1\n", "timestamps must increase"),
        (f"{START_MS + 1},1,2,1,2,1\n", "not on the timeframe's grid"),
        ("", "no candles"),
    ],
)
def test_a_bad_file_is_refused_with_the_row_and_nothing_is_stored(acme, tmp_path, text, message):
    with pytest.raises(CommandError, match=message):
        import_csv(tmp_path, acme, text)
    with schema_context(acme.tenant.schema_name):
        assert not OhlcvCandle.objects.exists()


def test_a_replay_moves_open_low_high_close_inside_a_rising_candle(replay):
    adapter, clock = replay
    prices = []
    for t in (0, 10, 20, 40, 59.5):
        clock.at(t)
        prices.append(async_to_sync(adapter.fetch_ticker)("BTC/USDT")["last"])
    assert prices == [D("60000"), D("59850"), D("59700"), D("60300"), D("60202.50")]


def test_a_replay_loops_at_the_end_of_the_dataset(replay):
    adapter, clock = replay
    clock.at(130)  # 10 s into the first candle again
    assert async_to_sync(adapter.fetch_ticker)("BTC/USDT")["last"] == D("59850")


def test_a_limit_order_fills_when_the_replayed_path_crosses_it(replay):
    adapter, clock = replay
    order = async_to_sync(adapter.create_order)("BTC/USDT", "limit", "buy", D("0.01"), D("59600"))
    clock.at(90)
    assert async_to_sync(adapter.fetch_order)(order["id"])["status"] == "open"
    clock.at(110)
    # The falling candle goes 60,250 (80 s) -> 59,500 (100 s): 59,600 at 80 + 650/750 * 20 s.
    [trade] = async_to_sync(adapter.fetch_my_trades)("BTC/USDT")
    assert trade["price"] == D("59600")
    assert trade["timestamp"] == int((T0 + 80 + 650 / 750 * 20) * 1000)


def test_replayed_candles_come_from_the_path(replay):
    adapter, clock = replay
    clock.at(120)
    candles = async_to_sync(adapter.fetch_ohlcv)("BTC/USDT", "1m", since=int(T0 * 1000))
    assert [c[1:5] for c in candles[:2]] == [
        [D("60000"), D("60300"), D("59700"), D("60200")],
        [D("60200"), D("60250"), D("59500"), D("59600")],
    ]
