"""New workspace schemas as copies of the migrated template schema.

django-tenants' own clone is a large plpgsql function that walks information_schema;
its cost grows with every schema in the database (about 200 ms per clone at 230 schemas
with an empty template, and per-session growth on top). Instead we ask pg_dump once for
the template's DDL, keep it per process until the template's migrations change, and
replay it with the new schema's name: the cost depends on the template alone, not on
how many workspaces exist.
"""

import os
import re
import subprocess
import threading

from django.conf import settings
from django.db import connection

from config import embedded_postgres

PLACEHOLDER = "__aviary_new_schema__"

_cache_lock = threading.Lock()
_cache: dict[tuple, str] = {}


class TemplateUnavailable(RuntimeError):
    pass


def clone_template_into(schema_name: str, template: str | None = None) -> None:
    """Create `schema_name` with the template's tables, indexes, constraints and
    migration history, in the caller's transaction."""
    template = template or settings.TENANT_TEMPLATE_SCHEMA
    ddl = template_ddl(template).replace(PLACEHOLDER, _quote(schema_name))
    with connection.cursor() as cursor:
        cursor.execute(ddl)
        cursor.execute(
            f"INSERT INTO {_quote(schema_name)}.django_migrations (app, name, applied) "
            f"SELECT app, name, applied FROM {_quote(template)}.django_migrations ORDER BY id"
        )


def template_ddl(template: str) -> str:
    key = _fingerprint(template)
    with _cache_lock:
        if key not in _cache:
            _cache.clear()
            _cache[key] = _dump_ddl(template)
        return _cache[key]


def _fingerprint(template: str) -> tuple:
    """Changes whenever the template is recreated or migrated."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT oid FROM pg_namespace WHERE nspname = %s", [template])
        row = cursor.fetchone()
        if row is None:
            raise TemplateUnavailable(f"The template schema {template!r} does not exist; run `manage.py init_system`.")
        cursor.execute(f"SELECT count(*), max(id) FROM {_quote(template)}.django_migrations")
        return (connection.settings_dict["NAME"], template, row[0], *cursor.fetchone())


def _dump_ddl(template: str) -> str:
    db = connection.settings_dict
    env = {**os.environ, "PGPASSWORD": db.get("PASSWORD") or ""}
    argv = [str(embedded_postgres.bin_path("pg_dump")), "--schema-only", "--no-owner", "--no-privileges",
            "--no-comments", "--schema", template, "--dbname", db["NAME"], "--username", db.get("USER") or "postgres"]
    if db.get("HOST"):
        argv += ["--host", db["HOST"]]
    if db.get("PORT"):
        argv += ["--port", str(db["PORT"])]
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise TemplateUnavailable(f"pg_dump of the template schema failed: {result.stderr.strip()}")
    return _with_placeholder(result.stdout, template)


def _with_placeholder(dump: str, template: str) -> str:
    kept = []
    for line in dump.splitlines():
        # Session settings (search_path = '' among them) and psql meta-commands
        # (\restrict) belong to a restore session, not to ours.
        if line.startswith(("SET ", "SELECT pg_catalog.set_config(", "\\", "--")) or not line.strip():
            continue
        kept.append(line)
    # pg_dump quotes the schema name only when it must.
    name = re.escape(template)
    ddl = re.sub(rf'"{name}"(?=[.;\s])|(?<![\w"]){name}(?=[.;\s])', PLACEHOLDER, "\n".join(kept))
    if template in ddl.replace(PLACEHOLDER, ""):
        raise TemplateUnavailable(f"The template DDL still names {template!r} somewhere; refusing to clone.")
    return ddl


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
