"""Which exchanges a connection can use: the paper exchange plus ccxt's list, with the
credentials each needs and whether it has a sandbox/testnet."""

import functools
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from exchanges.adapters.ccxt import ccxt_async
from exchanges.models import PAPER

# ccxt credential names we take in the form, with their labels; the order is the form's.
CREDENTIAL_FIELDS = {
    "apiKey": _("API key"),
    "secret": _("API secret"),
    "password": _("Passphrase"),
    "uid": _("User ID"),
    "privateKey": _("Private key"),
    "walletAddress": _("Wallet address"),
}


@dataclass(frozen=True)
class ExchangeInfo:
    id: str
    name: str
    credentials: tuple[str, ...]
    has_sandbox: bool


PAPER_INFO = ExchangeInfo(PAPER, _("Paper exchange"), (), False)


@functools.cache
def ccxt_exchanges() -> dict[str, ExchangeInfo]:
    module = ccxt_async()
    found = {}
    for exchange_id in module.exchanges:
        description = _describe(getattr(module, exchange_id))
        required = description.get("requiredCredentials", {})
        credentials = tuple(name for name in CREDENTIAL_FIELDS if required.get(name))
        unsupported = [name for name, needed in required.items() if needed and name not in CREDENTIAL_FIELDS]
        if unsupported:
            continue  # exchanges needing credentials we do not take (login, twofa, token)
        found[exchange_id] = ExchangeInfo(
            exchange_id, description.get("name") or exchange_id, credentials, bool(description.get("urls", {}).get("test"))
        )
    return dict(sorted(found.items(), key=lambda item: item[1].name.lower()))


def _describe(exchange_class) -> dict:
    """An exchange's static description. Constructing every ccxt exchange takes ~25 s in
    all, but describe() only needs an object to call methods on: use a bare one, and
    construct properly only for the few classes that need more."""
    bare = exchange_class.__new__(exchange_class)
    bare.timeout = 10_000
    try:
        return bare.describe()
    except AttributeError:
        return exchange_class().describe()


def exchange_info(exchange_id: str) -> ExchangeInfo | None:
    if exchange_id == PAPER:
        return PAPER_INFO
    return ccxt_exchanges().get(exchange_id)


def choices() -> list[tuple[str, str]]:
    return [(PAPER, PAPER_INFO.name)] + [(info.id, info.name) for info in ccxt_exchanges().values()]
