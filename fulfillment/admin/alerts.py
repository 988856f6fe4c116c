"""Alerts in the admin: what was e-mailed to whom, when, and what failed (read-only)."""

from __future__ import annotations

from django.contrib import admin

from fulfillment.models import Alert

from .base import PublisherScopedAdmin, ReadOnlyAdminMixin


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdminMixin, PublisherScopedAdmin):
    """Every alert written: sent, or waiting for its next try with the last error."""

    list_display = (
        "created_at",
        "publisher",
        "kind",
        "subject",
        "recipients",
        "sent_at",
        "attempts",
    )
    list_filter = ("kind",)
    staff_only_columns = ("publisher",)
    search_fields = ("subject", "recipients")
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
    )
    empty_text = "No alert was e-mailed yet."
