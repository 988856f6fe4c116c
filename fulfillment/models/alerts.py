"""E-mail alerts (SPEC §14) and the periodic job slots of the task engine (SPEC §13)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from .base import PublisherScopedQuerySet
from .publishers import Publisher


class AlertKind(models.TextChoices):
    HOLD_ORDERS = "hold_orders", "orders on hold"
    NEEDS_ACTION = "needs_action", "notifications that need action"
    LOW_BALANCE = "low_balance", "low balance"
    SHIPPED_DAILY = "shipped_daily", "orders shipped (daily)"
    BUYER_SHIPPED = "buyer_shipped", "shipping e-mail to a buyer"


class AlertQuerySet(PublisherScopedQuerySet):
    """Alerts, scoped by publisher."""

    def due(self) -> AlertQuerySet:
        """Return the alerts not sent yet whose (next) try is due."""
        return self.filter(
            sent_at__isnull=True, failed_at__isnull=True, next_try_at__lte=timezone.now()
        )


class Alert(models.Model):
    """One e-mail to a publisher, written once per cause and sent by a worker (an outbox row).

    The unique (publisher, kind, cause) is what makes an alert go out at most once per cause,
    however many scans or workers see it; `sent_at` is set in the transaction that sent it,
    `failed_at` in the one whose try was the last of the backoff schedule.
    """

    publisher = models.ForeignKey(Publisher, on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=20, choices=AlertKind.choices)
    cause = models.CharField(max_length=200, help_text="What this alert is about, once.")
    recipients = models.TextField(help_text="The addresses it goes to, comma-separated.")
    # A buyer's shipping e-mail goes out in the publisher's name, answers going to its address.
    from_name = models.CharField(max_length=200, blank=True)
    reply_to = models.EmailField(blank=True)
    subject = models.CharField(max_length=255)
    body_text = models.TextField()
    body_html = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    attempts = models.PositiveIntegerField(default=0)
    next_try_at = models.DateTimeField(default=timezone.now, db_index=True)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(
        null=True, blank=True, help_text="Set when the last try failed: never tried again."
    )

    objects = AlertQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["publisher", "kind", "cause"], name="alert_once_per_cause"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.publisher_id}: {self.subject}"


class PeriodicRun(models.Model):
    """One run of a periodic job for one time slot: the first worker to insert it enqueues it."""

    job = models.CharField(max_length=100)
    slot = models.DateTimeField(help_text="Start of the slot this run covers.")
    enqueued_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "slot"], name="periodic_run_once_per_slot"),
        ]

    def __str__(self) -> str:
        return f"{self.job} @ {self.slot:%Y-%m-%d %H:%M}"
