"""State changes of exchange connections, paper accounts and replay datasets.

Every action takes the tenant explicitly and works in its schema, so callers on any
host, in a task or a command get the same result."""

import time
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tenants.utils import schema_context

from accounts import audit
from billing import quotas
from exchanges import errors, markets
from exchanges.adapters import adapter_for, read_now
from exchanges.adapters.ccxt import CcxtAdapter
from exchanges.catalog import CREDENTIAL_FIELDS, exchange_info
from exchanges.models import PAPER, ExchangeConnection, OhlcvCandle, PaperAccount
from exchanges.paper_ledger import open_account

PAPER_SETTINGS = ("market_data", "replay_dataset", "live_price_exchange", "starting_balance")


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    message: str


# --- connections -------------------------------------------------------------------------


def do_create_connection(tenant, *, label: str, exchange: str, actor, credentials: dict | None = None,
                         sandbox: bool = False, **paper_settings) -> ExchangeConnection:
    credentials = _clean_credentials(exchange, credentials or {}, require=True)
    _check_settings(exchange, sandbox, paper_settings, tenant)
    with schema_context(tenant.schema_name), transaction.atomic():
        quotas.require_connection_slot(tenant)
        try:
            with transaction.atomic():
                connection = ExchangeConnection.objects.create(
                    label=label.strip(), exchange=exchange, sandbox=sandbox, **paper_settings
                )
        except IntegrityError:
            raise ValidationError({"label": _("A connection with this label exists already.")}) from None
        if credentials:
            connection.set_credentials(credentials, tenant.schema_name)
            connection.save(update_fields=["credentials_key_id", "credentials_blob", "api_key_hint"])
        if connection.is_paper:
            open_account(connection, time.time())
        audit.record("exchange.connection_created", actor=actor, tenant=tenant, target=connection.label,
                     exchange=exchange, mode=connection.mode)
    return connection


def do_update_connection(tenant, connection: ExchangeConnection, *, actor, label: str | None = None,
                         credentials: dict | None = None, sandbox: bool | None = None,
                         **paper_settings) -> ExchangeConnection:
    """Change a connection. Credential fields left empty keep their stored value."""
    with schema_context(tenant.schema_name), transaction.atomic():
        connection = ExchangeConnection.objects.select_for_update().get(pk=connection.pk)
        changed = []
        if credentials and any(credentials.values()):
            merged = {**connection.credentials(tenant.schema_name), **{k: v for k, v in credentials.items() if v}}
            connection.set_credentials(_clean_credentials(connection.exchange, merged, require=True), tenant.schema_name)
            connection.check_status = ExchangeConnection.CheckStatus.UNCHECKED
            changed.append("credentials")
        if label is not None and label.strip() != connection.label:
            connection.label = label.strip()
            changed.append("label")
        if sandbox is not None and sandbox != connection.sandbox:
            connection.sandbox = sandbox
            changed.append("sandbox")
        for name, value in paper_settings.items():
            if getattr(connection, name) != value:
                setattr(connection, name, value)
                changed.append(name)
        _check_settings(connection.exchange, connection.sandbox,
                        {name: getattr(connection, name) for name in PAPER_SETTINGS}, tenant)
        try:
            with transaction.atomic():
                connection.save()
        except IntegrityError:
            raise ValidationError({"label": _("A connection with this label exists already.")}) from None
        if changed:
            audit.record("exchange.connection_changed", actor=actor, tenant=tenant, target=connection.label,
                         fields=changed)
    return connection


def do_delete_connection(tenant, connection: ExchangeConnection, *, actor) -> None:
    with schema_context(tenant.schema_name), transaction.atomic():
        try:
            with transaction.atomic():
                connection.delete()
        except ProtectedError as protected:
            users = sorted({str(obj) for obj in protected.protected_objects})
            raise ValidationError(
                _("“%(label)s” is used by %(users)s. Delete or move those first.")
                % {"label": connection.label, "users": ", ".join(users)}
            ) from None
        audit.record("exchange.connection_deleted", actor=actor, tenant=tenant, target=connection.label)


def do_test_connection(tenant, connection: ExchangeConnection, *, actor) -> CheckResult:
    """Check that the stored credentials work (a balance read) and record the outcome."""
    with schema_context(tenant.schema_name):
        result = _check(adapter_for(connection, tenant.schema_name)) if connection.is_paper else check_credentials(
            connection.exchange, connection.credentials(tenant.schema_name), sandbox=connection.sandbox
        )
        ExchangeConnection.objects.filter(pk=connection.pk).update(
            check_status=ExchangeConnection.CheckStatus.OK if result.ok else ExchangeConnection.CheckStatus.FAILED,
            check_message=result.message[:500],
            checked_at=timezone.now(),
        )
    audit.record("exchange.connection_tested", actor=actor, tenant=tenant, target=connection.label, ok=result.ok)
    return result


def check_credentials(exchange: str, credentials: dict, *, sandbox: bool = False) -> CheckResult:
    """Try credentials against the exchange without storing anything."""
    try:
        credentials = _clean_credentials(exchange, credentials, require=True)
        adapter = CcxtAdapter(exchange, credentials, sandbox=sandbox)
    except (ValidationError, errors.ExchangeError) as problem:
        return CheckResult(False, " ".join(getattr(problem, "messages", [str(problem)])))
    return _check(adapter)


def _check(adapter) -> CheckResult:
    try:
        read_now(adapter, lambda adapter: adapter.fetch_balance())
    except errors.AuthenticationFailed as failure:
        if " ip" in str(failure).lower():
            return CheckResult(False, _("The exchange refused requests from this server's IP address. Add it to "
                                        "the API key's IP whitelist. (%(detail)s)") % {"detail": failure})
        return CheckResult(False, _("The exchange rejected the API key or secret, or the key may not read "
                                    "balances. (%(detail)s)") % {"detail": failure})
    except errors.RateLimited:
        return CheckResult(False, _("The exchange is limiting our requests. Try again in a minute."))
    except errors.TemporarilyUnavailable as failure:
        return CheckResult(False, _("The exchange could not be reached. (%(detail)s)") % {"detail": failure})
    except errors.ExchangeError as failure:
        return CheckResult(False, _("The exchange refused the request. (%(detail)s)") % {"detail": failure})
    return CheckResult(True, _("Connected: balances can be read."))


def _clean_credentials(exchange: str, credentials: dict, *, require: bool) -> dict:
    info = exchange_info(exchange)
    if info is None:
        raise ValidationError({"exchange": _("Unknown exchange.")})
    cleaned = {name: str(credentials.get(name) or "").strip() for name in info.credentials}
    missing = [str(CREDENTIAL_FIELDS[name]) for name in info.credentials if not cleaned[name]]
    if require and missing:
        raise ValidationError(_("%(exchange)s needs: %(fields)s.") % {"exchange": info.name, "fields": ", ".join(missing)})
    return {name: value for name, value in cleaned.items() if value}


def _check_settings(exchange: str, sandbox: bool, paper_settings: dict, tenant) -> None:
    info = exchange_info(exchange)
    if info is None:
        raise ValidationError({"exchange": _("Unknown exchange.")})
    if sandbox and not info.has_sandbox:
        raise ValidationError({"sandbox": _("%(exchange)s has no sandbox or testnet.") % {"exchange": info.name}})
    if exchange != PAPER:
        return
    balance = paper_settings.get("starting_balance", Decimal("10000"))
    try:
        if Decimal(balance) <= 0:
            raise InvalidOperation
    except (InvalidOperation, TypeError):
        raise ValidationError({"starting_balance": _("The starting balance must be a positive amount.")}) from None
    if paper_settings.get("market_data") == ExchangeConnection.MarketData.REPLAY:
        dataset = paper_settings.get("replay_dataset")
        with schema_context(tenant.schema_name):
            if not dataset or not OhlcvCandle.objects.filter(dataset=dataset).exists():
                raise ValidationError({"replay_dataset": _("Choose an imported dataset to replay.")})
    if paper_settings.get("market_data") == ExchangeConnection.MarketData.LIVE:
        source = exchange_info(paper_settings.get("live_price_exchange") or "")
        if source is None or source.id == PAPER:
            raise ValidationError({"live_price_exchange": _("Choose the exchange whose public prices to follow.")})


# --- paper accounts ----------------------------------------------------------------------


def do_reset_paper_account(tenant, connection: ExchangeConnection, *, actor) -> PaperAccount:
    """Start the paper account over: orders, trades, positions gone, starting balance back."""
    if not connection.is_paper:
        raise ValidationError(_("Only paper accounts can be reset."))
    with schema_context(tenant.schema_name), transaction.atomic():
        ExchangeConnection.objects.select_for_update().get(pk=connection.pk)
        PaperAccount.objects.filter(connection=connection).delete()
        account = open_account(connection, time.time())
        audit.record("exchange.paper_account_reset", actor=actor, tenant=tenant, target=connection.label)
    return account


# --- replay datasets ---------------------------------------------------------------------


def do_import_ohlcv(tenant, *, dataset: str, symbol: str, timeframe_seconds: int, rows, actor=None) -> dict:
    """Import candles [ms, open, high, low, close, volume] for replay. Validates every row;
    gaps are filled with flat candles at the previous close, so a replay never jumps in
    time. Replaces candles the dataset already has for the same times. All or nothing."""
    if symbol not in markets.MARKETS:
        raise ValidationError(_("The paper exchange has no market %(symbol)s.") % {"symbol": symbol})
    step = timeframe_seconds * 1000
    candles, previous, gaps = [], None, 0
    for number, row in enumerate(rows, start=1):
        candle = _parse_candle(number, row, step)
        if previous is not None:
            if candle[0] <= previous[0]:
                raise ValidationError(_("Row %(row)d: timestamps must increase.") % {"row": number})
            for missing in range(previous[0] + step, candle[0], step):
                close = previous[4]
                candles.append([missing, close, close, close, close, Decimal("0")])
                gaps += 1
        candles.append(candle)
        previous = candle
    if not candles:
        raise ValidationError(_("The file has no candles."))
    with schema_context(tenant.schema_name), transaction.atomic():
        existing = OhlcvCandle.objects.filter(dataset=dataset, symbol=symbol)
        other_timeframe = existing.exclude(timeframe_seconds=timeframe_seconds).exists()
        if other_timeframe:
            raise ValidationError(_("Dataset %(name)s holds %(symbol)s at another timeframe.")
                                  % {"name": dataset, "symbol": symbol})
        existing.filter(timestamp_ms__gte=candles[0][0], timestamp_ms__lte=candles[-1][0]).delete()
        OhlcvCandle.objects.bulk_create(
            [OhlcvCandle(dataset=dataset, symbol=symbol, timeframe_seconds=timeframe_seconds, timestamp_ms=c[0],
                         open=c[1], high=c[2], low=c[3], close=c[4], volume=c[5]) for c in candles],
            batch_size=5000,
        )
        audit.record("exchange.ohlcv_imported", actor=actor, tenant=tenant, target=dataset, symbol=symbol,
                     candles=len(candles), gaps_filled=gaps)
    return {"candles": len(candles), "gaps_filled": gaps}


def _parse_candle(number: int, row, step: int) -> list:
    if len(row) != 6:
        raise ValidationError(_("Row %(row)d: expected 6 columns [timestamp, open, high, low, close, volume].")
                              % {"row": number})
    try:
        timestamp = int(Decimal(str(row[0]).strip()))
        o, h, l, c, v = (Decimal(str(value).strip()) for value in row[1:])
    except (InvalidOperation, ValueError):
        raise ValidationError(_("Row %(row)d: not a number.") % {"row": number}) from None
    if timestamp % step:
        raise ValidationError(_("Row %(row)d: the timestamp is not on the timeframe's grid.") % {"row": number})
    if min(o, h, l, c) <= 0 or v < 0 or not (l <= min(o, c) and h >= max(o, c)):
        raise ValidationError(_("Row %(row)d: prices must be positive with low <= open, close <= high.")
                              % {"row": number})
    return [timestamp, o, h, l, c, v]


# --- key rotation ------------------------------------------------------------------------


def do_reseal_connection(tenant, connection_id: int) -> bool:
    """Re-seal one connection's credentials under the newest key. Each call is its own
    transaction, so a rotation can stop anywhere and simply be run again. Returns
    whether anything changed."""
    from exchanges import vault

    with schema_context(tenant.schema_name), transaction.atomic():
        connection = ExchangeConnection.objects.select_for_update().get(pk=connection_id)
        if not connection.credentials_blob or connection.credentials_key_id == vault.newest_key_id():
            return False
        previous = connection.credentials_key_id
        connection.set_credentials(connection.credentials(tenant.schema_name), tenant.schema_name)
        connection.save(update_fields=["credentials_key_id", "credentials_blob", "api_key_hint"])
        audit.record("exchange.credentials_resealed", tenant=tenant, target=connection.label,
                     from_key=previous, to_key=connection.credentials_key_id)
    return True
