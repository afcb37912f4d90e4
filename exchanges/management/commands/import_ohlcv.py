import csv
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from exchanges.actions import do_import_ohlcv
from exchanges.adapters.base import TIMEFRAME_SECONDS
from tenants.models import Tenant


class Command(BaseCommand):
    help = (
        "Import OHLCV candles from a CSV file into a workspace, for replay through paper accounts. "
        "Rows are ccxt's [timestamp_ms, open, high, low, close, volume]; a header row is skipped."
    )

    def add_arguments(self, parser):
        parser.add_argument("csv_file", type=Path)
        parser.add_argument("--workspace", required=True, help="the workspace's slug")
        parser.add_argument("--dataset", required=True, help="dataset name, chosen on a paper connection")
        parser.add_argument("--symbol", required=True, help="unified symbol, e.g. BTC/USDT")
        parser.add_argument("--timeframe", required=True, choices=sorted(TIMEFRAME_SECONDS, key=TIMEFRAME_SECONDS.get))

    def handle(self, *args, csv_file, workspace, dataset, symbol, timeframe, **options):
        tenant = Tenant.objects.workspaces().filter(slug=workspace).first()
        if tenant is None:
            raise CommandError(f"No workspace {workspace!r}.")
        if not csv_file.is_file():
            raise CommandError(f"No file {csv_file}.")
        with csv_file.open(newline="") as handle:
            rows = [row for row in csv.reader(handle) if row]
        if rows and not rows[0][0].strip().lstrip("-").isdigit():
            rows = rows[1:]
        try:
            result = do_import_ohlcv(
                tenant, dataset=dataset, symbol=symbol, timeframe_seconds=TIMEFRAME_SECONDS[timeframe], rows=rows
            )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        self.stdout.write(self.style.SUCCESS(
            f"Imported {result['candles']} {timeframe} candles of {symbol} into {dataset!r} "
            f"({result['gaps_filled']} missing candles filled flat)."
        ))
