from contextlib import contextmanager

from django.db import connection
from django_tenants.utils import schema_context


@contextmanager
def in_schema(schema_name: str):
    """django-tenants' schema_context, minus the work when the connection is on that
    schema already: schema_context always re-selects the schema, and each selection
    costs a `SET search_path` on the next query."""
    if connection.schema_name == schema_name:
        yield
        return
    with schema_context(schema_name):
        yield


def stay_in_schema(schema_name: str) -> None:
    """Move this thread's connection to `schema_name` and leave it there (the engine's
    per-workspace database threads)."""
    if connection.schema_name != schema_name:
        connection.set_schema(schema_name)
