"""Runs of the SamCart check (SPEC §17): what was compared, what was found, what failed."""

from __future__ import annotations

from django.db import models

from .base import PublisherScopedQuerySet
from .publishers import Publisher


class RunKind(models.TextChoices):
    """Why a run happened and so how far back it looked."""

    REGULAR = "regular", "every 15 minutes"
    DAILY = "daily", "daily 7-day pass"
    FIRST = "first", "first run (3 days)"
    MANUAL = "manual", "by hand"


class RunStatus(models.TextChoices):
    """How a run ended (`running` until it does)."""

    RUNNING = "running", "running"
    OK = "ok", "done"
    BRAKED = "braked", "stopped by the safety brake"
    KEY_REFUSED = "key_refused", "API key refused"
    FAILED = "failed", "failed"


class FindingKind(models.TextChoices):
    """What a run can find (the `kind` of each entry of `SamcartCheckRun.findings`)."""

    MISSING = "missing", "missing"
    CREATED = "created", "missing, order created"
    REFUNDED = "refunded", "refunded in SamCart"
    QUANTITY = "quantity", "quantity differs"


class SamcartCheckRunQuerySet(PublisherScopedQuerySet):
    """Runs, scoped by publisher."""


class SamcartCheckRun(models.Model):
    """One comparison of SamCart's paid orders with the orders TrepStar made for a publisher.

    `findings` is a list of objects: `kind` (FindingKind), `order_id`, `product_id`,
    `item_status`, `quantity` (SamCart's), and `orders` (our order pks) where there are some.
    """

    publisher = models.ForeignKey(
        Publisher, on_delete=models.CASCADE, related_name="samcart_check_runs"
    )
    kind = models.CharField(max_length=10, choices=RunKind.choices)
    status = models.CharField(max_length=12, choices=RunStatus.choices, default=RunStatus.RUNNING)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    pages = models.PositiveIntegerField(default=0)
    orders_seen = models.PositiveIntegerField(default=0)
    lines_seen = models.PositiveIntegerField(default=0)
    lines_counted = models.PositiveIntegerField("lines compared", default=0)
    missing = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField("orders created", default=0)
    findings = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    # When the publisher's needs-action e-mail named the orders this run created (SPEC §14).
    alerted_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = SamcartCheckRunQuerySet.as_manager()

    class Meta:
        verbose_name = "SamCart check run"
        ordering = ["-started_at", "-id"]
        constraints = [
            # Never more than one run per publisher at a time (SPEC §17).
            models.UniqueConstraint(
                fields=["publisher"],
                condition=models.Q(status="running"),
                name="samcart_check_one_running",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=RunStatus.values),
                name="samcart_check_status_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["publisher", "-started_at"], name="samcart_check_recent"),
        ]

    def __str__(self) -> str:
        return f"SamCart check {self.pk} ({self.get_status_display()})"
