"""Serializers: shapes only; validation of rules stays in services."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from fulfillment import ecommerce_ids
from fulfillment.ids import MAX_ID
from fulfillment.limits import ERROR_QUANTITY, MAX_QUANTITY
from fulfillment.models import Notification, Order, OrderEvent, Project
from fulfillment.services.orders import EDITABLE_ON_HOLD, order_update_check
from fulfillment.services.status import order_address

MAX_RELEASE = 1_000  # ids in one release request


class OrderEventSerializer(serializers.ModelSerializer):
    """One event in an order's life."""

    actor = serializers.StringRelatedField(allow_null=True)  # null: SamCart or the system

    class Meta:
        model = OrderEvent
        fields = ["kind", "actor", "detail", "created_at"]


class OrderSerializer(serializers.ModelSerializer):
    """An order as publishers see it; the fields of a hold order they may change are writable."""

    project_title = serializers.CharField(source="project.title", read_only=True)
    events = OrderEventSerializer(many=True, read_only=True)
    address_missing = serializers.SerializerMethodField(
        help_text='What the shipping address lacks, e.g. ["street", "a known country"]; '
        "empty when it is complete."
    )

    class Meta:
        model = Order
        fields = [
            "id",
            "project",
            "project_title",
            "source",
            "external_order_id",
            "external_product_id",
            *EDITABLE_ON_HOLD,
            "ship_country_code",
            "address_missing",
            "cost",
            "status",
            "hold_reason",
            "is_test",
            "cart_refunded",
            "found_by",
            "tracking_number",
            "charged_at",
            "production_at",
            "notification",
            "created_at",
            "updated_at",
            "events",
        ]
        read_only_fields = [f for f in fields if f not in EDITABLE_ON_HOLD]
        extra_kwargs = {
            "quantity": {
                "min_value": 1,
                "max_value": MAX_QUANTITY,
                "error_messages": {"min_value": ERROR_QUANTITY, "max_value": ERROR_QUANTITY},
            }
        }

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
