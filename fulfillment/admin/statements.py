"""The monthly statement page (issue 20, point 21): on screen, printable, and as CSV.

`/admin/fulfillment/ledgerentry/statement/?publisher=<id>&month=YYYY-MM`, linked from the
ledger list, the publisher's page and the account page. A publisher's login sees its own
publisher only (another one answers 404); staff pick a publisher. Needs the ledger's view
permission (viewers have it). A month that is not YYYY-MM answers 400.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.http import urlencode

from fulfillment.clock import when
from fulfillment.exports import Column, csv_response
from fulfillment.ids import id_or_none
from fulfillment.models import Publisher
from fulfillment.services.statements import (
    MonthError,
    Statement,
    month_current,
    month_next,
    month_parse,
    month_previous,
    statement_build,
    statement_months,
)
from fulfillment.services.wording import money

from .base import NOT_FOUND, is_staff_request

if TYPE_CHECKING:
    from datetime import date

    from django.http import HttpRequest, HttpResponse
    from django.urls import URLPattern

BAD_PUBLISHER = "Choose a publisher from the list."
STATEMENT_COLUMNS = (
    Column("date", "created_at"),
    Column("entry", "entry_id"),
    Column("kind", "kind"),
    Column("order", "order_id"),
    Column("SamCart order ID", "external_order_id"),
    Column("note", "note"),
    Column("amount", "amount"),
    Column("balance", "balance_after"),
)


def statement_csv_rows(statement: Statement) -> list[dict[str, Any]]:
    """Return the statement as CSV rows: the opening balance, each entry, the closing one."""
    start = {"kind": "opening balance", "balance_after": statement.opening}
    rows = [{**line.__dict__} for line in statement.lines]
    return [start, *rows, {"kind": "closing balance", "balance_after": statement.closing}]


def statement_url(publisher: Publisher | None = None, month: date | None = None) -> str:
    """Return the statement page's URL for `publisher` and `month` (either may be left out)."""
    query = {}
    if publisher is not None:
        query["publisher"] = publisher.pk
    if month is not None:
        query["month"] = f"{month:%Y-%m}"
    url = reverse("admin:fulfillment_ledgerentry_statement")
    return f"{url}?{urlencode(query)}" if query else url


class StatementsMixin:
    """Add the monthly statement page to the ledger's admin, and link it from the list."""

    def get_urls(self) -> list[URLPattern]:
        """Add `statement/` to the ledger's admin URLs."""
        view = self.admin_site.admin_view(self.statement_view)  # type: ignore[attr-defined]
        urls = super().get_urls()  # type: ignore[misc]
        return [path("statement/", view, name="fulfillment_ledgerentry_statement"), *urls]

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> Any:
        """Show the ledger list with a *Monthly statements* link (its publisher when chosen)."""
        chosen = id_or_none(request.GET.get("publisher__id__exact"))
        query = f"?publisher={chosen}" if chosen else ""
        context = {"statement_url": statement_url() + query, **(extra_context or {})}
        return super().changelist_view(request, context)  # type: ignore[misc]

    def statement_view(self, request: HttpRequest) -> HttpResponse:
        """Show, print or download one publisher's statement of one month."""
        if not self.has_view_or_change_permission(request):  # type: ignore[attr-defined]
            raise PermissionDenied
        publishers = Publisher.objects.for_user(request.user).order_by("name", "pk")
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),  # type: ignore[attr-defined]
            "opts": self.opts,  # type: ignore[attr-defined]
            "title": "Monthly statement",
            "is_staff_user": is_staff_request(request),
            "publishers": publishers if is_staff_request(request) else (),
        }
        given = request.GET.get("publisher")
        if given:
            publisher_id = id_or_none(given)
            if publisher_id is None:
                return self._page(request, context, error=BAD_PUBLISHER)
            publisher = publishers.filter(pk=publisher_id).first()
            if publisher is None:
                raise Http404(NOT_FOUND)
        elif is_staff_request(request):
            return self._page(request, context)  # staff choose a publisher first
        else:
            publisher = publishers.first()
            if publisher is None:
                raise Http404(NOT_FOUND)
        try:
            month = month_parse(request.GET["month"]) if request.GET.get("month") else None
        except MonthError as error:
            context["publisher"] = publisher
            return self._page(request, context, error=str(error))
        statement = statement_build(publisher=publisher, month=month or month_current(publisher))
        if request.GET.get("format") == "csv":
            name = f"statement-{publisher.idpub}-{statement.month:%Y-%m}"
            return csv_response(
                name, STATEMENT_COLUMNS, statement_csv_rows(statement), statement.zone
            )
        context.update(statement_context(statement))
        template = "statement_print.html" if request.GET.get("print") else "statement.html"
        return TemplateResponse(request, f"admin/fulfillment/ledgerentry/{template}", context)

    def _page(
        self, request: HttpRequest, context: dict[str, Any], *, error: str = ""
    ) -> TemplateResponse:
        """Render the page without a statement: the picker, and the error (400) if any."""
        context["error"] = error
        return TemplateResponse(
            request,
            "admin/fulfillment/ledgerentry/statement.html",
            context,
            status=400 if error else 200,
        )


def statement_context(statement: Statement) -> dict[str, Any]:
    """Return what the statement templates show: money and times already written out."""
    publisher, month = statement.publisher, statement.month
    here = statement_url(publisher, month)
    return {
        "title": f"Statement {statement.label} — {publisher.name}",
        "statement": statement,
        "publisher": publisher,
        "month_value": f"{month:%Y-%m}",
        "opening": money(statement.opening),
        "closing": money(statement.closing),
        "totals": [(label, money(total)) for label, total in statement.totals],
        "lines": [
            {
                "when": when(line.created_at, statement.zone),
                "kind": line.kind_label,
                "order_id": line.order_id,
                "external_order_id": line.external_order_id,
                "note": line.note,
                "amount": money(line.amount),
                "balance": money(line.balance_after),
            }
            for line in statement.lines
        ],
        "months": [(f"{m:%Y-%m}", f"{m:%B %Y}") for m in _picker_months(statement)],
        "previous_url": statement_url(publisher, month_previous(month)),
        "next_url": statement_url(publisher, month_next(month)),
        "csv_url": f"{here}&format=csv",
        "print_url": f"{here}&print=1",
        "zone_name": str(statement.zone),
    }


def _picker_months(statement: Statement) -> list[date]:
    """Return the months the picker offers: those with a ledger, and the one shown."""
    months = set(statement_months(statement.publisher)) | {statement.month}
    return sorted(months, reverse=True)
