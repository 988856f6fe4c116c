"""Writes that ride along with the next statement that needs no answer from them (issue 21).

The Notify URL's hot path pays per statement, and on PostgreSQL an INSERT whose result nobody
reads can go in the same statement as a later write, as a data-modifying CTE
(`WITH d0 AS (INSERT …) UPDATE …`): one round trip less, and one less while the publisher row
is locked. Inside `deferring()` (opened inside the transaction), `insert_deferred` keeps such
an INSERT (its SQL built once per model, `compiled`), and `execute_merged` (the charge) or
`update_merged` (the notification's outcome) sends it with their own statement.

Nothing changes order: any other statement that runs while writes are kept (a read, a lock, a
savepoint, another write) sends them first, on their own, through a connection execute
wrapper; leaving `deferring()` normally sends what is left, before the transaction commits.
Only those two merge, and only where their statement does not read the kept rows (a
statement's CTEs and its main part see the same snapshot). Elsewhere (SQLite, outside
`deferring()`) an INSERT is written at once, as `bulk_create` would.

`deferring(wait_for_disk=False)`, opened in an outermost transaction, also lets that
transaction commit without waiting for the disk: the first statement the block sends of its
own (a merge, or kept writes) is followed, in the same round trip, by `SET LOCAL
synchronous_commit TO OFF`. A block that sends none, or whose transaction is nested in
another, commits as usual.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import DEFAULT_DB_ALIAS, models
from django.db.models import F

from .compiled import Statement, database, insert_statements, update_statement


class _Kept(threading.local):
    """The writes kept on this thread's connection (None: not deferring)."""

    writes: list[Statement] | None = None
    no_wait: bool = False  # the block's next own statement says the commit need not wait


_kept = _Kept()
NO_WAIT = "; SET LOCAL synchronous_commit TO OFF"  # a second statement, same round trip


def _merged(sql: str, params: tuple[Any, ...], writes: list[Statement] | None = None) -> Statement:
    """Return `sql` with `writes` (by default the kept ones, then no longer kept) as its CTEs,
    and the block's commit setting after it (once)."""
    if writes is None:
        writes = _kept.writes
        if writes:
            _kept.writes = []
    if writes:
        sql, params = _with(writes, sql, params)
    if _kept.no_wait:
        _kept.no_wait = False
        sql += NO_WAIT
    return sql, params


def _send(statements: list[Statement]) -> None:
    """Send kept writes on their own, in order, as one statement."""
    sql, params = _merged("SELECT 1", (), statements)
    with database().cursor() as cursor:
        cursor.execute(sql, params)


def _with(statements: list[Statement], sql: str, params: tuple[Any, ...]) -> Statement:
    """Return `sql` preceded by `statements` as data-modifying CTEs, and the joined params
    (a `sql` that has CTEs of its own gets them after these)."""
    ctes = ", ".join(f'"deferred_{n}" AS ({write})' for n, (write, _) in enumerate(statements))
    joined = tuple(p for _, write_params in statements for p in write_params)
    own = sql.lstrip()
    if own[:5].upper() == "WITH ":
        return f"WITH {ctes}, {own[5:]}", joined + tuple(params)
    return f"WITH {ctes} {sql}", joined + tuple(params)


def _send_first(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
    """Execute wrapper: a statement that is not a merge sends the kept writes before it."""
    writes = _kept.writes
    if writes:
        _kept.writes = []
        _send(writes)
    return execute(sql, params, many, context)


@contextmanager
def deferring(*, wait_for_disk: bool = True) -> Iterator[None]:
    """Keep `insert_deferred` writes on PostgreSQL until a merge or the end of the block.

    Open it inside the transaction that should hold the writes: on a normal exit what is left
    is sent before the block ends; on an exception it is dropped with the rolled-back work.
    `wait_for_disk=False`: the transaction's commit does not wait for the disk (see above).
    """
    db = database()
    if db.vendor != "postgresql" or _kept.writes is not None:
        yield
        return
    # Only an outermost transaction's commit: SET LOCAL inside a savepoint would outlive it
    # and change the commit of a transaction this block does not own.
    outermost = db.in_atomic_block and not db.savepoint_ids
    _kept.writes, _kept.no_wait = [], not wait_for_disk and outermost
    try:
        with db.execute_wrapper(_send_first):
            yield
            writes, _kept.writes = _kept.writes, []
            if writes:
                _send(writes)
    finally:
        _kept.writes, _kept.no_wait = None, False


def insert_deferred(model: type[models.Model], objs: Iterable[models.Model]) -> None:
    """Insert new `objs` whose answer nobody needs: kept for the next merge inside
    `deferring()`, else written at once with `bulk_create`.

    Their primary keys are either all given (a new box's, taken in the intake's read) or all
    left to the database; kept ones left to it stay None on the objects.
    """
    objs = list(objs)
    if not objs:
        return
    if _kept.writes is None:
        model._default_manager.bulk_create(objs)
        return
    _kept.writes.extend(insert_statements(model, objs))
    for obj in objs:  # saved, as far as the ORM goes (what bulk_create sets)
        obj._state.adding, obj._state.db = False, DEFAULT_DB_ALIAS


def execute_merged(sql: str, params: Iterable[Any]) -> list[tuple[Any, ...]]:
    """Run raw `sql` with the kept writes (if any) in the same statement; return its rows.

    `sql` must not read the rows the kept writes insert (their foreign keys are checked at the
    statement's end, so a row may refer to them).
    """
    sql, params = _merged(sql, tuple(params))
    with database().cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def update_merged(
    model: type[models.Model], pk: Any, *, increment: tuple[str, ...] = (), **values: Any
) -> int:
    """Set `values` on `model`'s row `pk` and add 1 to each `increment` column, in one
    statement with the kept writes (if any); return the rows updated (0 or 1).

    The UPDATE must not read the rows the kept writes insert (it would not see them).
    """
    statement = update_statement(model, pk, values, increment)
    if statement is None:  # what the SQL built once does not cover: the ORM's UPDATE
        values.update({name: F(name) + 1 for name in increment})
        return model._default_manager.filter(pk=pk).update(**values)
    sql, params = _merged(*statement)
    with database().cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount
