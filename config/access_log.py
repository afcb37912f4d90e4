"""Request logging without secrets.

Some URLs carry a secret in their path: a signal bot's webhook token, an invitation, a
password reset or e-mail confirmation key. daphne's own access log and Django's
"Not Found: <path>" warnings would write them out, so the web processes run daphne
without its access log (`-v 0`), `AccessLog` writes one line per HTTP request with those
path segments hidden and no query string, and `RedactSecrets` hides them in every other
log record on the console."""

import logging
import re
import time

SECRET_PATHS = re.compile(r"(/hooks/signal/|/invitations/|/accounts/password/reset/key/|/accounts/confirm-email/)"
                          r"(?!done/)[^/\s?#\"']+")

logger = logging.getLogger("aviary.access")


def redact(text: str) -> str:
    return SECRET_PATHS.sub(r"\1…", text)


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        hidden = redact(message)
        if hidden != message:
            record.msg, record.args = hidden, None
        return True


class AccessLog:
    """`<client> "<METHOD> <path>" <status> <ms>` at INFO on aviary.access, per HTTP request."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started, status = time.perf_counter(), None

        async def sending(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            client = (scope.get("client") or ("-",))[0]
            logger.info('%s "%s %s" %s %.0f ms', client, scope["method"], redact(scope["path"]), status or "-",
                        (time.perf_counter() - started) * 1000)
