"""Automatic retry of `error` notifications on the backoff schedule (SPEC §13).

A failed processing sets `next_attempt_at` and enqueues the retry in the same transaction.
Whoever runs a retry first claims it with one conditional UPDATE that moves `next_attempt_at`
a lease ahead, so a retry runs once however many workers see it due; a worker that dies
mid-retry leaves the lease, which comes due again. After the last try the notification keeps
`error` with no next try, and the needs-action alert tells the publisher.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from fulfillment.models import Notification, Outcome

from .backoff import next_try_at

LEASE = timedelta(minutes=10)  # a claimed retry comes due again if its worker died


def notification_schedule_retry(*, notification_id: int) -> None:
    """After a failed processing: set the next try from the attempts so far, and enqueue it.

    Call inside the transaction that recorded the failure.
    """
    from fulfillment.tasks import notification_retry

    attempts = Notification.objects.filter(pk=notification_id).values_list("attempts", flat=True)
    when = next_try_at(attempts.first() or 0)
    Notification.objects.filter(pk=notification_id).update(next_attempt_at=when)
    if when is not None:
        notification_retry.using(run_after=when).enqueue(notification_id)


def notification_retry_due(*, notification_id: int) -> str:
    """Reprocess the notification if its retry is due and nobody else claimed it."""
    from .notifications import notification_reprocess

    now = timezone.now()
    claimed = Notification.objects.filter(
        pk=notification_id, outcome=Outcome.ERROR, next_attempt_at__lte=now
    ).update(next_attempt_at=now + LEASE)
    if not claimed:
        return "not due"
    notification = Notification.objects.get(pk=notification_id)
    answer = notification_reprocess(notification=notification)
    if answer.status == 409:  # refused (re-mapped product): the publisher decides, no more tries
        with transaction.atomic():
            Notification.objects.filter(pk=notification_id).update(next_attempt_at=None)
    return answer.outcome


def notifications_retry_due() -> int:
    """Run every retry that is due now; return how many ran."""
    due = Notification.objects.filter(
        outcome=Outcome.ERROR, next_attempt_at__lte=timezone.now()
    ).values_list("pk", flat=True)
    return sum(notification_retry_due(notification_id=pk) != "not due" for pk in list(due[:500]))
