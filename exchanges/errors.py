"""What can go wrong at an exchange, in our own terms. Adapters translate every
library or exchange error into one of these; messages are safe to show a user and
never contain credentials."""


class ExchangeError(Exception):
    """Base class. `retryable` says whether trying the same call again later may succeed."""

    retryable = False


class AuthenticationFailed(ExchangeError):
    """Bad or revoked API key, wrong secret, missing permission, IP not whitelisted."""


class InsufficientFunds(ExchangeError):
    """Not enough free balance or margin."""


class InvalidOrder(ExchangeError):
    """The exchange refuses the order as such: precision, minimums, unknown market."""


class DuplicateOrder(InvalidOrder):
    """An order with this client order id exists already."""


class OrderNotFound(ExchangeError):
    """No such order, or it is no longer open where an open order was needed."""


class RateLimited(ExchangeError):
    retryable = True

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class TemporarilyUnavailable(ExchangeError):
    """Timeouts, network errors, 5xx, maintenance, unreadable responses."""

    retryable = True
