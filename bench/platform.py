"""The platform as `make run` starts it, for benchmarks that talk to it over HTTP: web
processes sharing one socket, and a `qcluster` running the engine, on the bench's own
embedded PostgreSQL (stopped with them)."""

import socket
from contextlib import contextmanager

from bench.density import spawn, stop
from bench.provisioning import BENCH_PGDATA


def listening_socket() -> socket.socket:
    """One socket for all web processes: the kernel hands each connection to one of them."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    listener.set_inheritable(True)
    return listener


@contextmanager
def running_platform(web_processes: int, *, web_log: str, engine_log: str, engine_env: dict):
    """(port, web processes) while they run; their logs are appended to var/<log>."""
    from django.db import connections

    from config import embedded_postgres

    listener = listening_socket()
    webs = [spawn("-m", "daphne", "-v", "0", "--fd", str(listener.fileno()), "config.asgi:application",
                  log=web_log, pass_fds=(listener.fileno(),)) for _ in range(web_processes)]
    engine = spawn("manage.py", "qcluster", log=engine_log, env=engine_env)
    try:
        yield listener.getsockname()[1], webs
    finally:
        for process in [*webs, engine]:
            stop(process)
        listener.close()
        connections.close_all()
        embedded_postgres.stop(BENCH_PGDATA)
