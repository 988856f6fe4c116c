"""The ledger in the admin: read-only; entries are written only by the money services."""

from __future__ import annotations

from django.contrib import admin

from fulfillment.models import LedgerEntry

from .base import PublisherScopedAdmin, ReadOnlyAdminMixin, ScopedRelatedFieldListFilter, money_html


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdminMixin, PublisherScopedAdmin):
    """Deposits, charges and adjustments, newest first."""

    list_display = (
        "created_at",
        "publisher_name",
        "kind",
        "amount_column",
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
    fields = ("created_at", "publisher", "kind", "amount_column", "order", "created_by", "note")
    readonly_fields = fields

    @admin.display(description="publisher", ordering="publisher__name")
    def publisher_name(self, obj: LedgerEntry) -> str:
        """Show the publisher's name (staff only)."""
        return obj.publisher.name

    @admin.display(description="amount", ordering="amount")
    def amount_column(self, obj: LedgerEntry) -> str:
        """Show the amount as signed money."""
        return money_html(obj.amount)
