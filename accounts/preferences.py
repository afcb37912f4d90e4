"""A person's language and time zone, applied to everything rendered for them: pages
(htmx partials included) through the middleware, pushed fragments through `applied`.

A user with no language of their own follows the browser: LocaleMiddleware has
already chosen from the language cookie or Accept-Language by the time this runs.
"""

import functools
import zoneinfo
from contextlib import contextmanager
from http.cookies import CookieError, SimpleCookie
from types import SimpleNamespace

from django.conf import settings
from django.utils import timezone, translation


@functools.cache
def time_zones() -> tuple[str, ...]:
    """IANA names, sorted. Read once per process: scanning tzdata costs milliseconds."""
    return tuple(sorted(zoneinfo.available_timezones()))


def is_language(code: str) -> bool:
    return code in dict(settings.LANGUAGES)


class UserPreferencesMiddleware:
    """Activates the signed-in user's language and time zone for the request. Placed
    after LocaleMiddleware, whose response hook then reports the language actually
    used in Content-Language; responses already vary on Cookie (the session)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if not user.is_authenticated:
            return self.get_response(request)
        # Overridden, not activated: neither may outlive this request on the thread
        # (code that runs next on it, outside a request, would speak the user's language).
        with translation.override(user.language or translation.get_language()), timezone.override(user.time_zone):
            request.LANGUAGE_CODE = translation.get_language()
            response = self.get_response(request)
            # LocaleMiddleware, outside this one, only fills in a Content-Language not set.
            response.headers.setdefault("Content-Language", request.LANGUAGE_CODE)
            return response


@contextmanager
def applied(language: str, time_zone: str):
    """Render in this language and time zone, outside any request (sockets, emails)."""
    with translation.override(language), timezone.override(time_zone):
        yield


def for_socket(scope) -> tuple[str, str]:
    """(language, time zone) for a websocket's user: theirs, else what the handshake's
    language cookie or Accept-Language says, as LocaleMiddleware would decide."""
    user = scope["user"]
    language = user.language or translation.get_language_from_request(_handshake(scope))
    return language, user.time_zone


def _handshake(scope) -> SimpleNamespace:
    headers = {key.decode("latin-1"): value.decode("latin-1") for key, value in scope.get("headers", [])}
    cookies = SimpleCookie()
    try:
        cookies.load(headers.get("cookie", ""))
    except CookieError:
        pass
    return SimpleNamespace(COOKIES={name: morsel.value for name, morsel in cookies.items()},
                           META={"HTTP_ACCEPT_LANGUAGE": headers.get("accept-language", "")})
