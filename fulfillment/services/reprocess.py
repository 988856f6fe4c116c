"""Reprocessing stored notifications by hand or by a retry, and purging refused ones (§4, §8).

Processing itself is `notifications.notification_process`; this module decides whether a stored
notification may be processed again, claims a stuck one, and asks for the re-mapping
confirmation through `Remapped`.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from fulfillment.models import REPROCESSABLE_OUTCOMES, Notification, Outcome
from fulfillment.models.notifications import STUCK_AFTER

from .intake import Remapped
from .notifications import NotifyAnswer, notification_process
from .retries import notification_claim_stuck

DETAIL_NOT_REPROCESSABLE = "This notification cannot be reprocessed: {why}."
WHY_BEING_PROCESSED = "it is being processed now (it is stuck only after a minute)"
WHY_BEING_RETRIED = "it is being retried now; look again in a few minutes"


def notification_is_stuck(*, notification: Notification) -> bool:
    """Tell whether it was stored over a minute ago and never processed (the process died)."""
    return (
        notification.outcome == Outcome.PENDING
        and notification.received_at < timezone.now() - STUCK_AFTER
    )


def notification_publisher_may_reprocess(*, notification: Notification) -> bool:
    """Tell whether its publisher (not only staff) may reprocess it: no_match, error, stuck."""
    return notification.outcome in REPROCESSABLE_OUTCOMES or notification_is_stuck(
        notification=notification
    )


def reprocess_refusal(*, notification: Notification) -> str:
    """Return why `notification` cannot be reprocessed, or "" when it can.

    A stored notification is never stranded: one left without an outcome is reprocessable once
    it is stuck (a minute after it arrived); before that its first processing may still run.
    """
    if notification.publisher_id is None:
        return "it names no known publisher"
    if notification.body_truncated:
        return "its body was cut at the size limit"
    if notification.http_status == 403:
        return "its Notify URL key was wrong"
    if notification.outcome == Outcome.PENDING and not notification_is_stuck(
        notification=notification
    ):
        return WHY_BEING_PROCESSED
    return ""


def notification_reprocess(
    *, notification: Notification, allow_remapped: bool = False, claimed: bool = False
) -> NotifyAnswer:
    """Process a stored notification again; exactly-once makes this safe to repeat.

    Refused (409, nothing created, the notification unchanged) when a SamCart line it names is
    done but now matches a project without an order (the product was re-mapped), unless
    `allow_remapped`: the person confirms that the purchase is to be printed and charged there.
    A `pending` one is claimed first (a worker's retry passes `claimed`, having done so).
    """
    why = reprocess_refusal(notification=notification)
    if not why and notification.outcome == Outcome.PENDING and not claimed:
        now = timezone.now()
        if not notification_claim_stuck(notification_id=notification.pk, now=now):
            why = WHY_BEING_RETRIED
    if why:
        return NotifyAnswer(
            409, notification.outcome, DETAIL_NOT_REPROCESSABLE.format(why=why), notification.pk
        )
    remapped = Remapped.CREATE if allow_remapped else Remapped.REFUSE
    return notification_process(notification=notification, remapped=remapped)


PURGEABLE_OUTCOMES = (Outcome.REJECTED, Outcome.UNKNOWN_PUBLISHER)


def notifications_purge(*, older_than_days: int = 30, dry_run: bool = False) -> int:
    """Delete rejected notifications older than the given days; return how many (SPEC §4)."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    doomed = Notification.objects.filter(outcome__in=PURGEABLE_OUTCOMES, received_at__lt=cutoff)
    if dry_run:
        return doomed.count()
    deleted, _ = doomed.delete()
    return deleted
