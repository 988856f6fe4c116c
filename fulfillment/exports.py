"""CSV exports of the order list, the ledger and the notification list (issue 20, point 20).

Streamed: rows are read with `QuerySet.iterator(chunk_size=…)` as plain values (no model
instances, no query per row) and written one by one through a `csv.writer`, so 100,000 rows
neither time out nor fill memory. django-import-export was considered and not used: it builds
the whole dataset in memory (tablib) before writing a byte.

The admin (`fulfillment/admin/exports.py`) and the API (`fulfillment/api/exports.py`) hand
in the queryset their list shows (scoped, filtered, searched); this module only writes it.

Cells are written for spreadsheets that may open them: text starting with = + - @ tab or
carriage return gets a leading apostrophe (CSV injection: SamCart names are hostile input);
times are ISO-8601 with their offset, in the reader's time zone; money is plain "30.00".
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any

from django.db.models import BooleanField, Case, FilteredRelation, QuerySet, Value, When
from django.http import StreamingHttpResponse
from django.utils import timezone

from fulfillment.models import ZERO, LedgerEntry

CHUNK_SIZE = 2000
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
Row = dict[str, Any]


def safe_text(text: str) -> str:
    """Return `text` so no spreadsheet runs it as a formula: "'=1+1" for "=1+1"."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def cell(value: Any, zone: tzinfo) -> str:
    """Return one CSV cell: ISO-8601 times with offset, plain money, yes/no, safe text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.astimezone(zone).isoformat(timespec="seconds")
    if isinstance(value, Decimal | int):
        return str(value)
    return safe_text(str(value))


@dataclass(frozen=True)
class Column:
    """One CSV column: its heading and the value key it reads (or a function of the row)."""

    heading: str
    key: str
    read: Callable[[Row], Any] | None = None

    def value(self, row: Row) -> Any:
        """Return this column's value in `row`."""
        return self.read(row) if self.read else row.get(self.key)


class _Line:
    """A file-like object whose write returns what it was given (csv.writer's sink)."""

    def write(self, text: str) -> str:
        return text


def csv_lines(columns: Sequence[Column], rows: Iterable[Row], zone: tzinfo) -> Iterator[str]:
    """Yield the heading line, then one CSV line per row."""
    writer = csv.writer(_Line())
    yield writer.writerow([column.heading for column in columns])
    for row in rows:
        yield writer.writerow([cell(column.value(row), zone) for column in columns])


def csv_response(
    name: str, columns: Sequence[Column], rows: Iterable[Row], zone: tzinfo
) -> StreamingHttpResponse:
    """Return a streamed CSV download named `<name>-<date>.csv`."""
    stamp = timezone.now().astimezone(zone).strftime("%Y-%m-%d")
    response = StreamingHttpResponse(
        (line.encode() for line in csv_lines(columns, rows, zone)),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response


def _fields(columns: Sequence[Column]) -> list[str]:
    return [c.key for c in columns if c.read is None]


# Orders: one row per line, with the box's columns repeated (a box without lines: one row).
ORDER_COLUMNS = (
    Column("order", "pk"),
    Column("publisher ID", "publisher__idpub"),
    Column("publisher", "publisher__name"),
    Column("status", "status"),
    Column("hold reason", "hold_reason"),
    Column("test order", "is_test"),
    Column("refunded in SamCart", "cart_refunded"),
    Column("found by", "found_by"),
    Column("SamCart order ID", "external_order_id"),
    Column("box number", "box_number"),
    Column("customer name", "ship_name"),
    Column("customer email", "customer_email"),
    Column("customer phone", "customer_phone"),
    Column("street", "ship_street"),
    Column("city", "ship_city"),
    Column("state", "ship_state"),
    Column("postal code", "ship_postal_code"),
    Column("country", "ship_country"),
    Column("country code", "ship_country_code"),
    Column("box cost", "cost"),
    Column("carrier", "carrier"),
    Column("tracking number", "tracking_number"),
    Column("purchase arrived", "notification__received_at"),
    Column("created", "created_at"),
    Column("line", "export_line__id"),
    Column("project", "export_line__project__title"),
    Column("SamCart product ID", "export_line__external_product_id"),
    Column("quantity", "export_line__quantity"),
    Column("unit cost", "export_line__unit_cost"),
    Column("shipping cost", "export_line__shipping_cost"),
    Column("line removed", "export_line__removed_at"),
    Column("line refunded in SamCart", "export_line__cart_refunded"),
)


def order_rows(orders: QuerySet) -> Iterator[Row]:
    """Yield one row per line of `orders` (in their order), the box's columns on each.

    The lines come through a join of their own (FilteredRelation), so a filter or search
    on a line (project, product id) picks the box and every line of it is written.
    """
    ordering = [*orders.query.order_by, "export_line__id"]
    rows = (
        orders.prefetch_related(None)
        .alias(export_line=FilteredRelation("lines"))
        .order_by(*ordering)
        .values(*_fields(ORDER_COLUMNS))
    )
    return rows.iterator(chunk_size=CHUNK_SIZE)


NOTIFICATION_COLUMNS = (
    Column("notification", "pk"),
    Column("received", "received_at"),
    Column("publisher ID", "publisher__idpub"),
    Column("publisher", "publisher__name"),
    Column("publisher ID given", "idpub_given"),
    Column("test", "is_test"),
    Column("event", "event_type"),
    Column("SamCart order ID", "external_order_id"),
    Column("outcome", "outcome"),
    Column("detail", "detail"),
    Column("HTTP status answered", "http_status"),
    Column("processed", "processed_at"),
    Column("attempts", "attempts"),
    Column("sent from (IP address)", "remote_addr"),
)


def notification_rows(notifications: QuerySet) -> Iterator[Row]:
    """Yield one row per notification of `notifications`, in their order (no bodies)."""
    rows = notifications.prefetch_related(None).values(*_fields(NOTIFICATION_COLUMNS))
    return rows.iterator(chunk_size=CHUNK_SIZE)


LEDGER_COLUMNS = (
    Column("entry", "pk"),
    Column("created", "created_at"),
    Column("publisher ID", "publisher__idpub"),
    Column("publisher", "publisher__name"),
    Column("kind", "kind"),
    Column("amount", "amount"),
    Column("balance after", "balance_after"),
    Column("order", "order_id"),
    Column("SamCart order ID", "order__external_order_id"),
    Column("note", "note"),
    Column("by", "created_by__username"),
)
LEDGER_READ = (*_fields(LEDGER_COLUMNS[:6]), *_fields(LEDGER_COLUMNS[7:]))


def ledger_rows(entries: QuerySet[LedgerEntry]) -> Iterator[Row]:
    """Yield the entries of `entries`, newest first, each with the balance right after it.

    The balance after an entry is the publisher's balance now minus every later entry of that
    publisher, shown in the list or not; so every entry of the publishers concerned is read
    (newest first) and the running sum kept per publisher, and only the listed ones written.
    """
    listed = Case(
        When(pk__in=entries.order_by().values("pk"), then=Value(True)),
        default=Value(False),
        output_field=BooleanField(),
    )
    every = (
        LedgerEntry.objects.filter(publisher_id__in=entries.order_by().values("publisher_id"))
        .annotate(listed=listed)
        .order_by("-created_at", "-id")
        .values(*LEDGER_READ, "publisher_id", "publisher__balance", "listed")
    )
    later: dict[int, Decimal] = {}
    for row in every.iterator(chunk_size=CHUNK_SIZE):
        after = later.get(row["publisher_id"], ZERO)
        later[row["publisher_id"]] = after + row["amount"]
        if row["listed"]:
            row["balance_after"] = row["publisher__balance"] - after
            yield row
