"""The one read a SamCart purchase needs (SPEC §4–§5), in one SQL statement.

The publisher (by idpub, or by id under its lock) with what authentication and money need,
whether the SamCart order already has lines, and the active projects whose SamCart id index
lists each product id. Raw SQL because it joins across four tables in one round trip; the
values go through each field's own database converters, so SQLite and PostgreSQL agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from django.db import connection
from django.db.models import Model

from fulfillment.models import Order, Project, ProjectCartId, Publisher

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence


def _in_model_order(model: type[Model], names: set[str]) -> tuple[str, ...]:
    """Return the attnames in the model's field order, the order `Model.from_db` expects."""
    return tuple(f.attname for f in model._meta.concrete_fields if f.attname in names)


PUBLISHER_FIELDS = _in_model_order(
    Publisher,
    {
        "id",
        "idpub",
        "notify_key",
        "previous_notify_key",
        "previous_key_valid_until",
        "require_notify_key",
        "use_billing_address",
        "balance",
        "pricing_version",
        "production_delay_minutes",
        "grouping_minutes",
    },
)
PROJECT_FIELDS = _in_model_order(
    Project, {"id", "publisher_id", "title", "unit_cost", "shipping_cost", "prices_confirmed"}
)


@dataclass
class IntakeSnapshot:
    """What one read found: the publisher, whether the order has lines, the matches."""

    publisher: Publisher
    has_lines: bool = False
    # PostgreSQL, when a product matched and the order has no line yet (a new box is certain
    # but for a race): the id the new box takes, from the order id sequence in the same read,
    # so the box and the charge can be one statement (`deferred`). Unused: a gap.
    new_box_id: int | None = None
    # Product id -> its active projects, by project id (the order orders are created in).
    matches: dict[str, list[Project]] = field(default_factory=dict)


def _columns(alias: str, model: type[Model], names: Sequence[str]) -> str:
    quote = connection.ops.quote_name
    return ", ".join(f"{alias}.{quote(model._meta.get_field(n).column)}" for n in names)


@cache
def _converters(model: type[Model], name: str) -> tuple[Any, tuple[Callable[..., Any], ...]]:
    """Return the column of `model.name` and the converters Django applies to it (once)."""
    model_field = model._meta.get_field(name)
    column = model_field.get_col(model._meta.db_table)
    converters = connection.ops.get_db_converters(column) + model_field.get_db_converters(
        connection
    )
    return column, tuple(converters)


def _instance(model: type[Model], names: Sequence[str], values: Sequence[Any]) -> Any:
    """Build a model instance from raw column values, as the ORM would (the rest deferred)."""
    converted = []
    for name, value in zip(names, values, strict=True):
        column, converters = _converters(model, name)
        for converter in converters:
            value = converter(value, column, connection)
        converted.append(value)
    return model.from_db(connection.alias, list(names), converted)


@cache
def _sql(*, by_id: bool, products: int) -> str:
    quote = connection.ops.quote_name
    publisher, project = quote(Publisher._meta.db_table), quote(Project._meta.db_table)
    index, order = quote(ProjectCartId._meta.db_table), quote(Order._meta.db_table)
    # Table and column names only: every value is a parameter.
    lines = f"EXISTS (SELECT 1 FROM {order} o WHERE o.publisher_id = p.id AND o.source = %s"  # noqa: S608
    lines += " AND o.external_order_id = %s) AS has_lines"
    where = "p.id = %s" if by_id else "p.idpub = %s"
    columns = _columns("p", Publisher, PUBLISHER_FIELDS)
    if not products:
        return f"SELECT {columns}, {lines} FROM {publisher} p WHERE {where}"  # noqa: S608
    placeholders = ", ".join(["%s"] * products)
    joins = (
        f" LEFT JOIN {index} m ON m.publisher_id = p.id AND m.external_id IN ({placeholders})"
        f" LEFT JOIN {project} pr ON pr.id = m.project_id AND pr.is_active"
        f" WHERE {where} ORDER BY pr.id"
    )
    matched = f"m.external_id, {_columns('pr', Project, PROJECT_FIELDS)}"
    if connection.vendor != "postgresql":  # no sequence to take the new box's id from
        return f"SELECT {columns}, {lines}, NULL, {matched} FROM {publisher} p{joins}"  # noqa: S608
    # The new box's id when a product matched and the order has no line: an uncorrelated
    # subquery, so one nextval at most whatever the number of rows.
    sequence = f"pg_get_serial_sequence('{Order._meta.db_table}', 'id')"
    new_box = (
        f"CASE WHEN pr.id IS NOT NULL AND NOT x.has_lines THEN (SELECT nextval({sequence})) END"
    )
    return (
        f"SELECT {columns}, x.has_lines, {new_box}, {matched}"  # noqa: S608
        f" FROM {publisher} p CROSS JOIN LATERAL (SELECT {lines}) x{joins}"
    )


def intake_snapshot(
    *,
    source: str,
    order_id: str,
    product_ids: Sequence[str],
    idpub: str = "",
    publisher_id: int | None = None,
) -> IntakeSnapshot | None:
    """Read the publisher (by `publisher_id`, else `idpub`), its lines and matches; None if none.

    `product_ids` empty reads the publisher alone (an event that creates no order).
    """
    by_id = publisher_id is not None
    ids = [str(i) for i in product_ids]  # a number that came from JSON is looked up as text
    params: list[Any] = [source, order_id, *ids, publisher_id if by_id else idpub]
    with connection.cursor() as cursor:
        cursor.execute(_sql(by_id=by_id, products=len(product_ids)), params)
        rows = cursor.fetchall()
    if not rows:
        return None
    width = len(PUBLISHER_FIELDS)
    first = rows[0]
    snapshot = IntakeSnapshot(
        publisher=_instance(Publisher, PUBLISHER_FIELDS, first[:width]),
        has_lines=bool(first[width]),
    )
    for row in rows:
        external_id, project = row[width + 2 : width + 3], row[width + 3 :]
        if not project or project[0] is None:
            continue  # no id matched, or the matching project is inactive
        snapshot.new_box_id = snapshot.new_box_id or row[width + 1]
        snapshot.matches.setdefault(external_id[0], []).append(
            _instance(Project, PROJECT_FIELDS, project)
        )
    return snapshot
