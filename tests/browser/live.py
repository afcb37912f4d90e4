"""The live platform for browser tests: daphne and a django-q2 cluster as real processes
on the pytest test database, Debian's chromium, and helpers for the pages.

The processes are the ones `runplatform` starts, pointed at the test database with
DATABASE_URL, so a page, its websocket and the engine's pushes take the production
path: browser -> daphne -> channels-postgres layer <- qcluster. Their logs go to /tmp.
"""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from decimal import ROUND_UP, Decimal
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
# Debian's chromium, not Playwright's downloads. As root it needs --no-sandbox; the
# rest keeps it off the network. *.localhost resolves to loopback in chromium already;
# the rule also covers resolvers that would ask DNS.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
    "--host-resolver-rules=MAP *.localhost 127.0.0.1, MAP localhost 127.0.0.1",
]
VIEWPORT = {"width": 1280, "height": 800}
# ms for something the engine pushes: it ticks every 0.5 s, and the tight grid's
# next fill comes within seconds.
LIVE = 45_000
START_TIMEOUT = 45  # seconds for daphne to serve; Django's import is most of it
STOP_TIMEOUT = 10
# What the pages report about their websocket, from the first script that runs in them.
LIVE_PROBE = """
window.__live = {opens: 0, closes: []};
document.addEventListener('htmx:wsOpen', () => { window.__live.opens += 1; });
document.addEventListener('htmx:wsClose', (e) => { window.__live.closes.push(e.detail.event.code); });
"""
# The market the tests' grids trade. A perpetual, because spot fees (0.1 %) force a grid step above 0.2 %, which the
# simulated price can take minutes to cross; DOGE, the most volatile simulated market.
SYMBOL = "DOGE/USDT:USDT"


class QuickPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    """Stock PBKDF2 hashes, which the platform's own settings check, at few iterations:
    the suite's MD5 hashes would not let anyone log in to the live platform."""

    iterations = 1000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


@dataclass
class LivePlatform:
    """daphne on 127.0.0.1:`port` and one qcluster, both on the test database."""

    port: int
    env: dict
    log_prefix: str
    web: subprocess.Popen | None = None
    worker: subprocess.Popen | None = None
    logs: dict[str, Path] = field(default_factory=dict)

    def url(self, path: str = "/", workspace: str | None = None) -> str:
        host = f"{workspace}.{settings.BASE_DOMAIN}" if workspace else settings.BASE_DOMAIN
        return f"http://{host}:{self.port}{path}"

    def start_web(self) -> None:
        self.web = self._spawn("web", [sys.executable, "-m", "daphne", "-v", "0", "-b", "127.0.0.1", "-p", str(self.port),
                                       "config.asgi:application"])
        self._wait_serving()

    def start_worker(self) -> None:
        self.worker = self._spawn("worker", [sys.executable, "manage.py", "qcluster"])

    def restart_web(self) -> None:
        """Stop daphne as a deploy or Ctrl-C would (SIGTERM), then start it again on the
        same port."""
        stop(self.web, graceful=True)
        self.start_web()

    def stop_all(self) -> None:
        for process in (self.web, self.worker):
            if process is not None:
                stop(process, graceful=False)

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen:
        path = self.logs.setdefault(name, Path(f"{self.log_prefix}-{name}.log"))
        with path.open("a") as log:
            log.write(f"--- {time.strftime('%H:%M:%S')} {' '.join(argv[1:])}\n")
            log.flush()
            return subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)

    def _wait_serving(self) -> None:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/",
                                         headers={"Host": f"{settings.BASE_DOMAIN}:{self.port}"})
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.web.poll() is not None:
                raise AssertionError(f"daphne exited with {self.web.returncode}:\n{tail(self.logs['web'])}")
            try:
                with urllib.request.urlopen(request, timeout=2) as response:
                    if response.status == 200:
                        return
            except (OSError, urllib.error.HTTPError):
                pass
            time.sleep(0.2)
        raise AssertionError(f"daphne did not serve within {START_TIMEOUT} s:\n{tail(self.logs['web'])}")

    def report(self) -> str:
        return "\n".join(f"==== {name}: {path}\n{tail(path)}" for name, path in self.logs.items())


def stop(process: subprocess.Popen, *, graceful: bool) -> None:
    """Stop a process and everything in its session (qcluster's workers included)."""
    if process.poll() is None and graceful:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=STOP_TIMEOUT)


def wait_for_sessions_to_end(timeout: float = 10) -> list:
    """The processes' database sessions end with them, but PostgreSQL notices a moment
    later; the test database is flushed and finally dropped only once they are gone."""
    deadline = time.monotonic() + timeout
    while True:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pid, application_name, state, query FROM pg_stat_activity "
                           "WHERE datname = current_database() AND pid <> pg_backend_pid()")
            left = cursor.fetchall()
        if not left or time.monotonic() > deadline:
            if left:
                sys.stderr.write(f"database sessions left behind: {left}\n")
            return left
        time.sleep(0.1)


def platform_env(scratch: Path) -> dict:
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{quote(db['HOST'], safe='')}/{db['NAME']}",
        # The test process's keys: q2 tasks it enqueues are signed, credentials sealed,
        # with them; and a restarted daphne must still know the sessions.
        "SECRET_KEY": settings.SECRET_KEY,
        "ENCRYPTION_KEYS": ",".join(settings.ENCRYPTION_KEYS),
        "AVIARY_VAR_DIR": str(scratch / "var"),
        "EMAIL_BACKEND": "file",
        "EMAIL_FILE_PATH": str(scratch / "mail"),
        "Q_WORKERS": "2",
        "ENGINE_SHARDS": "1",
        "ENGINE_TICK_SECONDS": "0.5",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("REDIS_URL", None)
    return env


# --- pages ----------------------------------------------------------------------------------


def wait_for_socket(page, opens: int = 1, timeout: float = 15) -> None:
    """Until the page's websocket has opened `opens` times."""
    page.wait_for_function(f"window.__live && window.__live.opens >= {opens}", timeout=timeout * 1000)


def mark_document(page) -> str:
    """Tag the page's current document; `same_document` tells whether it was replaced
    (a reload or navigation) since."""
    token = f"doc-{time.monotonic_ns()}"
    page.evaluate(f"window.__document = {token!r}")
    return token


def same_document(page, token: str) -> bool:
    return page.evaluate("window.__document") == token


def log_in(page, platform: LivePlatform, workspace: str, user) -> None:
    """Through the workspace's own login page, as a member would."""
    from tests.conftest import PASSWORD

    page.goto(platform.url("/accounts/login/", workspace))
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(platform.url("/", workspace))


def status(page, field_name: str):
    """A figure of the bot page's status card (state, last_price, unrealized_pnl, ...)."""
    return page.locator(f"#bot-status [data-field={field_name}]")


def fill_rows(page):
    return page.locator("#bot-fills tr.fill")


CONTROLS = [("button", "Start"), ("button", "Pause"), ("button", "Resume"), ("link", "Stop…"), ("link", "Edit"),
            ("link", "Delete…")]


def controls(page) -> list[str]:
    """The bot controls the page shows."""
    return [name for role, name in CONTROLS if page.get_by_role(role, name=name, exact=True).count()]


# --- the paper market ---------------------------------------------------------------------


def current_price(symbol: str = SYMBOL) -> Decimal:
    """The simulated paper price now: every process computes the same."""
    from exchanges.adapters.paper import simulated_feed

    return simulated_feed().price(symbol, time.time())


def tight_grid(symbol: str = SYMBOL, levels: int = 9) -> dict:
    """A grid straddling the current price with steps just wide enough to pay the fees
    (0.05 %, rounded up to the tick): the opening buy fills at once and the price
    crosses a neighbouring level within seconds."""
    from exchanges.markets import market

    price = current_price(symbol)
    tick = market(symbol)["precision"]["price"]
    step = (price * Decimal("0.0005") / tick).to_integral_value(rounding=ROUND_UP) * tick
    half = levels // 2
    return {"lower_price": price - half * step, "upper_price": price + half * step, "grid_count": levels,
            "amount_per_level": Decimal(200)}
