"""Notifications: every request SamCart (or anyone) POSTed to a Notify URL, stored first."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import models
from django.db.models import Q
from django.utils import timezone

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
    # Spooled while the database was unreachable (SPEC §4); the replay stores the final outcome.
    QUEUED = "queued", "queued (database unreachable)"


REPROCESSABLE_OUTCOMES = (Outcome.NO_MATCH, Outcome.ERROR)
KEY_REFUSED_STATUS = 403  # a request that failed the Notify URL key check
# A notification stored and never processed (the process died, the request was killed at the
# timeout, the database dropped mid-work) stays `pending`. A person may reprocess it once it is
# STUCK_AFTER old; a worker picks it up by itself once it is PENDING_RETRY_AFTER old (leaving
# time for the replay of a spooled body, which sets `next_attempt_at` ahead), and claims it
# again after each lease while it stays pending, up to PENDING_GIVE_UP: then a person decides.
STUCK_AFTER = timedelta(minutes=1)
PENDING_RETRY_AFTER = timedelta(minutes=5)
PENDING_GIVE_UP = timedelta(hours=16)  # a little over the whole backoff (1 min … 12 h)


class NotificationQuerySet(PublisherScopedQuerySet):
    """Notifications, scoped by publisher."""

    def accepted(self) -> NotificationQuerySet:
        """Return the notifications that passed the key check (the default list)."""
        return self.exclude(http_status=KEY_REFUSED_STATUS)

    def key_refused(self) -> NotificationQuerySet:
        """Return the requests refused for a missing or wrong key."""
        return self.filter(http_status=KEY_REFUSED_STATUS)

    def stuck(self) -> NotificationQuerySet:
        """Return notifications stored over a minute ago and never processed."""
        return self.filter(outcome=Outcome.PENDING, received_at__lt=timezone.now() - STUCK_AFTER)

    def retry_due(self, *, now: datetime) -> NotificationQuerySet:
        """Return the notifications a worker processes again now (SPEC §13).

        An `error` whose next try (or whose claim's lease) has come, and a `pending` one left
        over PENDING_RETRY_AFTER whose lease, if any, has run out.
        """
        failed = Q(outcome=Outcome.ERROR, next_attempt_at__lte=now)
        left = Q(
            outcome=Outcome.PENDING,
            received_at__lt=now - PENDING_RETRY_AFTER,
            received_at__gte=now - PENDING_GIVE_UP,
        ) & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        return self.filter(failed | left)

    def needs_action(self, *, now: datetime | None = None) -> NotificationQuerySet:
        """Return the notifications that need a person: the one definition (SPEC §13–§14).

        `no_match`; an `error` no automatic retry will take again (the last try failed, or a
        retry stopped because the line needs a re-mapping confirmation: `next_attempt_at` is
        cleared whenever retries stop); a `pending` one nobody could process in PENDING_GIVE_UP.
        """
        now = now or timezone.now()
        return self.filter(
            Q(outcome=Outcome.NO_MATCH)
            | Q(outcome=Outcome.ERROR, next_attempt_at__isnull=True)
            | Q(outcome=Outcome.PENDING, received_at__lt=now - PENDING_GIVE_UP)
        )


class Notification(models.Model):
    """The exact request received on the Notify URL and the outcome of processing it."""

    publisher = models.ForeignKey(
        Publisher, on_delete=models.SET_NULL, null=True, blank=True, related_name="notifications"
    )
    # The arrival time, also for a body replayed from the spool (so not `auto_now_add`).
    received_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
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
    next_attempt_at = models.DateTimeField(
        "next try",
        null=True,
        blank=True,
        help_text="When the worker processes this `error` notification again (automatic retry).",
    )
    alerted_at = models.DateTimeField(
        null=True, blank=True, help_text="When the publisher was e-mailed that it needs action."
    )
    # One id per POST, also the name of its spool file: a body replayed twice is stored once.
    spool_id = models.UUIDField(null=True, blank=True, unique=True, editable=False)

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


class RefusedRequestTallyQuerySet(PublisherScopedQuerySet):
    """Tallies of rate-limited requests, scoped by publisher."""


class RefusedRequestTally(models.Model):
    """Requests answered 429 by the key-check rate limit: counted per publisher and hour.

    Such requests are not stored as notifications (SPEC §4): a flood must not fill the table.
    """

    publisher = models.ForeignKey(Publisher, on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField(help_text="Start of the hour counted.")
    count = models.PositiveIntegerField(default=0)
    last_remote_addr = models.GenericIPAddressField(null=True, blank=True)
    last_at = models.DateTimeField()

    objects = RefusedRequestTallyQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["publisher", "hour"], name="refused_tally_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.count} refused at {self.hour:%Y-%m-%d %H:00}"
