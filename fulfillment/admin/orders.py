"""Orders in the admin: the queue on hold, its actions, and the read-only life of the rest."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import build_q_object_from_lookup_parameters
from django.contrib.auth import get_permission_codename
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.middleware.csrf import get_token
from django.urls import path, reverse
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.text import capfirst
from django.utils.timezone import localtime

from fulfillment import clock
from fulfillment.models import (
    ZERO,
    HoldReason,
    LedgerEntry,
    LedgerKind,
    Order,
    OrderStatus,
    Publisher,
)
from fulfillment.selectors import order_events, order_purchase_received_at
from fulfillment.services.charge import box_cost, can_pay, line_cost
from fulfillment.services.errors import ServiceError
from fulfillment.services.lines import order_line_remove, order_line_update
from fulfillment.services.orders import EDITABLE_ON_HOLD, order_billing_address, order_update
from fulfillment.services.publishers import add_funds_text
from fulfillment.services.refunds import (
    cancelled_refunded_text,
    refund_notice,
    refunded_total_expression,
)
from fulfillment.services.status import hold_reason_label, order_address
from fulfillment.services.window import order_cancel, order_editable, window_open
from fulfillment.services.wording import items_summary, money

from .base import (
    PublisherScopedAdmin,
    ScopedRelatedFieldListFilter,
    badge,
    is_staff_request,
    money_html,
    short_datetime,
)
from .exports import OrderExportMixin
from .order_delete import orders_delete_action
from .order_form import HoldOrderForm, country_field_options
from .order_found import FOUND_BY_FIELDS, FoundByMixin, needs_review
from .order_release import orders_release_action
from .order_search import OrderSearchMixin
from .shipping import ship_view

if TYPE_CHECKING:
    from collections.abc import Iterator

    from django.contrib.admin.views.main import ChangeList
    from django.db.models import Field, QuerySet
    from django.forms import Field as FormField
    from django.forms import ModelForm
    from django.http import HttpRequest, HttpResponse
    from django.urls import URLPattern

REFUNDED_WARNING = "refunded in SamCart — delete?"  # only hold orders are offered a delete
REFUNDED_CANCEL = "refunded in SamCart — cancel?"  # a scheduled order can still be cancelled
REFUNDED_INFO = "refunded in SamCart"
CANCELLED_CHOICE = "cancelled"  # the status filter's extra value (no order stores it)
CANCELLED_LABEL = "cancelled — refunded"
NOT_ON_HOLD = "not on hold"
PRICE_PENDING_COST = "price pending"
SHIPPING_ONCE = "shipping once: the highest of the items"
USE_BILLING = "Use the billing address SamCart sent"
BILLING_USED = (
    "Order #{order}: the shipping address is now the billing address SamCart sent ({address})."
    " {state}"
)
NO_BILLING = "SamCart sent no billing address with order #{order}: type the shipping address."
NOT_WAITING_FOR_ADDRESS = "Order #{order} is not on hold for its address: nothing was changed."
BILLING_FIELDS = (
    ("ship_street", "street"),
    ("ship_city", "city"),
    ("ship_state", "state"),
    ("ship_postal_code", "postal_code"),
    ("ship_country", "country"),
)
RELEASE_OFFER = "Order #{order} can be released now: your balance {balance} covers its {cost}."
STATUS_TONES = {
    OrderStatus.HOLD: "hold",
    OrderStatus.SCHEDULED: "production",
    OrderStatus.IN_PRODUCTION: "production",
    OrderStatus.SHIPPED: "shipped",
    OrderStatus.DELETED: "deleted",
}
DISPLAY_FIELDS = (
    "status_summary",
    "refund_notice_field",
    "publisher",
    "items_summary_field",
    "cost_summary",
    "box_summary",
    "external_order_id",
    "notification_link",
    "tracking_number",
    "carrier",
    "charged_at",
    "production_at",
    "purchase_arrived_field",
    "created_at",
    "updated_at",
    "ship_country_code",
    "events_table",
    "address_missing",
    "billing_address",
    "payment_summary",
    *FOUND_BY_FIELDS,
)


def status_text(order: Order) -> str:
    """Say the status in words, with the hold reason: "on hold — payment required"; a deleted
    box the ledger refunded says "cancelled — refunded $11.45" (issue 20, point 11)."""
    cancelled = cancelled_refunded_text(order)
    if cancelled is not None:
        return cancelled
    text = order.get_status_display()
    if order.status == OrderStatus.HOLD and order.hold_reason:
        text += f" — {hold_reason_label(order)}"
    if order.status == OrderStatus.SCHEDULED and order.production_at is not None:
        text += f" — production starts at {clock.when(order.production_at)}"
    return text


def status_badges(order: Order) -> str:
    """Return the status label plus TEST and refunded-in-SamCart badges."""
    tone = STATUS_TONES.get(order.status, "hold")
    if cancelled_refunded_text(order) is not None:
        tone = "cancelled"  # not struck through: the order was paid, then given back
    parts = [badge(status_text(order), tone)]
    if order.is_test:
        parts.append(badge("TEST", "test"))
    if order.status == OrderStatus.HOLD and order.hold_reason == HoldReason.ADDRESS_INCOMPLETE:
        parts.append(badge(order_address(order=order).missing_text(), "warning"))
    if order.cart_refunded and order.status == OrderStatus.HOLD:
        parts.append(badge(f"⚠ {REFUNDED_WARNING}", "warning"))
    elif order.cart_refunded and order.status == OrderStatus.SCHEDULED:
        parts.append(badge(f"⚠ {REFUNDED_CANCEL}", "warning"))
    elif order.cart_refunded:
        parts.append(badge(REFUNDED_INFO, "test"))
    return format_html_join(" ", "{}", ((p,) for p in parts))


def cost_html(order: Order) -> str:
    """Show a box's cost and how its lines make it: "$12.40 ($5.00 × 2 + $0.50 × 1 + $2.00
    shipping; shipping once: the highest of the items; recomputed while on hold)".

    Shown only when the lines as priced add up to the stored cost; otherwise the cost alone,
    saying it is the cost it was charged (or left hold) at.
    """
    lines = order.active_lines()
    if not lines or box_cost(lines) != order.cost:
        when = "charged at this cost" if order.charged_at else "the cost when it left hold"
        return format_html(
            '{} <span class="ts-muted">({}; the project\'s prices have changed since)</span>',
            money_html(order.cost),
            when,
        )
    items = " + ".join(f"{money(line.unit_cost)} × {line.quantity}" for line in lines)
    shipping = max(line.shipping_cost for line in lines)
    if order.status == OrderStatus.HOLD:
        frozen = "recomputed while on hold"
    elif order.charged_at:
        frozen = "charged"
    else:
        frozen = "as priced when it left hold"
    return format_html(
        '{} <span class="ts-muted">({} + {} shipping; {}; {})</span>',
        money_html(order.cost),
        items,
        money(shipping),
        SHIPPING_ONCE,
        frozen,
    )


def box_breakdown(order: Order) -> dict[str, str]:
    """Return the totals under the items table: items, shipping once, the box cost."""
    lines = order.active_lines()
    items = sum((line_cost(line) for line in lines), ZERO)
    shipping = max((line.shipping_cost for line in lines), default=ZERO)
    return {"items": money(items), "shipping": money(shipping), "total": money(box_cost(lines))}


def box_html(order: Order) -> str:
    """Say which box of its SamCart order `order` is, why it is separate, and link the others
    ("Box 2 of SamCart order 555 — separate box: ships to another address. Other boxes of
    this SamCart order: order #7 (box 1, in production).")."""
    siblings = list(
        Order.objects.filter(
            publisher_id=order.publisher_id,
            source=order.source,
            external_order_id=order.external_order_id,
        )
        .exclude(pk=order.pk)
        .order_by("box_number", "id")
    )
    head = format_html("Box {} of SamCart order {}", order.box_number, order.external_order_id)
    if order.split_reason:
        head = format_html("{} — separate box: {}", head, order.get_split_reason_display())
    if not siblings:
        return format_html("{} (its only box).", head) if not order.split_reason else head
    links = format_html_join(
        ", ",
        '<a href="{}">order #{}</a> (box {}, {})',
        (
            (
                reverse("admin:fulfillment_order_change", args=[other.pk]),
                other.pk,
                other.box_number,
                other.get_status_display(),
            )
            for other in siblings
        ),
    )
    return format_html("{}. Other boxes of this SamCart order: {}.", head, links)


class LineProjectFilter(ScopedRelatedFieldListFilter):
    """The order list's project filter: a box matches by any of its lines (SPEC §18).

    Its parameter stays `project__id__exact`, as when an order was one product, so links and
    bookmarks keep working. The path spans `lines`, so Django's change list drops the
    duplicate rows a box with several lines of the project would make.
    """

    def __init__(
        self,
        field: Field,
        request: HttpRequest,
        params: dict[str, list[str]],
        model: type[Order],
        model_admin: admin.ModelAdmin,
        field_path: str,
    ) -> None:
        super().__init__(field, request, params, model, model_admin, "project")

    def get_facet_counts(self, pk_attname: str, filtered_qs: QuerySet[Order]) -> dict[str, Count]:
        """Count, per project, the boxes with a line in it (each box once)."""
        lookup = f"lines__{self.lookup_kwarg}"
        return {
            f"{pk}__c": Count(pk_attname, filter=Q(**{lookup: pk}), distinct=True)
            for pk, _title in self.lookup_choices
        }

    def queryset(self, request: HttpRequest, queryset: QuerySet[Order]) -> QuerySet[Order]:
        """Keep the boxes with a line in the chosen project."""
        lines = {f"lines__{key}": values for key, values in self.used_parameters.items()}
        try:
            return queryset.filter(build_q_object_from_lookup_parameters(lines))
        except (ValueError, ValidationError) as error:
            raise IncorrectLookupParameters(error) from error


class StatusFilter(admin.ChoicesFieldListFilter):
    """The status filter, plus "cancelled — refunded": deleted boxes the ledger refunded.

    The parameter stays `status__exact` (the SPEC §3 values, links and bookmarks keep working);
    the extra choice is `status__exact=cancelled`, a value no order stores.
    """

    def queryset(self, request: HttpRequest, queryset: QuerySet[Order]) -> QuerySet[Order]:
        """Keep the cancelled (deleted and refunded) boxes for the extra choice."""
        if self.lookup_val and CANCELLED_CHOICE in self.lookup_val:
            return queryset.filter(status=OrderStatus.DELETED, refunded_total__gt=0)
        return super().queryset(request, queryset)

    def choices(self, changelist: ChangeList) -> Iterator[dict[str, Any]]:
        """List Django's choices, then "cancelled — refunded"."""
        yield from super().choices(changelist)
        yield {
            "selected": bool(self.lookup_val) and CANCELLED_CHOICE in self.lookup_val,
            "query_string": changelist.get_query_string(
                {self.lookup_kwarg: CANCELLED_CHOICE}, [self.lookup_kwarg_isnull]
            ),
            "display": CANCELLED_LABEL,
        }


class HoldReasonFilter(admin.ChoicesFieldListFilter):
    """The hold-reason filter, its empty choice named: "not on hold" rather than "—"."""

    def choices(self, changelist: ChangeList) -> Iterator[dict[str, Any]]:
        """Name the empty reason (issue 20, point 13)."""
        for choice in super().choices(changelist):
            if choice["display"] == HoldReason.NONE.label:
                choice = {**choice, "display": NOT_ON_HOLD}
            yield choice


@admin.register(Order)
class OrderAdmin(OrderSearchMixin, OrderExportMixin, FoundByMixin, PublisherScopedAdmin):
    """Orders: edit, delete or release while on hold; read-only afterwards; staff ship them."""

    list_display = (
        "number",
        "status_column",
        "items_column",
        "publisher_name",
        "customer",
        "external_order_id",
        "cost_column",
        "purchase_arrived",
        "created",
    )
    list_display_links = ("number",)
    list_filter = (
        ("status", StatusFilter),
        ("hold_reason", HoldReasonFilter),
        ("lines__project", LineProjectFilter),
        "is_test",
        "cart_refunded",
        "found_by",
        ("publisher", ScopedRelatedFieldListFilter),
    )
    staff_only_columns = ("publisher_name",)
    staff_only_filters = ("publisher",)
    list_select_related = ("publisher",)
    search_fields = (
        "ship_name",
        "customer_email",
        "external_order_id",
        "=lines__external_product_id",
    )
    search_help_text = "Search by customer name or email, SamCart order ID or product ID."
    empty_text = (
        "No orders yet. An order appears here as soon as SamCart sends a sale to your Notify URL"
        " and it names a SamCart product listed in one of your projects."
    )
    empty_link_text = "Your Notify URL and how to set up SamCart"
    actions = ("release_orders", "delete_orders", "cancel_orders", "ship_orders")
    change_form_template = "admin/fulfillment/order/change_form.html"
    form = HoldOrderForm

    @admin.display(description="order", ordering="id")
    def number(self, obj: Order) -> str:
        """Show the TrepStar order number."""
        return f"#{obj.pk}"

    @admin.display(description="publisher", ordering="publisher__name")
    def publisher_name(self, obj: Order) -> str:
        """Show the publisher's name (staff only)."""
        return obj.publisher.name

    @admin.display(description="status", ordering="status")
    def status_column(self, obj: Order) -> str:
        """Show the status, hold reason and warnings as badges."""
        return status_badges(obj)

    @admin.display(description="customer", ordering="ship_name")
    def customer(self, obj: Order) -> str:
        """Show the customer's name (the email on hover)."""
        return format_html('<span title="{}">{}</span>', obj.customer_email, obj.ship_name or "—")

    @admin.display(description="created", ordering="created_at")
    def created(self, obj: Order) -> str:
        """Show when the order arrived, compactly."""
        return short_datetime(obj.created_at)

    @admin.display(description="purchase arrived", ordering="purchase_received_at")
    def purchase_arrived(self, obj: Order) -> str:
        """Show when the purchase arrived (its notification): a reprocessed order's *created*
        time is the reprocess time, this one stays."""
        return short_datetime(order_purchase_received_at(obj))

    @admin.display(description="purchase arrived")
    def purchase_arrived_field(self, obj: Order) -> str:
        """Say on the order page when the purchase arrived, and that *created* may be later."""
        received = order_purchase_received_at(obj)
        if received is None:
            return "— (no notification made this order)"
        return format_html(
            '{} <span class="ts-muted">(when SamCart\'s notification arrived; <em>created</em>'
            " is when this order was made, later when the notification was reprocessed)</span>",
            date_format(localtime(received), "DATETIME_FORMAT"),
        )

    @admin.display(description="notification")
    def notification_link(self, obj: Order) -> str:
        """Link the notification that created the order."""
        if obj.notification_id is None:
            return "—"
        url = reverse("admin:fulfillment_notification_change", args=[obj.notification_id])
        return format_html('<a href="{}">Notification #{}</a>', url, obj.notification_id)

    @admin.display(description="cost", ordering="cost")
    def cost_column(self, obj: Order) -> str:
        """Show the cost as money; "price pending" while TrepStar has not confirmed the prices
        (a new project's orders read $0.00 before, issue 20 point 8)."""
        if obj.status == OrderStatus.HOLD and obj.hold_reason == HoldReason.PRICE_PENDING:
            return PRICE_PENDING_COST
        return money_html(obj.cost)

    @admin.display(description="items")
    def items_column(self, obj: Order) -> str:
        """Say what is in the box: "2 items: Book, DVD"."""
        return items_summary(obj.active_lines())

    @admin.display(description="items")
    def items_summary_field(self, obj: Order) -> str:
        """Say what is in the box on its page."""
        return items_summary(obj.active_lines())

    @admin.display(description="box")
    def box_summary(self, obj: Order) -> str:
        """Say which box of its SamCart order this is, why it is a box of its own, and link
        the other boxes of the same SamCart order."""
        return box_html(obj)

    @admin.display(description="status")
    def status_summary(self, obj: Order) -> str:
        """Show the status badges on the order page."""
        return status_badges(obj)

    @admin.display(description="refunded in SamCart")
    def refund_notice_field(self, obj: Order) -> str:
        """Say when SamCart refunded the order and what can still be done (issue 20, #16)."""
        notice = refund_notice(obj)  # in the viewer's (active) time zone
        return format_html('<strong class="ts-refund-notice">{}</strong>', notice or "—")

    @admin.display(description="cost")
    def cost_summary(self, obj: Order) -> str:
        """Show the box cost and how it is made (SPEC §18): each item's price per copy ×
        its quantity, plus shipping once, the highest of the items.

        The breakdown uses the lines' prices as priced and is shown only when it adds up to
        the box's cost: a charged box keeps the cost it was charged at.
        """
        return cost_html(obj)

    @admin.display(description="address")
    def address_missing(self, obj: Order) -> str:
        """Say what the shipping address lacks ("missing: street, a known country")."""
        text = order_address(order=obj).missing_text()
        return f"Incomplete, {text}." if text else "Complete."

    @admin.display(description="billing address from SamCart")
    def billing_address(self, obj: Order) -> str:
        """Show the billing address SamCart sent, to copy into the shipping address."""
        billing = order_billing_address(order=obj)
        if billing is None:
            return "SamCart sent no billing address with this order."
        lines = [
            (label, value)
            for label, value in (
                ("Street", billing.street),
                ("City", billing.city),
                ("State", billing.state),
                ("Postal code", billing.postal_code),
                ("Country", billing.country),
            )
            if value
        ]
        rows = format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", lines)
        return format_html(
            '<table class="ts-billing">{}</table><p class="ts-muted">The buyer\'s billing'
            " address, as SamCart sent it. If the parcel should go there, press “{}” at the top"
            " of the page (or copy what fits into the shipping address above).</p>",
            rows,
            USE_BILLING,
        )

    @admin.display(description="payment")
    def payment_summary(self, obj: Order) -> str:
        """Say the balance, what the order needs more, and how to add funds."""
        publisher = obj.publisher
        balance = publisher.balance
        if can_pay(balance=balance, cost=obj.cost):
            return f"Balance {money(balance)}; it covers this order's {money(obj.cost)}."
        short = max(obj.cost - balance, obj.cost if balance <= 0 else 0)
        how = add_funds_text(publisher=publisher, then="release this order here")
        return f"Balance {money(balance)}; this order needs {money(short)} more. {how}"

    @admin.display(description="events")
    def events_table(self, obj: Order) -> str:
        """Show what happened to the order, oldest first, and who did it."""
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    date_format(localtime(e.created_at), "DATETIME_FORMAT"),
                    capfirst(e.get_kind_display()),  # "Edit window ended" beside "Charged"
                    e.actor.get_username() if e.actor else "SamCart / TrepStar",
                    e.detail,
                )
                for e in order_events(obj)
            ),
        )
        return format_html(
            '<table class="ts-events"><thead><tr><th>when</th><th>what</th><th>who</th>'
            "<th>detail</th></tr></thead><tbody>{}</tbody></table>",
            rows,
        )

    def get_fieldsets(self, request: HttpRequest, obj: Order | None = None) -> list[Any]:
        """Lay out the order page: the order, the customer and address, then its history."""
        order = ["status_summary", "items_summary_field", "cost_summary", "box_summary"]
        if is_staff_request(request):
            order.insert(1, "publisher")
        held = obj is not None and obj.status == OrderStatus.HOLD
        if held and obj.hold_reason == HoldReason.PAYMENT_REQUIRED and not obj.is_test:
            order.append("payment_summary")
        address = [
            "ship_name",
            "customer_email",
            "customer_phone",
            "ship_street",
            "ship_city",
            "ship_state",
            "ship_postal_code",
            "ship_country",
            "ship_country_code",
        ]
        if held and obj.hold_reason == HoldReason.ADDRESS_INCOMPLETE:
            address = ["address_missing", *address, "billing_address"]
        if needs_review(obj):
            order.insert(1, "review_note")
        if obj is not None and obj.cart_refunded:
            order.insert(1, "refund_notice_field")
        samcart = ["external_order_id", "found_by_summary"]
        return [
            (None, {"fields": order}),
            ("Customer and shipping address", {"fields": address}),
            ("From SamCart", {"fields": [*samcart, "notification_link"]}),
            (
                "Production",
                {"fields": ["tracking_number", "carrier", "charged_at", "production_at"]},
            ),
            (
                "History",
                {"fields": ["events_table", "purchase_arrived_field", "created_at", "updated_at"]},
            ),
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Order | None = None) -> list[str]:
        """Everything but the fields a publisher may change on hold is read-only."""
        if obj is not None and self.has_change_permission(request, obj):
            return list(DISPLAY_FIELDS)
        return [*DISPLAY_FIELDS, *EDITABLE_ON_HOLD]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Order]:
        """Each box with its lines and their projects (one more query per page)."""
        orders = super().get_queryset(request).with_lines()  # type: ignore[attr-defined]
        refunded = refunded_total_expression()
        return orders.with_purchase_received().annotate(refunded_total=refunded)

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Orders come from SamCart only."""
        return False

    def has_change_permission(self, request: HttpRequest, obj: Order | None = None) -> bool:
        """Allow changes to orders on hold, or scheduled in their edit window (until
        `production_at`, `order_editable`); not the rest."""
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or order_editable(order=obj))

    def has_delete_permission(self, request: HttpRequest, obj: Order | None = None) -> bool:
        """Never delete an order row: the *delete* action sets the status `deleted`."""
        return False

    def has_hold_delete_permission(self, request: HttpRequest) -> bool:
        """Tell whether the user may delete orders on hold (Django's delete permission)."""
        codename = get_permission_codename("delete", self.opts)
        return request.user.has_perm(f"{self.opts.app_label}.{codename}")

    def has_ship_permission(self, request: HttpRequest) -> bool:
        """Only TrepStar staff mark orders as shipped."""
        return is_staff_request(request)

    def formfield_for_dbfield(
        self, db_field: Field, request: HttpRequest, **kwargs: Any
    ) -> FormField | None:
        """Suggest the known countries in the country box."""
        if db_field.name == "ship_country":
            kwargs.update(country_field_options())
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def get_form(
        self, request: HttpRequest, obj: Order | None = None, change: bool = False, **kwargs: Any
    ) -> type[HoldOrderForm]:
        """Offer the item inputs (quantity, remove) only to a person who may change the box."""
        form = super().get_form(request, obj, change, **kwargs)
        form.lines_editable = obj is not None and self.has_change_permission(request, obj)
        return form

    def save_model(self, request: HttpRequest, obj: Order, form: ModelForm, change: bool) -> None:
        """Save what changed, all or nothing: removed items and quantities through
        `services.lines`, then the address through `order_update` (so a release it makes
        charges the new items)."""
        fields = {
            name: form.cleaned_data[name] for name in form.changed_data if name in EDITABLE_ON_HOLD
        }
        quantities, removals = form.line_changes()
        reason_before = obj.hold_reason
        try:
            with transaction.atomic():
                for line in removals:
                    order_line_remove(line=line, actor=request.user)
                for line, quantity in quantities:
                    order_line_update(line=line, quantity=quantity, actor=request.user)
                saved = order_update(order=obj, actor=request.user, **fields)
        except (ServiceError, ValidationError) as error:
            # The form ran the same rules (field errors); this is a race with another change.
            request._order_not_saved = True
            text = "; ".join(error.messages) if isinstance(error, ValidationError) else str(error)
            messages.error(request, text)
            return
        if reason_before == HoldReason.ADDRESS_INCOMPLETE:
            self._after_address_fixed(request, saved)

    def _after_address_fixed(self, request: HttpRequest, order: Order) -> None:
        """Say an order whose address was fixed was released, or offer its release."""
        publisher = Publisher.objects.get(pk=order.publisher_id)
        if order.status == OrderStatus.IN_PRODUCTION:
            self.message_user(
                request,
                f"Order #{order.pk} was released (auto-release is on): charged "
                f"{money(order.cost)}; balance now {money(publisher.balance)}.",
                messages.SUCCESS,
            )
            return
        payable = order.hold_reason == HoldReason.PAYMENT_REQUIRED and not order.is_test
        if not payable or not can_pay(balance=publisher.balance, cost=order.cost):
            return
        offer = RELEASE_OFFER.format(
            order=order.pk, balance=money(publisher.balance), cost=money(order.cost)
        )
        button = format_html(
            '{} <form method="post" action="{}" class="ts-inline-form">'
            '<input type="hidden" name="csrfmiddlewaretoken" value="{}">'
            '<input type="hidden" name="action" value="release_orders">'
            '<input type="hidden" name="confirmed" value="yes">'
            '<input type="hidden" name="_selected_action" value="{}">'
            '<input type="hidden" name="index" value="0">'
            '<button type="submit" class="ts-button-primary">Release it</button></form>',
            offer,
            reverse("admin:fulfillment_order_changelist"),
            get_token(request),
            order.pk,
        )
        self.message_user(request, button, messages.INFO)

    def log_change(self, request: HttpRequest, obj: Order, message: Any) -> Any:
        """Log the change only when the order was saved."""
        if getattr(request, "_order_not_saved", False):
            return None
        return super().log_change(request, obj, message)

    def response_change(self, request: HttpRequest, obj: Order) -> HttpResponse:
        """Stay on the order page, without a success message, when the save was refused."""
        if getattr(request, "_order_not_saved", False):
            return HttpResponseRedirect(request.path)
        return super().response_change(request, obj)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        """Offer the buttons that fit the order's status (release, delete, ship)."""
        extra = {
            "can_hold_delete": self.has_hold_delete_permission(request),
            "can_ship": self.has_ship_permission(request),
            "changelist_url": reverse("admin:fulfillment_order_changelist"),
            "ship_url": reverse("admin:fulfillment_order_ship"),
        }
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Order | None = None,
    ) -> HttpResponse:
        """Offer *cancel* only while the edit window is open (`window_open`, SPEC §15); give
        the items table its rows, inputs and totals."""
        context["window_open"] = obj is not None and window_open(order=obj)
        form = context["adminform"].form
        if obj is not None and isinstance(form, HoldOrderForm):
            context["line_rows"] = form.line_rows()
            context["lines_open"] = form.lines_open
            context["lines_removable"] = any(row.remove for row in context["line_rows"])
            context["box_breakdown"] = box_breakdown(obj)
        if self._billing_offered(request, obj):
            url = reverse("admin:fulfillment_order_use_billing", args=[obj.pk])
            context.update(use_billing_url=url, use_billing_text=USE_BILLING)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _billing_offered(self, request: HttpRequest, obj: Order | None) -> bool:
        """Tell whether the order page offers *Use the billing address SamCart sent*: a box on
        hold for its address, a login that may change it, and a billing address from SamCart."""
        return (
            obj is not None
            and obj.status == OrderStatus.HOLD
            and obj.hold_reason == HoldReason.ADDRESS_INCOMPLETE
            and self.has_change_permission(request, obj)
            and order_billing_address(order=obj) is not None
        )

    def use_billing_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Copy the billing address SamCart sent into the shipping fields (the parts it sent;
        the others stay) through `order_update`: the same checks and history event as an edit
        by hand, then the hold reason follows (and auto-release, when on)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        order = self.get_object(request, object_id)
        if order is None:
            raise Http404("No such order.")
        if not self.has_change_permission(request, order):
            raise PermissionDenied("Your login may not change this order.")
        back = HttpResponseRedirect(reverse("admin:fulfillment_order_change", args=[order.pk]))
        if not (
            order.status == OrderStatus.HOLD and order.hold_reason == HoldReason.ADDRESS_INCOMPLETE
        ):
            self.message_user(
                request, NOT_WAITING_FOR_ADDRESS.format(order=order.pk), messages.WARNING
            )
            return back
        billing = order_billing_address(order=order)
        if billing is None:
            self.message_user(request, NO_BILLING.format(order=order.pk), messages.WARNING)
            return back
        fields = {name: getattr(billing, part) for name, part in BILLING_FIELDS}
        fields = {name: value for name, value in fields.items() if value}
        try:
            saved = order_update(order=order, actor=request.user, **fields)
        except (ServiceError, ValidationError) as error:
            text = "; ".join(error.messages) if isinstance(error, ValidationError) else str(error)
            self.message_user(request, f"Order #{order.pk} not changed: {text}", messages.ERROR)
            return back
        self.message_user(
            request,
            BILLING_USED.format(
                order=saved.pk,
                address=", ".join(fields.values()),
                state=f"Status: {status_text(saved)}.",
            ),
            messages.SUCCESS,
        )
        self._after_address_fixed(request, saved)
        return back

    def get_urls(self) -> list[URLPattern]:
        """Add the staff page that marks orders as shipped and the order page's *use the
        billing address* button."""
        ship = self.admin_site.admin_view(lambda request: ship_view(self, request))
        billing = self.admin_site.admin_view(self.use_billing_view)
        return [
            path("ship/", ship, name="fulfillment_order_ship"),
            path(
                "<path:object_id>/use-billing-address/",
                billing,
                name="fulfillment_order_use_billing",
            ),
            *super().get_urls(),
        ]

    @admin.action(
        description="Release selected orders (charge the balance)…", permissions=["change"]
    )
    def release_orders(
        self, request: HttpRequest, queryset: QuerySet[Order]
    ) -> HttpResponse | None:
        """Ask on a confirmation page, then charge the chosen hold orders oldest first while
        the balance covers each."""
        return orders_release_action(self, request, queryset)

    @admin.action(description="Delete selected orders on hold…", permissions=["hold_delete"])
    def delete_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> HttpResponse | None:
        """Ask on a confirmation page, then delete the chosen hold orders (status `deleted`)."""
        return orders_delete_action(self, request, queryset)

    @admin.action(
        description="Cancel selected scheduled orders (refund to the balance)",
        permissions=["hold_delete"],
    )
    def cancel_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        """Cancel each chosen scheduled box, whole, with the refund of its net charge; say what
        each did (naming its items) or why not."""
        for order in queryset.order_by("created_at", "id"):
            try:
                order_cancel(order=order, actor=request.user)
            except ServiceError as error:
                self.message_user(request, str(error), messages.WARNING)
                continue
            balance = Publisher.objects.values_list("balance", flat=True).get(pk=order.publisher_id)
            refund = LedgerEntry.objects.filter(order_id=order.pk, kind=LedgerKind.REFUND)
            refunded = refund.order_by("-id").values_list("amount", flat=True).first() or ZERO
            self.message_user(
                request,
                f"Order #{order.pk} cancelled ({items_summary(order.active_lines())}): "
                f"{money(refunded)} refunded; balance now {money(balance)}.",
                messages.SUCCESS,
            )

    @admin.action(description="Mark selected orders as shipped…", permissions=["ship"])
    def ship_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> HttpResponse:
        """Open the shipping page for the chosen orders (tracking numbers are asked there)."""
        ids = ",".join(str(pk) for pk in queryset.values_list("pk", flat=True))
        return HttpResponseRedirect(f"{reverse('admin:fulfillment_order_ship')}?ids={ids}")
