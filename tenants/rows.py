"""Model rows read and written with SQL written once per model, for the hot paths (the
paper exchange's books, the engine's orders and fills, webhook signals).

A queryset compiles its SQL anew on every call: on these machines that is about half a
millisecond of Python per statement, more than PostgreSQL takes to run it, and a paper
order takes twenty statements. These helpers build each model's SELECT, INSERT and
UPDATE once and convert values with the fields' own converters, so what they read and
write is exactly what the ORM would (Decimals, JSON, auto_now dates). They run on the
connection's current schema, like the ORM."""

from contextlib import contextmanager
from decimal import Decimal
from functools import cache

from django.db import DEFAULT_DB_ALIAS, connection, connections, models, transaction
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init
from django_tenants.utils import get_limit_set_calls, quote_schema_name


class Batch:
    """Statements sent to PostgreSQL in one round trip, run in order when run() is called.

    A round trip costs more than a small statement here (about 120 µs of CPU, between
    this process and the server, against 30 µs for a statement in a batch), so a
    unit of work reads what it needs in one batch and writes what it changed in
    another. select() and fetch() return lists that run() fills; insert() sets primary
    keys when it runs. A statement that fails raises from run(), and the statements
    after it do not run."""

    def __init__(self):
        self._statements: list[tuple[str, list, object]] = []

    def select(self, model, where: str, params=(), *, order_by: str = "", for_update: bool = False) -> list:
        """Instances of `model` from `SELECT <its columns> FROM <its table> WHERE <where>`."""
        sql = _select_sql(model) + " WHERE " + where
        if order_by:
            sql += " ORDER BY " + order_by
        if for_update:
            sql += " FOR UPDATE"
        found = []
        self._statements.append((sql, list(params), lambda fetched: found.extend(_instances(model, fetched))))
        return found

    def fetch(self, sql: str, params=()) -> list:
        """The rows (tuples) of any statement that returns rows."""
        found = []
        self._statements.append((sql, list(params), found.extend))
        return found

    def insert(self, *objects) -> None:
        """INSERT the objects (all of one model) in one statement; their primary keys are
        set when it runs (or written, when set already on all of them)."""
        if not objects:
            return
        model = type(objects[0])
        with_key = all(obj.pk is not None for obj in objects)
        fields = _insert_fields(model, with_key)
        placeholders = "(" + ", ".join(["%s"] * len(fields)) + ")"
        db = connections[DEFAULT_DB_ALIAS]
        params = [value for obj in objects for value in _prepared(obj, fields, add=True, db=db)]
        sql = (_insert_sql(model, with_key) + ", ".join([placeholders] * len(objects))
               + f" RETURNING {_quoted(model._meta.pk.column)}")
        self._statements.append((sql, params, lambda keys: _stored(objects, keys)))

    def update(self, obj, fields=None) -> None:
        """UPDATE the named fields (all of them by default) of a stored object, and its
        auto_now dates, as Model.save does."""
        model = type(obj)
        chosen = _update_fields(model, tuple(fields) if fields is not None else None)
        if not chosen:
            return
        self._statements.append((_update_sql(model, tuple(field.attname for field in chosen)),
                                 [*_prepared(obj, chosen, add=False, db=connections[DEFAULT_DB_ALIAS]), obj.pk],
                                 None))

    def save(self, obj) -> None:
        """insert() a new object, update() a stored one."""
        if obj._state.adding:
            self.insert(obj)
        else:
            self.update(obj)

    def run(self, *, commit: bool = False) -> None:
        """Send the statements. With `commit`, they end the transaction they run in, and
        its COMMIT travels with them, when that is the outermost atomic block (Django's
        commit at its end then finds nothing left to do). Call it so only as the block's
        last work. Inside a caller's transaction, the caller commits."""
        statements, self._statements = self._statements, []
        if not statements:
            return
        db = connections[DEFAULT_DB_ALIAS]
        search_path = _search_path_to_set(db)
        opening = _own_transaction(db)
        sqls = [sql for sql, _params, _then in statements]
        ahead = [sql for sql in (opening and not opening.begun and "BEGIN", search_path) if sql]
        if opening:
            opening.begun = True
        ends = commit and (opening.depth == 1 if opening else db.in_atomic_block and len(db.atomic_blocks) == 1)
        if ends:
            sqls.append("COMMIT")
        try:
            with db.cursor() as cursor:
                # One simple-protocol query: psycopg's client-side binding merges the
                # parameters, so several statements can travel together.
                cursor.execute(";\n".join([*ahead, *sqls]),
                               [param for _sql, params, _then in statements for param in params])
                for _sql in ahead:
                    cursor.nextset()
                for index, (_sql, _params, then) in enumerate(statements):
                    if index:
                        cursor.nextset()
                    if then is not None:
                        then(cursor.fetchall())
            if ends and opening:
                opening.ended = True
        except BaseException:
            if search_path:
                db.search_path_set_schemas = None  # PostgreSQL undid the SET with the rest
            raise


class _Transaction:
    begun = ended = False
    depth = 1  # rows.atomic blocks open in it

    def __call__(self, execute, sql, params, many, context):
        """Any statement that comes before the first batch (an ORM read) starts it."""
        if not self.begun:
            self.begun = True
            context["cursor"].execute("BEGIN")
        return execute(sql, params, many, context)


@contextmanager
def atomic():
    """transaction.atomic, one round trip shorter at each end: BEGIN travels with the
    block's first batch, and COMMIT with a batch run with commit=True as its last work
    (or on its own at the end). Inside a caller's transaction, it is transaction.atomic
    (a savepoint); inside another of these, it is part of that one's transaction (Django
    knows of neither, so no savepoint). Within it the ORM may read and write, but not
    open atomic blocks (its connection is in autocommit mode, for Django)."""
    db = connections[DEFAULT_DB_ALIAS]
    outer = _own_transaction(db)
    if outer:
        outer.depth += 1
        try:
            yield
        finally:
            outer.depth -= 1
        return
    if db.in_atomic_block or not db.get_autocommit():
        with transaction.atomic():
            yield
        return
    own = db.rows_transaction = _Transaction()
    try:
        with db.execute_wrapper(own):
            yield
    except BaseException:
        if own.begun and not own.ended:
            _end(db, "ROLLBACK")
        raise
    else:
        if own.begun and not own.ended:
            _end(db, "COMMIT")
    finally:
        db.rows_transaction = None


def _own_transaction(db) -> _Transaction | None:
    return getattr(db, "rows_transaction", None)


def _end(db, command: str) -> None:
    try:
        with db.cursor() as cursor:
            cursor.execute(command)
    finally:
        if command == "ROLLBACK":
            db.search_path_set_schemas = None  # a SET in the transaction is undone too


def _search_path_to_set(db) -> str | None:
    """django-tenants' `SET search_path`, when the connection's schema changed since the
    last one: sent with the batch instead of in a round trip of its own."""
    if db.search_path_set_schemas or not get_limit_set_calls():
        return None
    paths = db._get_cursor_search_paths()
    # Opening the cursor now leaves the SET to us.
    db.search_path_set_schemas = paths
    return "SET search_path = " + ",".join(quote_schema_name(path) for path in paths)


def insert_values(obj, leave_out=()) -> tuple[str, list[str], list]:
    """For an INSERT written by hand: the quoted table, and the quoted columns and
    prepared values of a new object's fields, but for its primary key and `leave_out`."""
    fields = [field for field in _insert_fields(type(obj), False) if field.name not in leave_out]
    return (_quoted(obj._meta.db_table), [_quoted(field.column) for field in fields],
            _prepared(obj, fields, add=True, db=connections[DEFAULT_DB_ALIAS]))


def select(model, where: str, params=(), *, order_by: str = "", for_update: bool = False) -> list:
    """Batch.select, on its own."""
    batch = Batch()
    found = batch.select(model, where, params, order_by=order_by, for_update=for_update)
    batch.run()
    return found


def one(model, found: list):
    """The only instance in `found`; DoesNotExist or MultipleObjectsReturned as QuerySet.get."""
    if len(found) != 1:
        error = model.DoesNotExist if not found else model.MultipleObjectsReturned
        raise error(f"{len(found)} {model.__name__} rows match.")
    return found[0]


def get(model, where: str, params=(), *, for_update: bool = False):
    """The one row, as QuerySet.get."""
    return one(model, select(model, where, params, for_update=for_update))


def insert(*objects) -> None:
    batch = Batch()
    batch.insert(*objects)
    batch.run()


def _stored(objects, keys) -> None:
    for obj, (key,) in zip(objects, keys, strict=True):
        obj.pk = key
        obj._state.adding, obj._state.db = False, connection.alias


def _prepared(obj, fields, *, add: bool, db) -> list:
    """The fields' values as Model.save would write them (auto_now dates set on `obj`)."""
    prepared = []
    for field in fields:
        value = getattr(obj, field.attname)
        # Model.save's conversions give these values back unchanged; they are most of
        # what the hot paths write, and converting costs microseconds a value.
        kept = type(value) in _KEPT_AS_IS.get(type(field), ()) and not getattr(field, "auto_now", False)
        if not kept or (type(value) is Decimal and not value.is_finite()):
            value = field.get_db_prep_save(field.pre_save(obj, add=add), db)
        prepared.append(value)
    return prepared


_NONE = type(None)
_KEPT_AS_IS = {
    **dict.fromkeys([models.AutoField, models.BigAutoField, models.SmallAutoField, models.IntegerField,
                     models.BigIntegerField, models.SmallIntegerField, models.PositiveIntegerField,
                     models.PositiveBigIntegerField, models.PositiveSmallIntegerField, models.ForeignKey],
                    (int, _NONE)),
    models.CharField: (str, _NONE),
    models.TextField: (str, _NONE),
    models.BooleanField: (bool, _NONE),
    models.FloatField: (float, _NONE),
    models.DecimalField: (Decimal, _NONE),
}


def _instances(model, fetched) -> list:
    """Model instances of rows, as QuerySet iteration makes them (Model.from_db)."""
    db = connections[DEFAULT_DB_ALIAS]
    converters, attnames = _converters(model), _attnames(model)
    plain = not pre_init.has_listeners(model) and not post_init.has_listeners(model)
    found = []
    for row in fetched:
        values = list(row)
        for index, field_converters, column in converters:
            for convert in field_converters:
                values[index] = convert(values[index], column, db)
        if plain:
            # What Model.__init__ does with a full row, without its setattr per field
            # and its signals (nobody listens): about 40 µs an instance here.
            obj = model.__new__(model)
            obj.__dict__.update(zip(attnames, values))
            obj._state = state = ModelState()
            state.adding, state.db = False, db.alias
        else:
            obj = model.from_db(db.alias, None, values)
        found.append(obj)
    return found


def _quoted(name: str) -> str:
    return connection.ops.quote_name(name)


@cache
def _select_sql(model) -> str:
    columns = ", ".join(_quoted(field.column) for field in model._meta.concrete_fields)
    return f"SELECT {columns} FROM {_quoted(model._meta.db_table)}"


@cache
def _attnames(model) -> tuple:
    return tuple(field.attname for field in model._meta.concrete_fields)


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
def _insert_fields(model, with_key: bool) -> list:
    return [field for field in model._meta.concrete_fields if with_key or not field.primary_key]


@cache
def _insert_sql(model, with_key: bool) -> str:
    columns = ", ".join(_quoted(field.column) for field in _insert_fields(model, with_key))
    return f"INSERT INTO {_quoted(model._meta.db_table)} ({columns}) VALUES "


@cache
def _update_fields(model, names: tuple | None) -> list:
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    if names is None:
        return fields
    unknown = set(names) - {field.name for field in fields} - {field.attname for field in fields}
    if unknown:
        raise ValueError(f"{model.__name__} has no fields {sorted(unknown)} to update.")
    return [field for field in fields if field.name in names or field.attname in names
            or getattr(field, "auto_now", False)]


@cache
def _update_sql(model, attnames: tuple) -> str:
    fields = {field.attname: field for field in model._meta.concrete_fields}
    assignments = ", ".join(f"{_quoted(fields[name].column)} = %s" for name in attnames)
    return f"UPDATE {_quoted(model._meta.db_table)} SET {assignments} WHERE {_quoted(model._meta.pk.column)} = %s"
