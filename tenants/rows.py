"""Model rows read and written with SQL written once per model, for the hot paths (the
paper exchange's books, the engine's orders and fills, webhook signals).

A queryset compiles its SQL anew on every call: on these machines that is about half a
millisecond of Python per statement, more than PostgreSQL takes to run it, and a paper
order takes twenty statements. These helpers build each model's SELECT, INSERT and
UPDATE once and convert values with the fields' own converters, so what they read and
write is exactly what the ORM would (Decimals, JSON, auto_now dates). They run on the
connection's current schema, like the ORM."""

from functools import cache

from django.db import connection


def select(model, where: str, params=(), *, order_by: str = "", for_update: bool = False) -> list:
    """Instances of `model` from `SELECT <its columns> FROM <its table> WHERE <where>`."""
    sql = _select_sql(model) + " WHERE " + where
    if order_by:
        sql += " ORDER BY " + order_by
    if for_update:
        sql += " FOR UPDATE"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [_instance(model, row) for row in rows]


def get(model, where: str, params=(), *, for_update: bool = False):
    """The one row, or model.DoesNotExist, as QuerySet.get."""
    found = select(model, where, params, for_update=for_update)
    if not found:
        raise model.DoesNotExist(f"{model.__name__} matching {where} {list(params)} does not exist.")
    return found[0]


def insert(*objects) -> None:
    """INSERT the objects (all of one model) in one statement and set their primary keys."""
    if not objects:
        return
    model = type(objects[0])
    fields = _insert_fields(model)
    placeholders = "(" + ", ".join(["%s"] * len(fields)) + ")"
    params = [field.get_db_prep_save(field.pre_save(obj, add=True), connection)
              for obj in objects for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(model) + ", ".join([placeholders] * len(objects))
                       + f" RETURNING {_quoted(model._meta.pk.column)}", params)
        keys = cursor.fetchall()
    for obj, (key,) in zip(objects, keys, strict=True):
        obj.pk = key
        obj._state.adding, obj._state.db = False, connection.alias


def update(obj, fields=None) -> None:
    """UPDATE the named fields (all of them by default) of a stored object, and its
    auto_now dates, as Model.save does."""
    model = type(obj)
    chosen = _update_fields(model, tuple(fields) if fields is not None else None)
    params = [field.get_db_prep_save(field.pre_save(obj, add=False), connection) for field in chosen]
    with connection.cursor() as cursor:
        cursor.execute(_update_sql(model, tuple(field.attname for field in chosen)), [*params, obj.pk])


def save(obj) -> None:
    """insert() a new object, update() a stored one."""
    if obj._state.adding:
        insert(obj)
    else:
        update(obj)


def _instance(model, row):
    values = list(row)
    for index, converters, column in _converters(model):
        for convert in converters:
            values[index] = convert(values[index], column, connection)
    return model.from_db(connection.alias, None, values)


def _quoted(name: str) -> str:
    return connection.ops.quote_name(name)


@cache
def _select_sql(model) -> str:
    columns = ", ".join(_quoted(field.column) for field in model._meta.concrete_fields)
    return f"SELECT {columns} FROM {_quoted(model._meta.db_table)}"


@cache
def _converters(model) -> list:
    found = []
    for index, field in enumerate(model._meta.concrete_fields):
        column = field.get_col(model._meta.db_table)
        converters = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        if converters:
            found.append((index, converters, column))
    return found


@cache
def _insert_fields(model) -> list:
    return [field for field in model._meta.concrete_fields if not field.primary_key]


@cache
def _insert_sql(model) -> str:
    columns = ", ".join(_quoted(field.column) for field in _insert_fields(model))
    return f"INSERT INTO {_quoted(model._meta.db_table)} ({columns}) VALUES "


@cache
def _update_fields(model, names: tuple | None) -> list:
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    if names is None:
        return fields
    return [field for field in fields if field.name in names or field.attname in names
            or getattr(field, "auto_now", False)]


@cache
def _update_sql(model, attnames: tuple) -> str:
    fields = {field.attname: field for field in model._meta.concrete_fields}
    assignments = ", ".join(f"{_quoted(fields[name].column)} = %s" for name in attnames)
    return f"UPDATE {_quoted(model._meta.db_table)} SET {assignments} WHERE {_quoted(model._meta.pk.column)} = %s"
