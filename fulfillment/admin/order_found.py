"""How an order was found (SPEC §17), on the order page and in the order list's filters.

An order the SamCart check made says so, with the run and when it ran; one on hold `review`
says what the publisher is asked to do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from fulfillment.clock import when
from fulfillment.models import FoundBy, HoldReason, OrderStatus
from fulfillment.services.messages import HELD_REVIEW

if TYPE_CHECKING:
    from fulfillment.models import Order

FOUND_BY_CHECK = "Found by the SamCart check on {date} (run {run})"
FOUND_BY_CHECK_GONE = "Found by the SamCart check (its run is no longer recorded)"
FOUND_BY_NOTIFY = "Sent by SamCart to the Notify URL"
FOUND_BY_FIELDS = ("found_by_summary", "review_note")


def found_by_html(order: Order) -> str:
    """Say how TrepStar learnt of the sale, linking the SamCart check run that found it."""
    if order.found_by != FoundBy.SAMCART_CHECK:
        return FOUND_BY_NOTIFY
    run = order.found_by_run
    if run is None:
        return FOUND_BY_CHECK_GONE
    url = reverse("admin:fulfillment_samcartcheckrun_change", args=[run.pk])
    text = FOUND_BY_CHECK.format(date=when(run.started_at), run=run.pk)
    return format_html('<a href="{}">{}</a>', url, text)


def needs_review(order: Order | None) -> bool:
    """Tell whether the order waits on hold `review` (found by the check, not confirmed)."""
    return (
        order is not None
        and order.status == OrderStatus.HOLD
        and order.hold_reason == HoldReason.REVIEW
    )


class FoundByMixin:
    """The order page's "found by" line and the explanation of the hold reason `review`."""

    @admin.display(description="found by")
    def found_by_summary(self, obj: Order) -> str:
        """Show how the sale reached TrepStar."""
        return found_by_html(obj)

    @admin.display(description="review")
    def review_note(self, obj: Order) -> str:
        """Explain the hold reason `review`: check the address, then release the order."""
        if not needs_review(obj):
            return "—"
        return format_html('<strong class="ts-review-note">{}</strong>', HELD_REVIEW)
