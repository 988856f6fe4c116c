"""INSERTs of new rows and UPDATEs of one row by id, their SQL text built once per model
(issue 21).

The ORM compiles every statement anew: the table, every column name quoted, every
placeholder, through the compiler's machinery, for each of the Notify URL's writes (the
notification, the box with its 30-odd columns, its lines, its events, the outcome). The text
depends only on the model and on which columns are written, so it is built once here; the
values still come from each field's own `pre_save` and `get_db_prep_save`, as the ORM's
compilers take them, so defaults, `auto_now` and converters stay the ORM's.

Anything this path does not cover goes to the ORM as before: a value that is an expression or
a model instance, a field with its own placeholder, a model with `pre_save`/`post_save`
receivers or a parent model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.signals import post_save, pre_save
from django.db.models.sql import InsertQuery

Statement = tuple[str, tuple[Any, ...]]


def database() -> BaseDatabaseWrapper:
    """Return the default connection itself: `django.db.connection` is a proxy whose every
    attribute costs a thread-local lookup, and compilers read the connection per field."""
    return connections[DEFAULT_DB_ALIAS]


# A field, and whether it has a placeholder of its own (then `_plain` checks each value).
Column = tuple[models.Field[Any, Any], bool]


def _insert_fields(model: type[models.Model], with_pk: bool) -> list[models.Field[Any, Any]]:
    """The fields an INSERT of new `model` rows writes (as `Model.save` chooses them)."""
    meta = model._meta
    return [
        f
        for f in meta.local_concrete_fields
        if not f.generated and (with_pk or f is not meta.auto_field)
    ]


@cache
def _template(
    model: type[models.Model], with_pk: bool, vendor: str
) -> tuple[str, str, tuple[Column, ...]]:
    """Return `INSERT INTO t (columns) VALUES `, one row's placeholders, and the columns."""
    fields = _insert_fields(model, with_pk)
    quote = database().ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    table = quote(model._meta.db_table)  # names only: every value is a parameter
    own = tuple((f, hasattr(f, "get_placeholder")) for f in fields)
    return f"INSERT INTO {table} ({columns}) VALUES ", row, own  # noqa: S608


def _plain(field: models.Field[Any, Any], value: Any, db: BaseDatabaseWrapper) -> bool:
    """Whether `value` of a field with a placeholder of its own goes in as a plain `%s` (a
    BinaryField's does on PostgreSQL and SQLite; any other such field is left to the
    compiler)."""
    if isinstance(field, models.BinaryField):
        return db.ops.binary_placeholder_sql(value) == "%s"
    return False


def insert_statement(model: type[models.Model], objs: Sequence[models.Model]) -> Statement | None:
    """Return the INSERT of new `objs` (primary keys all given or all left to the database),
    or None when the ORM must compile it (see the module's docstring)."""
    db = database()
    if model._meta.parents:
        return None
    head, row, columns = _template(model, objs[0].pk is not None, db.vendor)
    params: list[Any] = []
    for obj in objs:
        for field, own_placeholder in columns:
            value = field.pre_save(obj, add=True)
            if hasattr(value, "resolve_expression"):
                return None
            if own_placeholder and not _plain(field, value, db):
                return None
            params.append(field.get_db_prep_save(value, connection=db))
    return head + ", ".join([row] * len(objs)), tuple(params)


def insert_statements(model: type[models.Model], objs: Sequence[models.Model]) -> list[Statement]:
    """Return the INSERT(s) of new `objs`: the SQL built once, or the ORM's own compile where
    that does not cover them."""
    statement = insert_statement(model, objs)
    if statement is not None:
        return [statement]
    query = InsertQuery(model)
    query.insert_values(_insert_fields(model, objs[0].pk is not None), objs)
    compiler = query.get_compiler(connection=database())
    return [(sql, tuple(params)) for sql, params in compiler.as_sql()]


def insert_one(obj: models.Model) -> None:
    """Save a new `obj` as `obj.save(force_insert=True)` would, its SQL built once per model;
    `obj.pk` is then the database's."""
    model, db = type(obj), database()
    statement = None
    quiet = not pre_save.has_listeners(model) and not post_save.has_listeners(model)
    if quiet and db.features.can_return_columns_from_insert:
        statement = insert_statement(model, [obj])
    if statement is None:
        obj.save(force_insert=True)
        return
    sql, params = statement
    if obj.pk is None:
        sql += f" RETURNING {db.ops.quote_name(model._meta.pk.column)}"
    # As `save()`: an error inside an atomic block marks it for rollback.
    with transaction.mark_for_rollback_on_error(db.alias), db.cursor() as cursor:
        cursor.execute(sql, params)
        if obj.pk is None:
            obj.pk = cursor.fetchone()[0]
    obj._state.adding, obj._state.db = False, db.alias


@cache
def _update_template(
    model: type[models.Model], names: tuple[str, ...], increment: tuple[str, ...], vendor: str
) -> tuple[str, tuple[models.Field[Any, Any], ...]]:
    """Return `UPDATE t SET … WHERE id = %s` and the fields its placeholders are for."""
    quote = database().ops.quote_name
    meta = model._meta
    fields = tuple(meta.get_field(name) for name in names)
    counted = (quote(meta.get_field(name).column) for name in increment)
    sets = [f"{column} = {column} + 1" for column in counted]
    sets += [f"{quote(field.column)} = %s" for field in fields]
    table, pk = quote(meta.db_table), quote(meta.pk.column)
    return f"UPDATE {table} SET {', '.join(sets)} WHERE {pk} = %s", fields  # noqa: S608


def update_statement(
    model: type[models.Model],
    pk: Any,
    values: Mapping[str, Any],
    increment: tuple[str, ...] = (),
) -> Statement | None:
    """Return the UPDATE that sets `values` (by field name) and adds 1 to each `increment`
    column of `model`'s row `pk`, or None when the ORM must compile it."""
    db = database()
    sql, fields = _update_template(model, tuple(values), increment, db.vendor)
    params: list[Any] = []
    for field, value in zip(fields, values.values(), strict=True):
        if hasattr(value, "resolve_expression") or hasattr(value, "prepare_database_save"):
            return None
        if hasattr(field, "get_placeholder") and not _plain(field, value, db):
            return None
        params.append(field.get_db_prep_save(value, connection=db))
    params.append(model._meta.pk.get_db_prep_value(pk, db))
    return sql, tuple(params)
