"""Notifications: every request SamCart (or anyone) POSTed to a Notify URL, stored first."""

from __future__ import annotations

from django.db import models

from .base import PublisherScopedQuerySet
from .publishers import Publisher


class Outcome(models.TextChoices):
    """What was done with a notification (SPEC §3 contract strings)."""

    PENDING = "", "pending"
    CREATED = "created", "orders created"
    DUPLICATE = "duplicate", "duplicate"
    IGNORED = "ignored", "ignored"
    NO_MATCH = "no_match", "no project matched"
    UNKNOWN_PUBLISHER = "unknown_publisher", "unknown publisher"
    REJECTED = "rejected", "rejected"
    ERROR = "error", "error"


REPROCESSABLE_OUTCOMES = (Outcome.NO_MATCH, Outcome.ERROR)


class NotificationQuerySet(PublisherScopedQuerySet):
    """Notifications, scoped by publisher."""


class Notification(models.Model):
    """The exact request received on the Notify URL and the outcome of processing it."""

    publisher = models.ForeignKey(
        Publisher, on_delete=models.SET_NULL, null=True, blank=True, related_name="notifications"
    )
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    content_type = models.CharField(max_length=200, blank=True)
    raw_body = models.BinaryField()
    body_size = models.PositiveIntegerField(default=0, help_text="Bytes received.")
    body_truncated = models.BooleanField(default=False)
    idpub_given = models.CharField("publisher ID given", max_length=64, blank=True)
    is_test = models.BooleanField(default=False)
    event_type = models.CharField(max_length=64, blank=True, db_index=True)
    external_order_id = models.CharField("SamCart order ID", max_length=64, blank=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, blank=True, db_index=True)
    detail = models.TextField(blank=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["publisher", "-received_at"], name="notification_recent"),
            models.Index(fields=["publisher", "external_order_id"], name="notification_order"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(outcome__in=Outcome.values), name="notification_outcome_valid"
            ),
        ]

    def __str__(self) -> str:
        kind = self.event_type or "request"
        return f"Notification {self.pk}: {kind} ({self.get_outcome_display()})"
