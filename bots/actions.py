"""State changes of bots: creation, configuration revisions, the state machine.

Every action takes the tenant explicitly and works in its schema; lifecycle changes
also update the public run registry, so the engine sees them within one tick."""

import hashlib
import json
import secrets
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_tenants.utils import schema_context

from accounts import audit
from billing import quotas
from bots import live, registry
from bots.models import Bot, BotConfigRevision, BotEvent
from bots.strategies import STRATEGIES, strategy_class
from exchanges import markets as paper_markets
from exchanges import vault

RISK_FIELDS = {"max_position_value", "stop_loss_pct", "max_daily_loss", "circuit_breaker"}
State = Bot.State


# --- creation and configuration -----------------------------------------------------------


def do_create_bot(tenant, *, name: str, connection, strategy: str, symbols: list[str], params: dict, actor,
                  risk: dict | None = None) -> Bot:
    cls = _strategy(strategy)
    symbols = _clean_symbols(cls, connection, symbols)
    stored = _clean_params(cls, connection, symbols, params)
    risk = clean_risk(risk or {})
    with schema_context(tenant.schema_name), transaction.atomic():
        quotas.require_bot_slot(tenant, strategy=cls.key)
        bot = Bot.objects.create(
            name=name.strip() or cls.name, connection=connection, strategy=cls.key, symbols=symbols, params=stored,
            risk=risk, revision=1, created_by_id=getattr(actor, "pk", None),
        )
        BotConfigRevision.objects.create(bot=bot, number=1, name=bot.name, symbols=symbols, params=stored, risk=risk,
                                         note=_("Created"), created_by_id=getattr(actor, "pk", None))
        if cls.key == "signal":
            _issue_webhook(tenant, bot)
        record_event(bot, BotEvent.Kind.CREATED, _("Created with the %(strategy)s strategy.") % {"strategy": cls.name})
        audit.record("bot.created", actor=actor, tenant=tenant, target=f"{bot.pk} {bot.name}", strategy=cls.key)
    return bot


def do_update_bot_config(tenant, bot: Bot, *, actor, params: dict | None = None, name: str | None = None,
                         risk: dict | None = None, note: str = "") -> BotConfigRevision:
    """A new configuration revision; a running bot applies it on its next tick."""
    cls = _strategy(bot.strategy)
    with schema_context(tenant.schema_name), transaction.atomic():
        bot = Bot.objects.select_for_update().get(pk=bot.pk)
        stored = _clean_params(cls, bot.connection, bot.symbols, params) if params is not None else bot.params
        new_risk = clean_risk(risk) if risk is not None else bot.risk
        new_name = name.strip() if name else bot.name
        if (stored, new_risk, new_name) == (bot.params, bot.risk, bot.name):
            return bot.revisions.first()
        bot.revision += 1
        bot.params, bot.risk, bot.name = stored, new_risk, new_name
        bot.save(update_fields=["revision", "params", "risk", "name", "updated_at"])
        revision = BotConfigRevision.objects.create(
            bot=bot, number=bot.revision, name=new_name, symbols=bot.symbols, params=stored, risk=new_risk,
            note=note or _("Edited"), created_by_id=getattr(actor, "pk", None),
        )
        record_event(bot, BotEvent.Kind.CONFIG_CHANGED, _("Configuration revision %(n)d.") % {"n": bot.revision},
                     data={"revision": bot.revision})
        registry.touch(tenant, bot.pk)
        audit.record("bot.config_changed", actor=actor, tenant=tenant, target=f"{bot.pk} {bot.name}",
                     revision=bot.revision)
        live.after_commit(tenant, bot)
    return revision


def do_rollback_bot_config(tenant, bot: Bot, *, to_revision: int, actor) -> BotConfigRevision:
    """Roll back to an earlier revision: its settings become a new revision."""
    with schema_context(tenant.schema_name):
        old = BotConfigRevision.objects.filter(bot=bot, number=to_revision).first()
    if old is None:
        raise ValidationError(_("Revision %(n)d does not exist.") % {"n": to_revision})
    return do_update_bot_config(tenant, bot, actor=actor, params=old.params, name=old.name, risk=old.risk,
                                note=_("Rolled back to revision %(n)d") % {"n": to_revision})


def _strategy(key):
    try:
        return strategy_class(key)
    except LookupError:
        raise ValidationError({"strategy": _("Unknown strategy. Choose one of: %(keys)s.")
                               % {"keys": ", ".join(STRATEGIES)}}) from None


def _clean_symbols(cls, connection, symbols) -> list[str]:
    symbols = [str(symbol).strip() for symbol in symbols or [] if str(symbol).strip()]
    if len(symbols) != cls.symbol_count:
        raise ValidationError({"symbols": _("The %(strategy)s strategy trades %(n)d symbol(s).")
                               % {"strategy": cls.name, "n": cls.symbol_count}})
    if len(set(symbols)) != len(symbols):
        raise ValidationError({"symbols": _("Choose two different symbols.")})
    if connection.is_paper:
        unknown = [symbol for symbol in symbols if symbol not in paper_markets.MARKETS]
        if unknown:
            raise ValidationError({"symbols": _("The paper exchange has no market %(symbols)s.")
                                   % {"symbols": ", ".join(unknown)}})
    return symbols


def markets_for(connection, symbols) -> dict:
    """Market definitions for parameter checks: the paper catalogue, or nothing known yet
    for live exchanges (the engine rounds to their precision and skips what is too small)."""
    if connection.is_paper:
        return {symbol: paper_markets.market(symbol) for symbol in symbols}
    return {}


def _clean_params(cls, connection, symbols, params) -> dict:
    form = cls.form(params or {}, markets=markets_for(connection, symbols))
    if not form.is_valid():
        raise ValidationError({field: [error["message"] for error in errors]
                               for field, errors in form.errors.get_json_data().items()})
    return cls.serialise(form.cleaned_data)


def clean_risk(risk: dict) -> dict:
    unknown = set(risk) - RISK_FIELDS
    if unknown:
        raise ValidationError({"risk": _("Unknown risk settings: %(names)s.") % {"names": ", ".join(sorted(unknown))}})
    cleaned = {}
    for name in ("max_position_value", "stop_loss_pct", "max_daily_loss"):
        value = risk.get(name)
        if value in (None, ""):
            cleaned[name] = None
            continue
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise ValidationError({name: _("Enter a number.")}) from None
        if number <= 0 or (name == "stop_loss_pct" and number >= 100):
            raise ValidationError({name: _("Must be positive%(extra)s.")
                                   % {"extra": _(" and below 100") if name == "stop_loss_pct" else ""}})
        cleaned[name] = str(number)
    breaker = risk.get("circuit_breaker")
    cleaned["circuit_breaker"] = int(breaker) if breaker not in (None, "") else None
    if cleaned["circuit_breaker"] is not None and not 1 <= cleaned["circuit_breaker"] <= 100:
        raise ValidationError({"circuit_breaker": _("Between 1 and 100 consecutive failures.")})
    return cleaned


# --- the state machine ---------------------------------------------------------------------

ALLOWED = {
    "start": {State.DRAFT, State.STOPPED, State.ERROR},
    "pause": {State.RUNNING},
    "resume": {State.PAUSED},
    "stop": {State.RUNNING, State.PAUSED, State.ERROR, State.DRAFT},
}


# Lazy: read at import, shown in the language of whoever is refused.
REFUSED = {
    "start": gettext_lazy("A %(state)s bot cannot be started."),
    "pause": gettext_lazy("A %(state)s bot cannot be paused."),
    "resume": gettext_lazy("A %(state)s bot cannot be resumed."),
    "stop": gettext_lazy("A %(state)s bot cannot be stopped."),
}


def _transition(tenant, bot, verb, new_state, *, actor, reason="", kind, message, alert=False) -> Bot:
    with schema_context(tenant.schema_name), transaction.atomic():
        bot = Bot.objects.select_for_update().get(pk=bot.pk)
        if bot.state not in ALLOWED[verb]:
            raise ValidationError(REFUSED[verb] % {"state": bot.get_state_display().lower()})
        bot.state = new_state
        bot.state_reason = reason[:500]
        bot.state_changed_at = timezone.now()
        fields = ["state", "state_reason", "state_changed_at", "updated_at"]
        if verb in ("start", "resume"):
            bot.needs_reconcile, bot.consecutive_failures, bot.backoff_until = True, 0, 0
            fields += ["needs_reconcile", "consecutive_failures", "backoff_until"]
        bot.save(update_fields=fields)
        record_event(bot, kind, message, alert=alert)
        if verb == "start":
            registry.register(tenant, bot.pk)
        elif verb == "stop" and bot.state == State.STOPPED:
            registry.unregister(tenant, bot.pk)
        else:
            registry.touch(tenant, bot.pk)
        if actor is not None:
            audit.record(f"bot.{verb}", actor=actor, tenant=tenant, target=f"{bot.pk} {bot.name}", reason=reason)
        live.after_commit(tenant, bot)
    return bot


def do_start_bot(tenant, bot: Bot, *, actor) -> Bot:
    with transaction.atomic():
        # The plan's lock first, the bot's second: the order billing's actions take them in.
        quotas.require_bot_slot(tenant, strategy=bot.strategy, bot=bot)
        return _transition(tenant, bot, "start", State.RUNNING, actor=actor, kind=BotEvent.Kind.STARTED,
                           message=_("Started."))


def do_pause_bot(tenant, bot: Bot, *, actor, reason: str = "", alert: bool = False) -> Bot:
    return _transition(tenant, bot, "pause", State.PAUSED, actor=actor, reason=reason, alert=alert,
                       kind=BotEvent.Kind.RISK_STOP if alert else BotEvent.Kind.PAUSED,
                       message=reason or _("Paused."))


def do_resume_bot(tenant, bot: Bot, *, actor) -> Bot:
    with transaction.atomic():
        quotas.require_bot_slot(tenant, strategy=bot.strategy, bot=bot)
        return _transition(tenant, bot, "resume", State.RUNNING, actor=actor, kind=BotEvent.Kind.RESUMED,
                           message=_("Resumed."))


def do_stop_bot(tenant, bot: Bot, *, actor, reason: str = "") -> Bot:
    """Stop for good: the engine cancels the bot's open orders, then marks it stopped.
    A bot the engine does not run (draft, error) is stopped at once."""
    with schema_context(tenant.schema_name):
        state = Bot.objects.values_list("state", flat=True).get(pk=bot.pk)
    engine_runs_it = state in (State.RUNNING, State.PAUSED)
    if not engine_runs_it and state == State.ERROR:
        # Orders may still be open: let the engine cancel them.
        registry.register(tenant, bot.pk)
        engine_runs_it = True
    return _transition(tenant, bot, "stop", State.STOPPING if engine_runs_it else State.STOPPED, actor=actor,
                       reason=reason, kind=BotEvent.Kind.STOPPED,
                       message=reason or (_("Stopping: cancelling open orders.") if engine_runs_it else _("Stopped.")))


def do_finish_stop(tenant, bot: Bot) -> Bot:
    """The engine has cancelled the orders of a stopping bot."""
    with schema_context(tenant.schema_name), transaction.atomic():
        bot = Bot.objects.select_for_update().get(pk=bot.pk)
        if bot.state != State.STOPPING:
            return bot
        bot.state, bot.state_changed_at = State.STOPPED, timezone.now()
        bot.save(update_fields=["state", "state_changed_at", "updated_at"])
        record_event(bot, BotEvent.Kind.STOPPED, _("Stopped; open orders cancelled."))
        registry.unregister(tenant, bot.pk)
        live.after_commit(tenant, bot)
    return bot


def do_fail_bot(tenant, bot: Bot, *, reason: str) -> Bot:
    """The bot cannot go on (its strategy or connection broke): error, with the reason."""
    with schema_context(tenant.schema_name), transaction.atomic():
        bot = Bot.objects.select_for_update().get(pk=bot.pk)
        bot.state, bot.state_reason, bot.state_changed_at = State.ERROR, reason[:500], timezone.now()
        bot.save(update_fields=["state", "state_reason", "state_changed_at", "updated_at"])
        record_event(bot, BotEvent.Kind.ERROR, reason, alert=True)
        registry.unregister(tenant, bot.pk)
        live.after_commit(tenant, bot)
    return bot


def do_delete_bot(tenant, bot: Bot, *, actor) -> None:
    with schema_context(tenant.schema_name), transaction.atomic():
        bot = Bot.objects.select_for_update().get(pk=bot.pk)
        if bot.is_active:
            raise ValidationError(_("Stop the bot before deleting it."))
        registry.unregister(tenant, bot.pk)
        bot.delete()
        audit.record("bot.deleted", actor=actor, tenant=tenant, target=f"{bot.name}")


# --- events and webhooks ---------------------------------------------------------------------


def record_event(bot: Bot, kind: str, message: str, *, alert: bool = False, data: dict | None = None) -> BotEvent:
    return BotEvent.objects.create(bot=bot, kind=kind, message=str(message)[:500], alert=alert, data=data or {})


def webhook_context(schema_name: str, bot_id: int) -> str:
    return f"bot-webhook:{schema_name}:{bot_id}"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _issue_webhook(tenant, bot: Bot) -> None:
    token, secret = secrets.token_urlsafe(24), secrets.token_urlsafe(18)
    sealed = vault.seal(json.dumps({"token": token, "secret": secret}).encode(),
                        context=webhook_context(tenant.schema_name, bot.pk))
    bot.webhook_token_hash, bot.webhook_sealed, bot.webhook_key_id = token_hash(token), sealed.blob, sealed.key_id
    bot.save(update_fields=["webhook_token_hash", "webhook_sealed", "webhook_key_id"])


def webhook_credentials(tenant, bot: Bot) -> dict:
    """{"token", "secret"} of a signal bot, for its own page."""
    if not bot.webhook_sealed:
        return {}
    sealed = vault.Sealed(bot.webhook_key_id, bytes(bot.webhook_sealed))
    return json.loads(vault.unseal(sealed, context=webhook_context(tenant.schema_name, bot.pk)))


def do_rotate_webhook(tenant, bot: Bot, *, actor) -> None:
    with schema_context(tenant.schema_name), transaction.atomic():
        _issue_webhook(tenant, Bot.objects.select_for_update().get(pk=bot.pk))
        audit.record("bot.webhook_rotated", actor=actor, tenant=tenant, target=f"{bot.pk} {bot.name}")



def do_reveal_webhook(tenant, bot: Bot, *, actor) -> dict:
    """A signal bot's credentials for a person who asked to see them; who saw them when
    is audited."""
    credentials = webhook_credentials(tenant, bot)
    audit.record("bot.webhook_revealed", actor=actor, tenant=tenant, target=f"{bot.pk} {bot.name}")
    return credentials
