"""Notifications in the admin: everything SamCart sent, what was done with it, and reprocess."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_GET, require_POST

from fulfillment.models import Notification, Outcome
from fulfillment.selectors import notification_boxes, refused_requests_for_user
from fulfillment.services.reprocess import notification_is_stuck
from fulfillment.services.wording import items_summary
from fulfillment.text import pretty_body

from .base import (
    PublisherScopedAdmin,
    ReadOnlyAdminMixin,
    badge,
    short_datetime,
    titled,
)
from .exports import NotificationExportMixin
from .notification_filters import (
    REFUSED_PARAM,
    KeyCheckFilter,
    OutcomeFilter,
)
from .reprocess import confirmation_page, may_reprocess, reprocess_all
from .reprocess_named import reprocess_named_view

if TYPE_CHECKING:
    from django.db.models import QuerySet
    from django.http import HttpRequest, HttpResponse
    from django.urls import URLPattern

    from fulfillment.models import OrderLine

OUTCOME_TONES = {
    Outcome.CREATED: "ok",
    Outcome.DUPLICATE: "shipped",
    Outcome.IGNORED: "deleted",
    Outcome.NO_MATCH: "hold",
    Outcome.UNKNOWN_PUBLISHER: "warning",
    Outcome.REJECTED: "warning",
    Outcome.ERROR: "warning",
    Outcome.PENDING: "production",
}
STUCK_BADGE = "stuck — reprocess it"
# The page's "Next try", in plain words and for the notification's own outcome.
NEXT_TRY_AT = "{moment}: the worker processes it again then, by itself."
NEXT_TRY_NO_MATCH = (
    "None: a notification whose product matched no project is not tried again by itself. Put "
    "the SamCart product ID in a project's eCommerceIDString, then reprocess it."
)
NEXT_TRY_ERROR_STOPPED = (
    "None: the automatic retries stopped. Reprocess it once the cause is fixed."
)
NEXT_TRY_PENDING = (
    "Not processed yet: the worker picks it up by itself (reprocess it if it shows as stuck)."
)
NEXT_TRY_DONE = "None: nothing more to do."


def _removed_note(lines: list[OrderLine]) -> str:
    """Say how many of the lines a notification brought were removed from their box since."""
    removed = sum(1 for line in lines if line.removed_at is not None)
    return f" ({removed} removed since)" if removed else ""


@admin.register(Notification)
class NotificationAdmin(NotificationExportMixin, ReadOnlyAdminMixin, PublisherScopedAdmin):
    """The notification log: read-only, with the body pretty-printed and a reprocess action."""

    list_display = (
        "received",
        "publisher_name",
        "event",
        "external_order_id",
        "outcome_column",
        "short_detail",
        "order_count",
    )
    list_display_links = ("received",)
    list_filter = (
        KeyCheckFilter,
        ("outcome", OutcomeFilter),
        ("event_type", titled(admin.AllValuesFieldListFilter, "SamCart event")),
        ("is_test", titled(admin.BooleanFieldListFilter, "test notification")),
        "publisher",
    )
    staff_only_columns = ("publisher_name",)
    staff_only_filters = ("publisher",)
    list_select_related = ("publisher",)
    search_fields = ("external_order_id",)
    search_help_text = "Search by SamCart order ID."
    empty_text = (
        "No notifications yet. Every request SamCart sends to your Notify URL is listed here"
        " with what TrepStar did with it."
    )
    empty_link_text = "Your Notify URL and how to check it"
    date_hierarchy = "received_at"
    actions = ("reprocess",)
    change_form_template = "admin/fulfillment/notification/change_form.html"
    change_list_template = "admin/fulfillment/notification/change_list.html"
    fieldsets = (
        (None, {"fields": ("received_at", "outcome_column", "detail", "linked_orders")}),
        ("What SamCart sent", {"fields": ("event", "external_order_id", "body")}),
        (
            "Request",
            {
                "fields": (
                    "publisher",
                    "idpub_given",
                    "sender_ip",
                    "content_type",
                    "body_size",
                    "body_truncated",
                    "answer_status",
                    "processed_at",
                    "attempts",
                    "next_try",
                    "alerted_at",
                )
            },
        ),
    )
    readonly_fields = tuple(flatten_fieldsets(fieldsets))  # every field is read-only

    def get_queryset(self, request: HttpRequest) -> QuerySet[Notification]:
        """Count the boxes each notification started or added items to; leave bodies out
        (the page loads its own)."""
        queryset = super().get_queryset(request).defer("raw_body")
        boxes = Count("order_lines__order", distinct=True)
        return queryset.annotate(order_total=boxes).order_by(*Notification._meta.ordering)

    @admin.display(description="publisher", ordering="publisher__name")
    def publisher_name(self, obj: Notification) -> str:
        """Show the publisher's name, or the ID given when it is unknown (staff only)."""
        return obj.publisher.name if obj.publisher else f"unknown ({obj.idpub_given or '—'})"

    @admin.display(description="received", ordering="received_at")
    def received(self, obj: Notification) -> str:
        """Show when it arrived, compactly."""
        return short_datetime(obj.received_at)

    @admin.display(description="next try")
    def next_try(self, obj: Notification) -> str:
        """Say when, if ever, the worker processes it again, and what to do when it will not."""
        if obj.next_attempt_at is not None and obj.outcome in (Outcome.ERROR, Outcome.PENDING):
            return NEXT_TRY_AT.format(moment=short_datetime(obj.next_attempt_at))
        return {
            Outcome.NO_MATCH: NEXT_TRY_NO_MATCH,
            Outcome.ERROR: NEXT_TRY_ERROR_STOPPED,
            Outcome.PENDING: NEXT_TRY_PENDING,
            Outcome.QUEUED: NEXT_TRY_PENDING,
        }.get(obj.outcome, NEXT_TRY_DONE)

    @admin.display(description="HTTP status answered")
    def answer_status(self, obj: Notification) -> str:
        """Show the HTTP status SamCart got back."""
        return str(obj.http_status) if obj.http_status else "—"

    @admin.display(description="sent from (IP address)")
    def sender_ip(self, obj: Notification) -> str:
        """Show the address the request came from."""
        return obj.remote_addr or "—"

    @admin.display(description="event", ordering="event_type")
    def event(self, obj: Notification) -> str:
        """Show the SamCart event type, marking test notifications."""
        kind = obj.event_type or "—"
        return format_html("{} {}", kind, badge("TEST", "test")) if obj.is_test else kind

    @admin.display(description="outcome", ordering="outcome")
    def outcome_column(self, obj: Notification) -> str:
        """Show the outcome as a coloured label; "stuck" when it was never processed."""
        if notification_is_stuck(notification=obj):
            return badge(STUCK_BADGE, "warning")
        return badge(obj.get_outcome_display(), OUTCOME_TONES.get(obj.outcome, "production"))

    @admin.display(description="detail")
    def short_detail(self, obj: Notification) -> str:
        """Show the first 160 characters of the detail."""
        return obj.detail if len(obj.detail) <= 160 else obj.detail[:159] + "…"

    @admin.display(description="orders", ordering="order_total")
    def order_count(self, obj: Notification) -> int:
        """Show how many boxes the notification started or added items to."""
        return obj.order_total

    @admin.display(description="what it did")
    def linked_orders(self, obj: Notification) -> str:
        """List the boxes this notification started or added items to, with the items it
        brought to each: "Order #12 (started): 2 items: Book, DVD"."""
        rows = notification_boxes(notification=obj)
        if not rows:
            return "—"
        return format_html(
            '<ul class="ts-notification-boxes">{}</ul>',
            format_html_join(
                "",
                '<li><a href="{}">Order #{}</a> ({}): {}{}</li>',
                (
                    (
                        reverse("admin:fulfillment_order_change", args=[row.box.pk]),
                        row.box.pk,
                        "started" if row.started else "joined",
                        items_summary(row.lines) if row.lines else "none of its items now",
                        _removed_note(row.lines),
                    )
                    for row in rows
                ),
            ),
        )

    @admin.display(description="body")
    def body(self, obj: Notification) -> str:
        """Show the body as received: pretty JSON when it parses, else escaped text."""
        raw = bytes(obj.raw_body or b"")
        note = " (truncated at the size limit)" if obj.body_truncated else ""
        return format_html(
            '<pre class="ts-body">{}</pre><span class="ts-muted">{} bytes received{}</span>',
            pretty_body(raw, obj.content_type),
            obj.body_size,
            note,
        )

    def has_reprocess_permission(self, request: HttpRequest) -> bool:
        """Let staff and publishers with the change permission reprocess notifications."""
        return request.user.has_perm("fulfillment.change_notification")

    @admin.action(description="Reprocess selected notifications", permissions=["reprocess"])
    def reprocess(
        self, request: HttpRequest, queryset: QuerySet[Notification]
    ) -> HttpResponse | None:
        """Process the chosen notifications again; ask first before a line gets a second order."""
        waiting = reprocess_all(self, request, queryset.order_by("received_at", "id"))
        if not waiting:
            return None
        changelist = request.get_full_path()
        return confirmation_page(
            self, request, waiting, form_action=changelist, cancel_url=changelist, as_action=True
        )

    def get_urls(self) -> list[URLPattern]:
        """Add the reprocess button of the notification page."""
        view = self.admin_site.admin_view(require_POST(self.reprocess_view))
        named = self.admin_site.admin_view(
            require_GET(lambda request: reprocess_named_view(self, request))
        )
        return [
            path("<id:pk>/reprocess/", view, name="fulfillment_notification_reprocess"),
            path("reprocess/", named, name="fulfillment_notification_reprocess_named"),
            *super().get_urls(),
        ]

    def reprocess_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Reprocess one notification from its page (asking first when needed), then show it."""
        if not self.has_reprocess_permission(request):
            raise PermissionDenied
        notification = get_object_or_404(self.get_queryset(request), pk=pk)
        waiting = reprocess_all(self, request, [notification])
        page = reverse("admin:fulfillment_notification_change", args=[pk])
        if waiting:
            return confirmation_page(
                self, request, waiting, form_action=request.path, cancel_url=page, as_action=False
            )
        return HttpResponseRedirect(page)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """Say how many requests were refused for a wrong key (they are one filter away)."""
        extra = {
            "refused": refused_requests_for_user(request.user),
            "showing_refused": request.GET.get(REFUSED_PARAM) == "1",
            "refused_param": REFUSED_PARAM,
        }
        return super().changelist_view(request, {**extra, **(extra_context or {})})

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        """Offer the reprocess button when the user may use it on this notification."""
        notification = self.get_object(request, object_id)
        extra = {
            "can_reprocess": self.has_reprocess_permission(request)
            and may_reprocess(request, notification)
        }
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})
