"""The ledger in the admin: read-only; entries are written only by the money services."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin
from django.db.models import (
    Count,
    DecimalField,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    Subquery,
    Sum,
)
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils.html import format_html

from fulfillment.models import ZERO, LedgerEntry, OrderLine
from fulfillment.services.wording import items_summary

from .base import PublisherScopedAdmin, ReadOnlyAdminMixin, ScopedRelatedFieldListFilter, money_html
from .exports import LedgerExportMixin
from .statements import StatementsMixin

if TYPE_CHECKING:
    from django.db.models import QuerySet
    from django.http import HttpRequest


def balance_after_entry() -> Coalesce:
    """Return an expression: the publisher's balance right after each ledger entry.

    The balance now minus the entries that came later (created_at, id), so it is right on any
    filtered or searched page, and cheap on the first pages, which people read (newest first).
    """
    later = (
        LedgerEntry.objects.filter(publisher_id=OuterRef("publisher_id"))
        .filter(
            Q(created_at__gt=OuterRef("created_at"))
            | Q(created_at=OuterRef("created_at"), id__gt=OuterRef("id"))
        )
        .order_by()
        .values("publisher_id")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    money = DecimalField(max_digits=12, decimal_places=2)
    return F("publisher__balance") - Coalesce(Subquery(later, output_field=money), ZERO)


def _same_order_and_kind() -> QuerySet[LedgerEntry]:
    """Return the entries of the outer entry's order and kind (its charges, or its refunds)."""
    return LedgerEntry.objects.filter(
        order_id=OuterRef("order_id"), kind=OuterRef("kind")
    ).order_by()


def _count_of(entries: QuerySet[LedgerEntry]) -> Coalesce:
    """Return an expression: how many of `entries` there are (0 for none)."""
    counted = entries.values("order_id").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def entry_position() -> dict[str, Coalesce]:
    """Return the annotations that number a box's charges and refunds: `kind_count` (how many
    of its kind the entry's order has) and `kind_position` (this one's place among them, by
    time). A box has several when items joined it or it was held again (SPEC §18)."""
    same = _same_order_and_kind()
    earlier = same.filter(
        Q(created_at__lt=OuterRef("created_at"))
        | Q(created_at=OuterRef("created_at"), id__lte=OuterRef("id"))
    )
    return {"kind_count": _count_of(same), "kind_position": _count_of(earlier)}


@admin.register(LedgerEntry)
class LedgerEntryAdmin(
    StatementsMixin, LedgerExportMixin, ReadOnlyAdminMixin, PublisherScopedAdmin
):
    """Deposits, charges and adjustments, newest first."""

    list_display = (
        "created_at",
        "publisher_name",
        "kind_column",
        "amount_column",
        "balance_column",
        "order_column",
        "note",
        "created_by",
    )
    list_filter = ("kind", ("publisher", ScopedRelatedFieldListFilter))
    staff_only_columns = ("publisher_name",)
    staff_only_filters = ("publisher",)
    list_select_related = ("publisher", "order", "created_by")
    search_fields = ("note", "order__external_order_id")
    search_help_text = "Search by note or SamCart order ID."
    empty_text = (
        "No ledger entries yet. Deposits that TrepStar records and the charges of your orders"
        " appear here, with the balance after each."
    )
    fields = (
        "created_at",
        "publisher",
        "kind_column",
        "amount_column",
        "balance_column",
        "order_column",
        "created_by",
        "note",
    )
    readonly_fields = fields

    @admin.display(description="publisher", ordering="publisher__name")
    def publisher_name(self, obj: LedgerEntry) -> str:
        """Show the publisher's name (staff only)."""
        return obj.publisher.name

    @admin.display(description="kind", ordering="kind")
    def kind_column(self, obj: LedgerEntry) -> str:
        """Show the kind; "Charge 2 of 3" when the order has several of that kind (items
        joined its box, or it was held again and charged anew)."""
        kind = obj.get_kind_display()
        count = getattr(obj, "kind_count", 0)
        if obj.order_id is None or count < 2:
            return kind
        return f"{kind} {getattr(obj, 'kind_position', 0)} of {count}"

    @admin.display(description="order", ordering="order")
    def order_column(self, obj: LedgerEntry) -> str:
        """Link the order (box) and say what is in it now: "Order #12: 2 items: Book, DVD"."""
        if obj.order_id is None:
            return "—"
        url = reverse("admin:fulfillment_order_change", args=[obj.order_id])
        lines = obj.order.active_lines()
        items = items_summary(lines) if lines else "no items"
        test = " (test)" if obj.order.is_test else ""
        return format_html('<a href="{}">Order #{}</a>{}: {}', url, obj.order_id, test, items)

    @admin.display(description="amount", ordering="amount")
    def amount_column(self, obj: LedgerEntry) -> str:
        """Show the amount as signed money."""
        return money_html(obj.amount)

    @admin.display(description="balance after")
    def balance_column(self, obj: LedgerEntry) -> str:
        """Show the publisher's balance right after this entry (a running balance)."""
        return money_html(getattr(obj, "balance_after", None))

    def get_queryset(self, request: HttpRequest) -> QuerySet[LedgerEntry]:
        """Add each entry's running balance (`balance_after`), its place among its order's
        charges or refunds, and the order's lines (one more query per page)."""
        lines = OrderLine.objects.select_related("project").order_by("id")
        return (
            super()
            .get_queryset(request)
            .annotate(balance_after=balance_after_entry(), **entry_position())
            .prefetch_related(Prefetch("order__lines", queryset=lines))
        )
