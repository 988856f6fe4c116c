"""Serializers: shapes only; validation of rules stays in services."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from fulfillment import ecommerce_ids
from fulfillment.ids import MAX_ID
from fulfillment.limits import ERROR_QUANTITY, MAX_QUANTITY
from fulfillment.models import Notification, Order, OrderEvent, OrderLine, OrderStatus, Project
from fulfillment.selectors import order_purchase_received_at
from fulfillment.services.orders import EDITABLE_ON_HOLD, order_update_check
from fulfillment.services.refunds import cancelled_refunded_text
from fulfillment.services.status import order_address
from fulfillment.services.wording import items_summary

MAX_RELEASE = 1_000  # ids in one release request
# Fields an order had before it was a box of lines (SPEC §18); a write naming one is refused.
LINE_FIELDS = ("quantity", "project", "external_product_id")
ERROR_LINE_FIELD = (
    "An order is a box of lines: change a line's quantity with PATCH "
    '/api/v1/orders/{order}/lines/<line id>/ {{"quantity": n}}, remove a line with DELETE '
    "of the same URL (on hold only). The order's `lines` list their ids."
)


class OrderEventSerializer(serializers.ModelSerializer):
    """One event in an order's life."""

    actor = serializers.StringRelatedField(allow_null=True)  # null: SamCart or the system

    class Meta:
        model = OrderEvent
        fields = ["kind", "actor", "detail", "created_at"]


class OrderLineSerializer(serializers.ModelSerializer):
    """One line of a box: a project, how many copies, its prices as priced (SPEC §18).

    A line the publisher removed stays listed with `removed` true (SamCart resending it creates
    nothing); it is left out of the box's cost and `items`.
    """

    project_title = serializers.CharField(source="project.title", read_only=True)
    line_cost = serializers.DecimalField(
        source="cost",
        max_digits=None,  # a product of two stored amounts: no digit limit to overflow
        decimal_places=2,
        read_only=True,
        help_text="unit_cost × quantity (shipping apart: the box pays one shipping).",
    )
    removed = serializers.SerializerMethodField(help_text="The publisher removed this line.")

    class Meta:
        model = OrderLine
        fields = [
            "id",
            "project",
            "project_title",
            "external_product_id",
            "quantity",
            "unit_cost",
            "shipping_cost",
            "line_cost",
            "removed",
            "removed_at",
            "cart_refunded",
        ]
        read_only_fields = fields

    def get_removed(self, line: OrderLine) -> bool:
        """Say whether the publisher removed the line from its box."""
        return line.removed_at is not None


class OrderLineUpdateSerializer(serializers.Serializer):
    """A line's new quantity (the box must be on hold); required, although the method is PATCH.

    Never partial: the schema generator makes a PATCH body partial (every field optional), but
    this body has one field and a PATCH without it changes nothing, so it is refused (400).
    """

    @property
    def partial(self) -> bool:
        """Always False: `quantity` is required (see the class)."""
        return False

    @partial.setter
    def partial(self, value: bool) -> None:
        """Ignore requests for a partial body."""

    quantity = serializers.IntegerField(
        min_value=1,
        max_value=MAX_QUANTITY,
        error_messages={
            key: ERROR_QUANTITY for key in ("required", "null", "invalid", "min_value", "max_value")
        },
    )


class OrderSerializer(serializers.ModelSerializer):
    """An order (one box, SPEC §18) as publishers see it, with its lines; the customer and
    shipping fields of a hold or scheduled box are writable."""

    lines = OrderLineSerializer(many=True, read_only=True)
    items = serializers.SerializerMethodField(
        help_text='What is in the box, removed lines left out: "2 items: Book, DVD × 2".'
    )
    events = OrderEventSerializer(many=True, read_only=True)
    address_missing = serializers.SerializerMethodField(
        help_text='What the shipping address lacks, e.g. ["street", "a known country"]; '
        "empty when it is complete."
    )

    status_display = serializers.SerializerMethodField(
        help_text='The status in words, as the admin shows it: "on hold — payment required", '
        '"cancelled — refunded $11.45" (a deleted order the ledger refunded). Read-only; '
        "`status` keeps the SPEC §3 value (`deleted` for that order)."
    )
    purchase_received_at = serializers.SerializerMethodField(
        help_text="When the purchase arrived: the received time of the SamCart notification "
        "that made the order (created_at is later when it was reprocessed); null for an order "
        "no notification made."
    )

    class Meta:
        model = Order
        fields = [
            "id",
            "source",
            "external_order_id",
            "box_number",
            "split_reason",
            "items",
            "lines",
            *EDITABLE_ON_HOLD,
            "ship_country_code",
            "address_missing",
            "cost",
            "status",
            "status_display",
            "hold_reason",
            "is_test",
            "cart_refunded",
            "found_by",
            "tracking_number",
            "carrier",
            "charged_at",
            "production_at",
            "notification",
            "purchase_received_at",
            "created_at",
            "updated_at",
            "events",
        ]
        read_only_fields = [f for f in fields if f not in EDITABLE_ON_HOLD]

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_purchase_received_at(self, obj: Order) -> str | None:
        """Return when the purchase arrived, ISO-8601, or None without a notification."""
        received = order_purchase_received_at(obj)
        return None if received is None else serializers.DateTimeField().to_representation(received)

    def to_internal_value(self, data: Any) -> Any:
        """Refuse the fields of a line (`quantity`…) with where to change them instead.

        They were the order's before boxes; silently ignoring them would answer 200 to a
        client that believes it changed a quantity.
        """
        if isinstance(data, Mapping):
            named = [name for name in LINE_FIELDS if name in data]
            if named:
                order = self.instance.pk if self.instance is not None else "<id>"
                message = ERROR_LINE_FIELD.format(order=order)
                raise serializers.ValidationError({name: [message] for name in named})
        return super().to_internal_value(data)

    def get_status_display(self, order: Order) -> str:
        """Say the status in words; "cancelled — refunded $11.45" for a cancelled order."""
        cancelled = cancelled_refunded_text(order)
        if cancelled is not None:
            return cancelled
        text = order.get_status_display()
        if order.status == OrderStatus.HOLD and order.hold_reason:
            text += f" — {order.get_hold_reason_display()}"
        return text

    def get_items(self, order: Order) -> str:
        """Say what is in the box (its active lines)."""
        return items_summary(order.active_lines())

    def get_address_missing(self, order: Order) -> list[str]:
        """Name the parts a parcel needs that the address lacks."""
        missing = order_address(order=order).missing_parts()
        return ["a known country" if part == "country" else part for part in missing]

    def validate_ship_country(self, value: str) -> str:
        """Refuse a country nobody can ship to, with the same words as the admin form."""
        if self.instance is not None and value == self.instance.ship_country:
            return value  # unchanged: the stored value may be what SamCart sent
        try:
            order_update_check(ship_country=value)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.message_dict["ship_country"]) from error
        return value


class ReleaseSerializer(serializers.Serializer):
    """The hold orders to release."""

    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        allow_empty=False,
        max_length=MAX_RELEASE,
    )


class ReleaseResultSerializer(serializers.Serializer):
    """What a release did."""

    released = serializers.ListField(child=serializers.IntegerField())
    kept = serializers.ListField(child=serializers.DictField())
    message = serializers.CharField()


class ProjectSerializer(serializers.ModelSerializer):
    """A project; publishers may change only its eCommerceIDString."""

    class Meta:
        model = Project
        fields = [
            "id",
            "title",
            "ecommerce_id_string",
            "unit_cost",
            "shipping_cost",
            "prices_confirmed",
            "is_active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "title",
            "unit_cost",
            "shipping_cost",
            "prices_confirmed",
            "is_active",
            "created_at",
            "updated_at",
        ]

    def validate_ecommerce_id_string(self, value: str) -> str:
        """Apply the same syntax check as the admin, with the same message."""
        try:
            return ecommerce_ids.normalise(value)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.messages) from error


class NotificationSerializer(serializers.ModelSerializer):
    """A stored notification with its outcome; the body as text."""

    body = serializers.SerializerMethodField()
    orders = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = Notification
        fields = [
            "id",
            "received_at",
            "remote_addr",
            "content_type",
            "body",
            "body_size",
            "body_truncated",
            "is_test",
            "event_type",
            "external_order_id",
            "outcome",
            "detail",
            "http_status",
            "processed_at",
            "orders",
        ]

    def get_body(self, notification: Notification) -> str:
        """Return the stored bytes decoded as UTF-8 (invalid bytes replaced)."""
        return bytes(notification.raw_body).decode("utf-8", "replace")
