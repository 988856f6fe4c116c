"""Publishers in the admin: staff manage settings and money; publishers read their own row."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib import admin, messages
from django.core import checks
from django.db import DatabaseError
from django.db.models import Count, Q, Sum
from django.urls import path, reverse
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.timezone import localtime

from fulfillment.models import OrderStatus, Publisher
from fulfillment.selectors import recent_ledger
from fulfillment.services.accounts import logins_without_role, user_role
from fulfillment.services.publishers import (
    KEY_MASKED_NOTE,
    may_see_notify_key,
    notify_url,
    publisher_save,
)

from .base import PublisherScopedAdmin, is_staff_request, money_html
from .deposits import balance_entry_view
from .logins import publisher_login_role_view, publisher_login_view
from .publisher_samcart import PublisherSamcartMixin

if TYPE_CHECKING:
    from collections.abc import Iterable

    from django.apps import AppConfig
    from django.db.models import QuerySet
    from django.forms import ModelForm
    from django.http import HttpRequest, HttpResponse
    from django.urls import URLPattern

HOLD = Q(orders__status=OrderStatus.HOLD, orders__is_test=False)
IDPUB_PENDING = "Assigned when you save."
NO_ROLE = "Logins acting for a publisher with no role (they see an empty admin): {names}."
NO_ROLE_HINT = "Give each one a role (manager or viewer) from its publisher's page."


def no_role_message() -> str | None:
    """Name the linked logins that hold no role, or return None when every one has one."""
    names = [user.get_username() for user in logins_without_role()]
    return NO_ROLE.format(names=", ".join(names)) if names else None


@checks.register(checks.Tags.security, checks.Tags.database)
def check_linked_logins_have_a_role(
    app_configs: Iterable[AppConfig] | None = None,
    databases: Iterable[str] | None = None,
    **kwargs: object,
) -> list[checks.CheckMessage]:
    """Warn about logins linked to a publisher without a role (`check --database default`)."""
    if not databases:
        return []
    try:
        message = no_role_message()
    except DatabaseError:  # not migrated yet: `migrate` runs the checks before it migrates
        return []
    if message is None:
        return []
    return [checks.Warning(message, hint=NO_ROLE_HINT, id="fulfillment.W100")]


def _with_money_display(fieldsets: Any) -> tuple:
    """Return `fieldsets` with the threshold shown as "$25.00" rather than the raw "25.00"."""
    swap = {"low_balance_threshold": "threshold_display"}
    return tuple(
        (name, {**options, "fields": tuple(swap.get(f, f) for f in options["fields"])})
        for name, options in fieldsets
    )


@admin.register(Publisher)
class PublisherAdmin(PublisherSamcartMixin, PublisherScopedAdmin):
    """Publishers: settings, users, balance and ledger; money moves only through services."""

    list_display = (
        "name",
        "idpub",
        "email",
        "balance_column",
        "hold_column",
        "require_notify_key",
        "auto_release",
        "last_check_column",
    )
    staff_only_columns = ("last_check_column",)
    search_fields = ("name", "idpub", "email")
    change_form_template = "admin/fulfillment/publisher/change_form.html"
    # Logins are linked on the "New login" page, always with a role, never by a raw widget.
    fieldsets = (
        (None, {"fields": ("name", "email", "idpub_display", "balance_column", "time_zone")}),
        ("Notify URL", {"fields": ("notify_url_display", "key_rotation", "require_notify_key")}),
        (
            "Orders",
            {
                "fields": (
                    "auto_release",
                    "use_billing_address",
                    "production_delay_minutes",
                    "grouping_minutes",
                    "buyer_shipping_email",
                    "hold_column",
                )
            },
        ),
        (
            "E-mail alerts",
            {"fields": ("alert_hold_orders", "alert_needs_action", "low_balance_threshold")},
        ),
        ("Ledger", {"fields": ("ledger_table",)}),
    )
    staff_fieldsets = (("Logins", {"fields": ("logins_table",)}),)
    readonly_fields = (
        "idpub_display",
        "logins_table",
        "balance_column",
        "hold_column",
        "notify_url_display",
        "key_rotation",
        "ledger_table",
        "samcart_key_status",
        "last_check",
    )

    def get_object(
        self, request: HttpRequest, object_id: str, from_field: str | None = None
    ) -> Publisher | None:
        """Remember the page's address, so the Notify URL shown works from this browser, and
        whether the login may see the URL's key (a viewer sees it masked)."""
        obj = super().get_object(request, object_id, from_field)
        if obj is not None and not settings.PUBLIC_BASE_URL:
            obj._page_base_url = request.build_absolute_uri("/")
        if obj is not None:
            obj._mask_notify_key = not may_see_notify_key(request.user)
        return obj

    def get_queryset(self, request: HttpRequest) -> QuerySet[Publisher]:
        """Add each publisher's count and total of real orders on hold, and its last check."""
        publishers = (
            super()
            .get_queryset(request)
            .annotate(
                hold_count=Count("orders", filter=HOLD),
                hold_total=Sum("orders__cost", filter=HOLD),
            )
            .order_by(*Publisher._meta.ordering, "pk")
        )
        return self.samcart_queryset(publishers) if is_staff_request(request) else publishers

    @admin.display(description="publisher ID")
    def idpub_display(self, obj: Publisher) -> str:
        """Show the saved publisher ID; before the first save, say that saving assigns one.

        The model's default is a callable, so an unsaved form holds a random ID that is not
        the one saved (and changes on every reload): it is never shown.
        """
        return obj.idpub if obj.pk is not None else IDPUB_PENDING

    @admin.display(description="balance", ordering="balance")
    def balance_column(self, obj: Publisher) -> str:
        """Show the balance as money."""
        return money_html(obj.balance)

    @admin.display(description="on hold")
    def hold_column(self, obj: Publisher) -> str:
        """Show how many real orders wait on hold and what they cost."""
        count = getattr(obj, "hold_count", 0)
        if not count:
            return "none"
        return f"{count} order{'s' if count != 1 else ''}, {money_html(obj.hold_total)}"

    @admin.display(description="Notify URL")
    def notify_url_display(self, obj: Publisher) -> str:
        """Show the full Notify URL to paste into SamCart; its key masked to a viewer."""
        if obj.pk is None:
            return "Shown once the publisher is saved."
        base = getattr(obj, "_page_base_url", None)  # set by get_object: the browser's address
        masked = getattr(obj, "_mask_notify_key", True)  # set by get_object; else hide the key
        url = notify_url(publisher=obj, base_url=base, masked=masked)
        if masked:
            return format_html('<code class="ts-notify-url">{}</code><br>{}', url, KEY_MASKED_NOTE)
        return format_html('<code class="ts-notify-url">{}</code>', url)

    @admin.display(description="previous key")
    def key_rotation(self, obj: Publisher) -> str:
        """Say until when the previous key still works after a rotation."""
        until = obj.previous_key_valid_until
        if not obj.previous_notify_key or until is None:
            return "never rotated"
        return f"still accepted until {date_format(localtime(until), 'DATETIME_FORMAT')}"

    @admin.display(description="logins acting for it")
    def logins_table(self, obj: Publisher) -> str:
        """List the linked logins with their role and a link to change it (staff only)."""
        if obj.pk is None:
            return "—"
        rows = format_html_join(
            "",
            '<tr><td>{}</td><td>{}</td><td>{}</td><td><a href="{}">change role…</a></td></tr>',
            (
                (
                    user.get_username(),
                    user.email,
                    _role_html(user),
                    reverse("admin:fulfillment_publisher_login_role", args=[obj.pk, user.pk]),
                )
                for user in obj.users.order_by("username").prefetch_related("groups")
            ),
        )
        return format_html(
            '<table class="ts-events"><thead><tr><th>login</th><th>e-mail</th><th>role</th>'
            '<th></th></tr></thead><tbody>{}</tbody></table><p><a href="{}">New login…</a></p>',
            rows,
            reverse("admin:fulfillment_publisher_login", args=[obj.pk]),
        )

    @admin.display(description="latest entries")
    def ledger_table(self, obj: Publisher) -> str:
        """Show the latest ledger entries and a link to all of them."""
        if obj.pk is None:
            return "—"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    date_format(localtime(e.created_at), "DATETIME_FORMAT"),
                    e.get_kind_display(),
                    money_html(e.amount),
                    f"#{e.order_id}" if e.order_id else "",
                    e.note,
                )
                for e in recent_ledger(obj)
            ),
        )
        everything = (
            reverse("admin:fulfillment_ledgerentry_changelist") + f"?publisher__id__exact={obj.pk}"
        )
        return format_html(
            '<table class="ts-events"><thead><tr><th>when</th><th>kind</th><th>amount</th>'
            "<th>order</th><th>note</th></tr></thead><tbody>{}</tbody></table>"
            '<p><a href="{}">All ledger entries</a></p>',
            rows,
            everything,
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Only staff add publishers."""
        return is_staff_request(request) and super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Publisher | None = None) -> bool:
        """Only staff change publishers; publishers read their own row."""
        return is_staff_request(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Publisher | None = None) -> bool:
        """Only staff delete publishers (those with projects or ledger entries are protected)."""
        return is_staff_request(request) and super().has_delete_permission(request, obj)

    def get_fieldsets(self, request: HttpRequest, obj: Publisher | None = None) -> Any:
        """Show staff the publisher's logins and their roles."""
        fieldsets = super().get_fieldsets(request, obj)
        if obj is not None and is_staff_request(request):
            return (*fieldsets, *self.staff_fieldsets)
        if not self.has_change_permission(request, obj):  # read-only: money reads as money
            return _with_money_display(fieldsets)
        return fieldsets

    @admin.display(description="low balance threshold")
    def threshold_display(self, obj: Publisher) -> str:
        """Show the low-balance threshold as money (the read-only page of a publisher)."""
        return money_html(obj.low_balance_threshold)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """Warn staff about linked logins that hold no role."""
        if request.method == "GET" and is_staff_request(request):
            _warn_no_role(request)
        return super().changelist_view(request, extra_context)

    def save_model(
        self, request: HttpRequest, obj: Publisher, form: ModelForm, change: bool
    ) -> None:
        """Save the settings only; balance and keys change through their services."""
        publisher_save(publisher=obj)
        self.samcart_save(request, obj, form)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        """Offer staff the deposit page and everyone the account page of the publisher."""
        extra = {"can_record_money": is_staff_request(request)}
        if request.method == "GET" and extra["can_record_money"]:
            _warn_no_role(request)
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    def get_urls(self) -> list[URLPattern]:
        """Add the staff pages that record money and create publisher logins."""
        balance = self.admin_site.admin_view(
            lambda request, object_id: balance_entry_view(self, request, object_id)
        )
        login = self.admin_site.admin_view(
            lambda request, object_id: publisher_login_view(self, request, object_id)
        )
        role = self.admin_site.admin_view(
            lambda request, object_id, user_id: publisher_login_role_view(
                self, request, object_id, user_id
            )
        )
        return [
            path("<path:object_id>/balance/", balance, name="fulfillment_publisher_balance"),
            path("<path:object_id>/login/", login, name="fulfillment_publisher_login"),
            path(
                "<path:object_id>/logins/<str:user_id>/role/",
                role,
                name="fulfillment_publisher_login_role",
            ),
            *super().get_urls(),
        ]


def _role_html(user: object) -> str:
    """Show a login's role, or a warning when it holds none."""
    role = user_role(user)
    if role is None:
        return format_html('<strong class="errornote">{}</strong>', "no role: sees nothing")
    return str(role)


def _warn_no_role(request: HttpRequest) -> None:
    """Add a warning naming the linked logins that hold no role."""
    message = no_role_message()
    if message:
        messages.warning(request, f"{message} {NO_ROLE_HINT}")
