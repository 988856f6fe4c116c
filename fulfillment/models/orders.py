"""Orders created from SamCart purchases, and the events in their life."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import TextChoices

from .base import CENT, ZERO, MoneyField, PublisherScopedQuerySet
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


class Carrier(models.TextChoices):
    """Who carries a shipped order; the tracking link is built per carrier."""

    NONE = "", "—"
    USPS = "usps", "USPS"
    UPS = "ups", "UPS"
    FEDEX = "fedex", "FedEx"
    DHL = "dhl", "DHL Express"
    OTHER = "other", "Other carrier"


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


class SplitReason(TextChoices):
    """Why a SamCart order's lines are in more than one box (SPEC §18); empty for the first."""

    NONE = "", "—"
    AFTER_PRODUCTION = "after_production", "arrived after the first box went to production"
    ANOTHER_ADDRESS = "another_address", "ships to another address"
    AFTER_CLOSED = "after_closed", "arrived after the first box was deleted or cancelled"
    BEFORE_BOXES = "before_boxes", "made before boxes existed (one order per product)"


class OrderQuerySet(PublisherScopedQuerySet):
    """Orders, scoped by publisher."""

    def with_lines(self) -> OrderQuerySet:
        """Prefetch each box's lines with their projects (one more query for the lot)."""
        lines = OrderLine.objects.select_related("project").order_by("id")
        return self.prefetch_related(models.Prefetch("lines", queryset=lines))

    def with_purchase_received(self) -> OrderQuerySet:
        """Annotate `purchase_received_at`: when the notification that made the box arrived
        (a reprocess keeps it; `created_at` is when the box was made), None without one.

        A subquery, not a join: a count of the list leaves an unused subquery out, where it
        kept the join (43 of 75 ms of SQL on a publisher's 100,000 orders, issue 21)."""
        received = Notification.objects.filter(pk=models.OuterRef("notification_id"))
        return self.annotate(
            purchase_received_at=models.Subquery(received.values("received_at")[:1])
        )

    def on_hold(self) -> OrderQuerySet:
        """Return the orders waiting on hold, oldest first."""
        return self.filter(status=OrderStatus.HOLD).order_by("created_at", "id")


class Order(models.Model):
    """One box (SPEC §18): the lines of one SamCart order that ship together to one address.

    Its `cost` is the box cost (`services.charge.box_cost`); its lines are `lines`.
    """

    publisher = models.ForeignKey(Publisher, on_delete=models.PROTECT, related_name="orders")
    notification = models.ForeignKey(
        Notification,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="orders",
        help_text="The notification that started this box.",
    )
    source = models.CharField(max_length=20, default="samcart", editable=False)
    external_order_id = models.CharField("SamCart order ID", max_length=64)
    # The boxes of one SamCart order are numbered 1, 2, …; unique, so two deliveries of one
    # order at the same instant cannot both start box 1 (the second joins it, SPEC §18).
    box_number = models.PositiveSmallIntegerField(default=1, editable=False)
    split_reason = models.CharField(
        "why a separate box",
        max_length=20,
        choices=SplitReason.choices,
        blank=True,
        editable=False,
    )
    ship_name = models.CharField("name", max_length=200, blank=True)
    ship_street = models.CharField("street", max_length=255, blank=True)
    ship_city = models.CharField("city", max_length=100, blank=True)
    ship_state = models.CharField("state", max_length=100, blank=True)
    ship_postal_code = models.CharField("postal code", max_length=32, blank=True)
    ship_country = models.CharField("country", max_length=100, blank=True)
    ship_country_code = models.CharField("country code", max_length=2, blank=True)
    # The address SamCart sent when the box started, normalised (`services.boxes`): a later
    # line that ships there joins it even after the publisher corrected the box's address.
    cart_address_key = models.CharField(max_length=64, blank=True, editable=False)
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
    carrier = models.CharField(max_length=20, choices=Carrier.choices, blank=True)
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
            # One box per number per SamCart order (SPEC §18); exactly once is on the line.
            models.UniqueConstraint(
                fields=["publisher", "source", "external_order_id", "box_number"],
                name="order_one_box_number",
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
            models.CheckConstraint(condition=models.Q(cost__gte=0), name="order_cost_not_negative"),
            models.CheckConstraint(
                condition=models.Q(box_number__gte=1), name="order_box_number_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(split_reason__in=SplitReason.values),
                name="order_split_reason_valid",
            ),
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
        return f"Order {self.pk}: SamCart order {self.external_order_id}{test}"

    def active_lines(self) -> list[OrderLine]:
        """Return the lines in the box now (removed ones left out), oldest first.

        Reads the prefetched `lines` when the caller prefetched them (`with_lines`).
        """
        return [line for line in self.lines.all() if line.removed_at is None]


class OrderLineQuerySet(PublisherScopedQuerySet):
    """Order lines, scoped by publisher."""


class OrderLine(models.Model):
    """One product of a SamCart order in a box: a project, a quantity and its prices as priced.

    Exactly once (SPEC §6, §18) is here: a SamCart line (publisher, source, order id, product
    id) makes at most one line per project, whichever box it is in, removed ones included.
    """

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    publisher = models.ForeignKey(
        Publisher, on_delete=models.PROTECT, related_name="+", editable=False
    )
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="order_lines")
    notification = models.ForeignKey(
        Notification,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="order_lines",
        help_text="The notification that brought this line.",
    )
    source = models.CharField(max_length=20, default="samcart", editable=False)
    external_order_id = models.CharField("SamCart order ID", max_length=64, editable=False)
    external_product_id = models.CharField("SamCart product ID", max_length=64, editable=False)
    quantity = models.PositiveIntegerField(default=1)
    # As priced: the project's prices when the box was last priced (frozen once charged).
    unit_cost = MoneyField(default=ZERO, editable=False)
    shipping_cost = MoneyField(default=ZERO, editable=False)
    # A line the publisher removed stays, so a resend of it creates nothing (SPEC §18).
    removed_at = models.DateTimeField(null=True, blank=True, editable=False)
    cart_refunded = models.BooleanField("refunded in SamCart", default=False, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = OrderLineQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            # Exactly once (SPEC §6, §18): a SamCart line is at most one line per project.
            models.UniqueConstraint(
                fields=[
                    "publisher",
                    "source",
                    "external_order_id",
                    "external_product_id",
                    "project",
                ],
                name="line_exactly_once",
            ),
            models.CheckConstraint(
                condition=models.Q(quantity__gte=1), name="line_quantity_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(unit_cost__gte=0, shipping_cost__gte=0),
                name="line_prices_not_negative",
            ),
        ]
        indexes = [
            # Filters by SamCart product id find a box by any of its lines.
            models.Index(fields=["publisher", "external_product_id"], name="line_by_product"),
        ]

    def __str__(self) -> str:
        return f"{self.project} × {self.quantity}"

    @property
    def cost(self) -> Decimal:
        """Return what this line's copies cost, shipping apart: unit_cost × quantity (the box
        adds one shipping: `services.charge.box_cost`)."""
        return (self.unit_cost * self.quantity).quantize(CENT)


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
    LINE_ADDED = "line_added", "item added"
    LINE_REMOVED = "line_removed", "item removed"
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
