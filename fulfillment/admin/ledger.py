"""The ledger in the admin: read-only; entries are written only by the money services."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin
from django.db.models import DecimalField, F, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce

from fulfillment.models import ZERO, LedgerEntry

from .base import PublisherScopedAdmin, ReadOnlyAdminMixin, ScopedRelatedFieldListFilter, money_html

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


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdminMixin, PublisherScopedAdmin):
    """Deposits, charges and adjustments, newest first."""

    list_display = (
        "created_at",
        "publisher_name",
        "kind",
        "amount_column",
        "balance_column",
        "order",
        "note",
        "created_by",
    )
    list_filter = ("kind", ("publisher", ScopedRelatedFieldListFilter))
    staff_only_columns = ("publisher_name",)
    staff_only_filters = ("publisher",)
    list_select_related = ("publisher", "order", "order__project", "created_by")
    search_fields = ("note", "order__external_order_id")
    search_help_text = "Search by note or SamCart order ID."
    empty_text = (
        "No ledger entries yet. Deposits that TrepStar records and the charges of your orders"
        " appear here, with the balance after each."
    )
    fields = (
        "created_at",
        "publisher",
        "kind",
        "amount_column",
        "balance_column",
        "order",
        "created_by",
        "note",
    )
    readonly_fields = fields

    @admin.display(description="publisher", ordering="publisher__name")
    def publisher_name(self, obj: LedgerEntry) -> str:
        """Show the publisher's name (staff only)."""
        return obj.publisher.name

    @admin.display(description="amount", ordering="amount")
    def amount_column(self, obj: LedgerEntry) -> str:
        """Show the amount as signed money."""
        return money_html(obj.amount)

    @admin.display(description="balance after")
    def balance_column(self, obj: LedgerEntry) -> str:
        """Show the publisher's balance right after this entry (a running balance)."""
        return money_html(getattr(obj, "balance_after", None))

    def get_queryset(self, request: HttpRequest) -> QuerySet[LedgerEntry]:
        """Add each entry's running balance (`balance_after`)."""
        return super().get_queryset(request).annotate(balance_after=balance_after_entry())
