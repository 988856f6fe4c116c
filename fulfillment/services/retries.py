"""Automatic retries (SPEC §13): `error` notifications on the backoff, `pending` ones left over.

A failed processing sets `next_attempt_at` and enqueues the retry in the same transaction. A
notification left `pending` (the process died, the request was killed at the timeout, the
database dropped mid-work) is found by the periodic sweep once it is `PENDING_RETRY_AFTER` old.
`Notification.objects.retry_due` is the one definition of "due". Whoever runs a retry first
claims it with one conditional UPDATE that moves `next_attempt_at` a lease ahead, so a retry
runs once however many workers see it due; a worker that dies mid-retry leaves the lease, which
comes due again. Every way retries stop clears `next_attempt_at`, which puts the notification
in `Notification.objects.needs_action` (the alert): the last try failed, or the retry was
refused because the SamCart line needs a person's re-mapping confirmation.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from fulfillment.models import Notification, Outcome

from .backoff import next_try_at

LEASE = timedelta(minutes=10)  # a claimed retry comes due again if its worker died
SWEEP_BATCH = 500  # retries one sweep runs at most; the next sweep takes the rest
RETRY_STOPPED = "Automatic retry stopped, a person must decide: {why}"


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


def notification_claim(*, notification_id: int, now: datetime) -> bool:
    """Claim a due retry for this worker (one conditional UPDATE: a lease); tell if it won."""
    due = Notification.objects.filter(pk=notification_id).retry_due(now=now)
    return bool(due.update(next_attempt_at=now + LEASE))


def notification_claim_stuck(*, notification_id: int, now: datetime) -> bool:
    """Claim a stuck `pending` notification for a person's reprocess, with the same lease as a
    retry, so a person and a worker never process it at once; False while someone holds it."""
    free = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    stuck = Notification.objects.filter(pk=notification_id).stuck().filter(free)
    return bool(stuck.update(next_attempt_at=now + LEASE))


def _stop(*, notification_id: int, why: str) -> None:
    """End automatic retries of a refused notification and leave it to a person."""
    Notification.objects.filter(pk=notification_id).update(
        outcome=Outcome.ERROR,  # a `pending` one too: it was tried and needs a person
        detail=RETRY_STOPPED.format(why=why),
        http_status=409,
        processed_at=timezone.now(),
        next_attempt_at=None,
    )


def notification_retry_due(*, notification_id: int, now: datetime | None = None) -> str:
    """Reprocess the notification if its retry is due and nobody else claimed it."""
    from .notifications import notification_reprocess

    if not notification_claim(notification_id=notification_id, now=now or timezone.now()):
        return "not due"
    notification = Notification.objects.get(pk=notification_id)
    answer = notification_reprocess(notification=notification, claimed=True)
    if answer.status == 409:  # refused (a re-mapped line): the publisher decides, no more tries
        _stop(notification_id=notification_id, why=answer.detail)
        return Outcome.ERROR
    return answer.outcome


def notifications_retry_due(*, now: datetime | None = None) -> int:
    """Run every retry that is due now, `error` and left `pending`; return how many ran."""
    now = now or timezone.now()
    due = Notification.objects.retry_due(now=now).order_by("pk").values_list("pk", flat=True)
    return sum(
        notification_retry_due(notification_id=pk, now=now) != "not due"
        for pk in list(due[:SWEEP_BATCH])
    )
