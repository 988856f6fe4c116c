"""Publishers in the admin: staff manage settings and money; publishers read their own row."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import Count, Q, Sum
from django.urls import path, reverse
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.timezone import localtime

from fulfillment.models import STAFF_GROUP, OrderStatus, Publisher
from fulfillment.selectors import recent_ledger
from fulfillment.services.publishers import notify_url, publisher_save

from .base import PublisherScopedAdmin, is_staff_request, money_html
from .deposits import balance_entry_view
from .logins import publisher_login_view

if TYPE_CHECKING:
    from django.db.models import ManyToManyField, QuerySet
    from django.forms import Field, ModelForm
    from django.http import HttpRequest, HttpResponse
    from django.urls import URLPattern

HOLD = Q(orders__status=OrderStatus.HOLD, orders__is_test=False)


@admin.register(Publisher)
class PublisherAdmin(PublisherScopedAdmin):
    """Publishers: settings, users, balance and ledger; money moves only through services."""

    list_display = (
        "name",
        "idpub",
        "email",
        "balance_column",
        "hold_column",
        "require_notify_key",
        "auto_release",
    )
    search_fields = ("name", "idpub", "email")
    filter_horizontal = ("users",)
    change_form_template = "admin/fulfillment/publisher/change_form.html"
    fieldsets = (
        (None, {"fields": ("name", "email", "idpub", "balance_column", "users")}),
        ("Notify URL", {"fields": ("notify_url_display", "key_rotation", "require_notify_key")}),
        ("Orders", {"fields": ("auto_release", "use_billing_address", "hold_column")}),
        ("Ledger", {"fields": ("ledger_table",)}),
    )
    readonly_fields = (
        "idpub",
        "balance_column",
        "hold_column",
        "notify_url_display",
        "key_rotation",
        "ledger_table",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Publisher]:
        """Add each publisher's count and total of real orders on hold."""
        return (
            super()
            .get_queryset(request)
            .annotate(
                hold_count=Count("orders", filter=HOLD),
                hold_total=Sum("orders__cost", filter=HOLD),
            )
            .order_by(*Publisher._meta.ordering, "pk")
        )

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
        """Show the full Notify URL to paste into SamCart."""
        if obj.pk is None:
            return "Shown once the publisher is saved."
        return format_html("<code>{}</code>", notify_url(publisher=obj))

    @admin.display(description="previous key")
    def key_rotation(self, obj: Publisher) -> str:
        """Say until when the previous key still works after a rotation."""
        until = obj.previous_key_valid_until
        if not obj.previous_notify_key or until is None:
            return "never rotated"
        return f"still accepted until {date_format(localtime(until), 'DATETIME_FORMAT')}"

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

    def save_model(
        self, request: HttpRequest, obj: Publisher, form: ModelForm, change: bool
    ) -> None:
        """Save the settings only; balance and key change through their services."""
        publisher_save(publisher=obj)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        """Offer staff the deposit page and everyone the account page of the publisher."""
        extra = {"can_record_money": is_staff_request(request)}
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    def formfield_for_manytomany(
        self, db_field: ManyToManyField, request: HttpRequest, **kwargs: Any
    ) -> Field | None:
        """Offer publisher logins only (admin-flagged users who are not TrepStar staff)."""
        if db_field.name == "users":
            kwargs["queryset"] = (
                get_user_model()
                .objects.filter(is_staff=True, is_superuser=False)
                .exclude(groups__name=STAFF_GROUP)
                .order_by("username")
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_urls(self) -> list[URLPattern]:
        """Add the staff pages that record money and create publisher logins."""
        balance = self.admin_site.admin_view(
            lambda request, object_id: balance_entry_view(self, request, object_id)
        )
        login = self.admin_site.admin_view(
            lambda request, object_id: publisher_login_view(self, request, object_id)
        )
        return [
            path("<path:object_id>/balance/", balance, name="fulfillment_publisher_balance"),
            path("<path:object_id>/login/", login, name="fulfillment_publisher_login"),
            *super().get_urls(),
        ]
