"""The admin lists' *Export CSV* link: the rows the list shows, as a streamed CSV file.

`CsvExportMixin` adds `<list>/export.csv` to an admin class. The export builds the list's own
`ChangeList` from the query string the link carries, so it holds exactly the rows the list
shows: the user's publisher only, the active filters, the search and the sort (all pages).
The link is drawn by templates/admin/fulfillment/change_list.html when `export_url` is set.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import PAGE_VAR
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseBadRequest
from django.urls import path, reverse

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

if TYPE_CHECKING:
    from django.db.models import QuerySet
    from django.http import HttpRequest, HttpResponse
    from django.template.response import TemplateResponse
    from django.urls import URLPattern

BAD_FILTERS = "These filters do not fit this list; open the list again and export from there."


class CsvExportMixin:
    """Give an admin list an *Export CSV* link and view (put it before the scoped base)."""

    export_name: str = "export"
    export_columns: Sequence[Column] = ()
    # staticmethod(order_rows) and the like: the list's queryset in, rows out.
    export_rows: Callable[[QuerySet], Iterator[Row]]

    def get_urls(self) -> list[URLPattern]:
        """Add `export.csv` to the model's admin URLs."""
        opts = self.model._meta  # type: ignore[attr-defined]
        name = f"{opts.app_label}_{opts.model_name}_export"
        view = self.admin_site.admin_view(self.export_view)  # type: ignore[attr-defined]
        return [path("export.csv", view, name=name), *super().get_urls()]  # type: ignore[misc]

    def export_url(self, request: HttpRequest) -> str:
        """Return the export's URL with the list's current query string."""
        opts = self.model._meta  # type: ignore[attr-defined]
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_export")
        query = request.GET.copy()
        query.pop(PAGE_VAR, None)
        return f"{url}?{query.urlencode()}" if query else url

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> TemplateResponse:
        """Show the list with its *Export CSV* link."""
        context = {"export_url": self.export_url(request), **(extra_context or {})}
        return super().changelist_view(request, context)  # type: ignore[misc]

    def export_view(self, request: HttpRequest) -> HttpResponse:
        """Stream the list's rows (every page) as CSV; 403 without view permission, 400 for
        filters the list does not take."""
        if not self.has_view_or_change_permission(request):  # type: ignore[attr-defined]
            raise PermissionDenied
        query = request.GET.copy()
        query.pop(PAGE_VAR, None)
        request.GET = query
        try:
            changelist = self.get_changelist_instance(request)  # type: ignore[attr-defined]
        except (IncorrectLookupParameters, ValueError):
            return HttpResponseBadRequest(BAD_FILTERS, content_type="text/plain; charset=utf-8")
        rows = self.export_rows(changelist.queryset)
        return csv_response(self.export_name, self.export_columns, rows, login_zone(request.user))


class OrderExportMixin(CsvExportMixin):
    """The order list's export: one row per line, the box's columns on each."""

    export_name = "orders"
    export_columns = ORDER_COLUMNS
    export_rows = staticmethod(order_rows)


class LedgerExportMixin(CsvExportMixin):
    """The ledger's export: each entry with the balance after it, newest first."""

    export_name = "ledger"
    export_columns = LEDGER_COLUMNS
    export_rows = staticmethod(ledger_rows)


class NotificationExportMixin(CsvExportMixin):
    """The notification list's export (without the bodies)."""

    export_name = "notifications"
    export_columns = NOTIFICATION_COLUMNS
    export_rows = staticmethod(notification_rows)
