"""Alerts in the admin: what was e-mailed to whom, when, and what failed (read-only).

An alert whose last automatic try failed is marked failed and never tried again by itself;
TrepStar staff find them with the "delivery" filter and may send one again deliberately.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from fulfillment.models import Alert
from fulfillment.services.alerts import alert_resend

from .base import PublisherScopedAdmin, ReadOnlyAdminMixin, is_staff_request

RESENT = "{count} failed alert(s) will be sent again now."
NOTHING_TO_RESEND = "None of the selected alerts had failed: nothing to send again."


class DeliveryFilter(admin.SimpleListFilter):
    """Sent, waiting for a try, or failed after the last one."""

    title = "delivery"
    parameter_name = "delivery"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("sent", "sent"), ("waiting", "waiting for a try"), ("failed", "failed")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Alert]) -> QuerySet[Alert]:
        if self.value() == "sent":
            return queryset.filter(sent_at__isnull=False)
        if self.value() == "waiting":
            return queryset.filter(sent_at__isnull=True, failed_at__isnull=True)
        if self.value() == "failed":
            return queryset.filter(failed_at__isnull=False)
        return queryset


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdminMixin, PublisherScopedAdmin):
    """Every alert written: sent, waiting for its next try with the last error, or failed."""

    list_display = (
        "created_at",
        "publisher",
        "kind",
        "subject",
        "recipients",
        "sent_at",
        "failed_at",
        "attempts",
    )
    list_filter = (DeliveryFilter, "kind")
    staff_only_columns = ("publisher",)
    search_fields = ("subject", "recipients")
    actions = ("resend",)
    fields = (
        "publisher",
        "kind",
        "cause",
        "recipients",
        "subject",
        "body_text",
        "created_at",
        "attempts",
        "next_try_at",
        "last_error",
        "sent_at",
        "failed_at",
    )
    empty_text = "No alert was e-mailed yet."

    def has_resend_permission(self, request: HttpRequest) -> bool:
        """Only TrepStar staff send a failed alert again."""
        return is_staff_request(request)

    @admin.action(description="Send selected failed alerts again", permissions=["resend"])
    def resend(self, request: HttpRequest, queryset: QuerySet[Alert]) -> None:
        """Give each chosen failed alert one more try now; the others are left alone."""
        again = [pk for pk in queryset.values_list("pk", flat=True) if alert_resend(alert_id=pk)]
        if again:
            self.message_user(request, RESENT.format(count=len(again)), messages.SUCCESS)
        else:
            self.message_user(request, NOTHING_TO_RESEND, messages.WARNING)
