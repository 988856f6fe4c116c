"""Runs of the SamCart check in the admin (SPEC §17): read-only, for staff and publishers.

Staff see every publisher's runs (a braked or failed run is theirs to look at); a publisher's
logins see their own. Nobody adds, changes or deletes a run: the check writes them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from fulfillment.clock import when
from fulfillment.models import SamcartCheckRun
from fulfillment.selectors import CheckFinding, run_findings

from .base import (
    PublisherScopedAdmin,
    ReadOnlyAdminMixin,
    ScopedRelatedFieldListFilter,
    short_datetime,
)

if TYPE_CHECKING:
    pass

FINDINGS_SHOWN = 2_000  # rows of the findings table (a braked run may list thousands)
FINDING_HEADINGS = (
    ("created", "missing: order created (on hold for review)"),
    ("missing", "missing: no order created"),
    ("refunded", "refunded in SamCart"),
    ("quantity", "quantity differs"),
)


def _orders_html(finding: CheckFinding) -> str:
    """Link the orders of a finding (a dash without any)."""
    if not finding.orders:
        return "—"
    return format_html_join(
        ", ",
        '<a href="{}">#{}</a>',
        ((reverse("admin:fulfillment_order_change", args=[pk]), pk) for pk in finding.orders),
    )


@admin.register(SamcartCheckRun)
class SamcartCheckRunAdmin(ReadOnlyAdminMixin, PublisherScopedAdmin):
    """Every run: when, why, over which window, what it compared and found, or its error."""

    list_display = (
        "started",
        "publisher_name",
        "kind",
        "status",
        "window",
        "lines_counted",
        "missing",
        "created",
        "error_column",
    )
    list_display_links = ("started",)
    list_filter = (
        "status",
        "kind",
        ("publisher", ScopedRelatedFieldListFilter),
    )
    staff_only_columns = ("publisher_name",)
    staff_only_filters = ("publisher",)
    list_select_related = ("publisher",)
    empty_text = (
        "No SamCart check has run yet. With a SamCart API key (on the account page), TrepStar "
        "compares SamCart's paid orders with the orders here every 15 minutes."
    )
    empty_link_text = "Set the SamCart API key on the account page"
    fields = (
        "publisher",
        "kind",
        "status",
        "started_at",
        "finished_at",
        "window",
        "pages",
        "orders_seen",
        "lines_seen",
        "lines_counted",
        "missing",
        "created",
        "error",
        "findings_table",
    )
    readonly_fields = fields

    @admin.display(description="started", ordering="started_at")
    def started(self, obj: SamcartCheckRun) -> str:
        """Show when the run started, compactly."""
        return short_datetime(obj.started_at)

    @admin.display(description="publisher", ordering="publisher__name")
    def publisher_name(self, obj: SamcartCheckRun) -> str:
        """Show the publisher's name (staff only)."""
        return obj.publisher.name

    @admin.display(description="window")
    def window(self, obj: SamcartCheckRun) -> str:
        """Show the span of SamCart orders the run compared, in the viewer's time zone."""
        return f"{when(obj.window_start)} – {when(obj.window_end)}"

    @admin.display(description="error")
    def error_column(self, obj: SamcartCheckRun) -> str:
        """Show the start of the error, if any."""
        if not obj.error:
            return ""
        return obj.error if len(obj.error) <= 120 else f"{obj.error[:120]}…"

    @admin.display(description="findings")
    def findings_table(self, obj: SamcartCheckRun) -> str:
        """Show the findings by kind: SamCart order and product, item status, quantity, orders."""
        grouped = run_findings(obj)
        found = [(h, f) for kind, h in FINDING_HEADINGS for f in grouped.get(kind, [])]
        if not found:
            return "No findings."
        rows = [
            (heading, f.order_id, f.product_id, f.item_status, f.quantity, _orders_html(f))
            for heading, f in found[:FINDINGS_SHOWN]
        ]
        body = format_html_join(
            "", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows
        )
        left = len(found) - len(rows)
        return format_html(
            '<table class="ts-events"><thead><tr><th>finding</th><th>SamCart order</th>'
            "<th>product</th><th>item status</th><th>quantity (SamCart)</th><th>our orders</th>"
            "</tr></thead><tbody>{}</tbody></table>{}",
            body,
            f"And {left} more findings, not shown." if left else "",
        )
