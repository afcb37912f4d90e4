import contextlib
import os
import signal
import socket
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connections

from config import embedded_postgres

STOP_TIMEOUT = 20  # seconds each process gets to stop before it is killed


def _die_with_parent():
    """Children run in their own session (Ctrl-C reaches only us, and we stop them in
    order), so should we be killed outright they would outlive us; on Linux the kernel
    sends them SIGTERM when we die."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class Command(BaseCommand):
    help = (
        "Start the whole platform for development: database (embedded unless DATABASE_URL), "
        "migrations, demo workspace, daphne (HTTP + websockets) and a django-q2 cluster. "
        "Ctrl-C stops all of it."
    )

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=settings.PORT)
        parser.add_argument("--bind", default=os.environ.get("BIND_ADDRESS", "127.0.0.1"))
        parser.add_argument("--no-demo", action="store_true", help="Do not create the demo workspace.")
        parser.add_argument("--web-processes", type=int, default=settings.WEB_PROCESSES,
                            help="daphne processes sharing the port (Python runs one core per process)")

    def handle(self, *args, port, bind, no_demo, web_processes, **options):
        call_command("init_system")
        if not no_demo:
            call_command("seed_demo")
        if not settings.DEBUG:
            call_command("collectstatic", interactive=False, verbosity=0)
        connections.close_all()

        self.stopping = False
        signal.signal(signal.SIGINT, self._request_stop)
        signal.signal(signal.SIGTERM, self._request_stop)
        # One listening socket for every web process: the kernel hands each connection
        # to one of them.
        listener = socket.create_server((bind, port), backlog=1024)
        listener.set_inheritable(True)
        processes = {
            f"web {number + 1}": self._spawn(sys.executable, "-m", "daphne", "-v", "0", "--fd", str(listener.fileno()),
                                             "config.asgi:application", pass_fds=(listener.fileno(),))
            for number in range(web_processes)
        }
        processes["worker"] = self._spawn(sys.executable, "manage.py", "qcluster")
        listener.close()
        self.stdout.write(
            self.style.SUCCESS(f"Aviary runs on http://{settings.BASE_DOMAIN}:{port}/ (Ctrl-C stops everything)")
        )
        exit_code = 0
        try:
            while not self.stopping:
                for name, process in processes.items():
                    if process.poll() is not None:
                        self.stderr.write(f"{name} exited with status {process.returncode}; stopping.")
                        exit_code = 1
                        self.stopping = True
                time.sleep(0.3)
        finally:
            self._stop(processes)
        sys.exit(exit_code)

    @staticmethod
    def _spawn(*argv, pass_fds=()):
        return subprocess.Popen(argv, start_new_session=True, preexec_fn=_die_with_parent, pass_fds=pass_fds)

    def _request_stop(self, signum, frame):
        self.stopping = True

    def _stop(self, processes):
        self.stdout.write("Stopping ...")
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        deadline = time.monotonic() + STOP_TIMEOUT
        for name, process in processes.items():
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                self.stderr.write(f"{name} did not stop in time; killing it.")
                process.kill()
                process.wait()
            # Its children too (q2's sentinel and workers), or they would outlive the
            # database, each retrying its lost connection ten times a second.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        if settings.EMBEDDED_PGDATA:
            embedded_postgres.stop(settings.EMBEDDED_PGDATA)
        self.stdout.write("Stopped.")
