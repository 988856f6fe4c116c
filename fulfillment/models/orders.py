"""Orders created from SamCart purchases, and the events in their life."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from .base import ZERO, MoneyField, PublisherScopedQuerySet
from .notifications import Notification
from .projects import Project
from .publishers import Publisher
from .samcart_check import SamcartCheckRun


class OrderStatus(models.TextChoices):
    """An order's place in its life (SPEC §3 contract strings)."""

    HOLD = "hold", "on hold"
    SCHEDULED = "scheduled", "scheduled"  # paid, waiting for its edit window to end (§15)
    IN_PRODUCTION = "in_production", "in production"
    SHIPPED = "shipped", "shipped"
    DELETED = "deleted", "deleted"


class HoldReason(models.TextChoices):
    """Why an order waits on hold (SPEC §3 contract strings)."""

    NONE = "", "—"
    PAYMENT_REQUIRED = "payment_required", "payment required"
    ADDRESS_INCOMPLETE = "address_incomplete", "address incomplete"
    PRICE_PENDING = "price_pending", "price not confirmed yet"
    # Found by the SamCart check (§17): stays until a person releases or deletes it.
    REVIEW = "review", "review: found by the SamCart check"


class FoundBy(models.TextChoices):
    """How TrepStar learnt of the sale (SPEC §3)."""

    NOTIFY = "notify", "Notify URL"
    SAMCART_CHECK = "samcart_check", "SamCart check"


class OrderQuerySet(PublisherScopedQuerySet):
    """Orders, scoped by publisher."""

    def on_hold(self) -> OrderQuerySet:
        """Return the orders waiting on hold, oldest first."""
        return self.filter(status=OrderStatus.HOLD).order_by("created_at", "id")


class Order(models.Model):
    """One print order: one project, for one product line of one SamCart purchase."""

    publisher = models.ForeignKey(Publisher, on_delete=models.PROTECT, related_name="orders")
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="orders")
    notification = models.ForeignKey(
        Notification,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="orders",
        help_text="The notification that created this order.",
    )
    source = models.CharField(max_length=20, default="samcart", editable=False)
    external_order_id = models.CharField("SamCart order ID", max_length=64)
    external_product_id = models.CharField("SamCart product ID", max_length=64)
    quantity = models.PositiveIntegerField(default=1)
    ship_name = models.CharField("name", max_length=200, blank=True)
    ship_street = models.CharField("street", max_length=255, blank=True)
    ship_city = models.CharField("city", max_length=100, blank=True)
    ship_state = models.CharField("state", max_length=100, blank=True)
    ship_postal_code = models.CharField("postal code", max_length=32, blank=True)
    ship_country = models.CharField("country", max_length=100, blank=True)
    ship_country_code = models.CharField("country code", max_length=2, blank=True)
    customer_email = models.EmailField(max_length=254, blank=True)
    customer_phone = models.CharField(max_length=50, blank=True)
    cost = MoneyField(default=ZERO)
    status = models.CharField(
        max_length=20, choices=OrderStatus.choices, default=OrderStatus.HOLD, editable=False
    )
    hold_reason = models.CharField(
        max_length=20, choices=HoldReason.choices, blank=True, editable=False
    )
    is_test = models.BooleanField("test order", default=False, editable=False)
    cart_refunded = models.BooleanField("refunded in SamCart", default=False, editable=False)
    tracking_number = models.CharField(max_length=100, blank=True)
    found_by = models.CharField(
        max_length=20, choices=FoundBy.choices, default=FoundBy.NOTIFY, editable=False
    )
    found_by_run = models.ForeignKey(
        SamcartCheckRun,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="orders",
        help_text="The SamCart check run that found this sale.",
    )
    charged_at = models.DateTimeField(null=True, blank=True, editable=False)
    production_at = models.DateTimeField(
        "production starts",
        null=True,
        blank=True,
        editable=False,
        help_text="When a scheduled order's edit window ends and it goes to production.",
    )
    # Set in the transaction of the hold digest that named this order (SPEC §14): an order
    # is in exactly one digest, whenever its own transaction committed.
    alerted_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OrderQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # Exactly once (SPEC §6): a SamCart line becomes at most one order per project.
            models.UniqueConstraint(
                fields=[
                    "publisher",
                    "source",
                    "external_order_id",
                    "external_product_id",
                    "project",
                ],
                name="order_exactly_once",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=OrderStatus.values), name="order_status_valid"
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(status=OrderStatus.HOLD)
                    & models.Q(
                        hold_reason__in=[
                            HoldReason.PAYMENT_REQUIRED,
                            HoldReason.ADDRESS_INCOMPLETE,
                            HoldReason.PRICE_PENDING,
                            HoldReason.REVIEW,
                        ]
                    )
                )
                | (~models.Q(status=OrderStatus.HOLD) & models.Q(hold_reason="")),
                name="order_hold_reason_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(quantity__gte=1), name="order_quantity_positive"
            ),
            models.CheckConstraint(condition=models.Q(cost__gte=0), name="order_cost_not_negative"),
            models.CheckConstraint(
                condition=models.Q(found_by__in=FoundBy.values), name="order_found_by_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["publisher", "status", "created_at"], name="order_queue"),
            # A publisher's newest orders first: the admin list and the API (issue 10).
            models.Index(fields=["publisher", "-created_at", "-id"], name="order_recent"),
            models.Index(fields=["publisher", "external_order_id"], name="order_by_cart_order"),
            # The end of edit windows: scheduled orders by when production starts (§15).
            models.Index(
                fields=["production_at"],
                name="order_window_end",
                condition=models.Q(status="scheduled"),
            ),
        ]

    def __str__(self) -> str:
        test = " (test)" if self.is_test else ""
        return f"Order {self.pk}: {self.project} × {self.quantity}{test}"


class OrderEventKind(models.TextChoices):
    """What happened to an order."""

    CREATED = "created"
    CHARGED = "charged"
    HELD = "held"
    EDITED = "edited"
    RELEASED = "released"
    DELETED = "deleted"
    CANCELLED = "cancelled", "cancelled and refunded"
    PRODUCTION_STARTED = "production_started", "edit window ended"
    SHIPPED = "shipped"
    CART_REFUNDED = "cart_refunded", "refunded in SamCart"
    DUPLICATE_IGNORED = "duplicate_ignored", "resend ignored"


class OrderEventQuerySet(PublisherScopedQuerySet):
    """Order events, scoped by the order's publisher."""

    publisher_field = "order__publisher"


class OrderEvent(models.Model):
    """One thing that happened to an order, with who did it (null: SamCart or the system)."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=30, choices=OrderEventKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    detail = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = OrderEventQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.created_at:%Y-%m-%d %H:%M})"
