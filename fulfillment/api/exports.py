"""CSV exports in the API: the list endpoints' rows, streamed (issue 20, point 20).

`GET /api/v1/orders/export.csv` takes the filters of `GET /api/v1/orders/` (and the
notifications' export those of `GET /api/v1/notifications/`): the same rows, every page,
one CSV file. `GET /api/v1/ledger/export.csv` writes the caller's ledger, filtered by kind
or SamCart order id. The caller needs the model's view permission, as for the lists.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar

import django_filters
from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request

from fulfillment.clock import login_zone
from fulfillment.exports import (
    LEDGER_COLUMNS,
    NOTIFICATION_COLUMNS,
    ORDER_COLUMNS,
    Column,
    Row,
    csv_response,
    ledger_rows,
    notification_rows,
    order_rows,
)
from fulfillment.models import LedgerEntry, LedgerKind, Notification, Order

from .filters import ID_MAX_LENGTH, NotificationFilter, OrderFilter, choice_filter
from .views import ScopedView

CSV_ANSWER = {(200, "text/csv"): OpenApiTypes.STR}


def csv_schema(name: str) -> Callable:
    """Document an export: its list's filters, a CSV answer, operation id `<name>_export`."""
    return extend_schema(responses=CSV_ANSWER, filters=True, operation_id=f"{name}_export")


class CsvRenderer(BaseRenderer):
    """Accept `text/csv` requests; an error answer (400, 403) is written as JSON text."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: dict[str, Any] | None = None,
    ) -> bytes:
        """Write an error's data as JSON (successful answers are streamed, not rendered)."""
        return JSONRenderer().render(data)


class CsvExport(ScopedView, generics.GenericAPIView):
    """Stream the filtered queryset of a list as CSV."""

    pagination_class = None
    renderer_classes = (JSONRenderer, CsvRenderer)
    name: ClassVar[str] = "export"
    columns: ClassVar[Sequence[Column]] = ()
    rows: ClassVar[Callable[[QuerySet], Iterator[Row]]]

    def get(self, request: Request, *args: Any, **kwargs: Any) -> StreamingHttpResponse:
        """Answer the rows the list would show, all pages, as one CSV file."""
        queryset = self.filter_queryset(self.get_queryset())
        return csv_response(
            self.name, self.columns, type(self).rows(queryset), login_zone(request.user)
        )


class OrderExport(CsvExport):
    """The caller's orders as CSV, one row per line with the box's columns; the filters of
    `GET /api/v1/orders/`."""

    filterset_class = OrderFilter
    name = "orders"
    columns = ORDER_COLUMNS
    rows = staticmethod(order_rows)

    def get_queryset(self) -> QuerySet[Order]:
        """Return the caller's orders, in the list's order."""
        return Order.objects.for_user(self.request.user).order_by(*Order._meta.ordering)

    @csv_schema("orders")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> StreamingHttpResponse:
        """Download the orders the list shows (all pages) as CSV."""
        return super().get(request, *args, **kwargs)


class NotificationExport(CsvExport):
    """The caller's notifications as CSV (no bodies); the filters of
    `GET /api/v1/notifications/`."""

    filterset_class = NotificationFilter
    name = "notifications"
    columns = NOTIFICATION_COLUMNS
    rows = staticmethod(notification_rows)

    def get_queryset(self) -> QuerySet[Notification]:
        """Return the caller's notifications, newest first."""
        return Notification.objects.for_user(self.request.user).order_by(
            *Notification._meta.ordering
        )

    @csv_schema("notifications")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> StreamingHttpResponse:
        """Download the notifications the list shows (all pages) as CSV."""
        return super().get(request, *args, **kwargs)


class LedgerFilter(django_filters.FilterSet):
    """Filters of `GET /api/v1/ledger/export.csv`."""

    kind = choice_filter(LedgerKind, "Entries of this kind.")
    external_order_id = django_filters.CharFilter(
        field_name="order__external_order_id",
        max_length=ID_MAX_LENGTH,
        help_text="Entries of the boxes of this SamCart order id.",
    )

    class Meta:
        model = LedgerEntry
        fields = ("kind", "external_order_id")


class LedgerExport(CsvExport):
    """The caller's ledger as CSV, newest first, each entry with the balance after it."""

    filterset_class = LedgerFilter
    name = "ledger"
    columns = LEDGER_COLUMNS
    rows = staticmethod(ledger_rows)

    def get_queryset(self) -> QuerySet[LedgerEntry]:
        """Return the caller's ledger entries."""
        return LedgerEntry.objects.for_user(self.request.user)

    @csv_schema("ledger")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> StreamingHttpResponse:
        """Download the ledger (filtered by kind or SamCart order id) as CSV."""
        return super().get(request, *args, **kwargs)
