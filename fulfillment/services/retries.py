"""Automatic retries (SPEC §13): `error` notifications on the backoff, `pending` ones left over.

A failed processing sets `next_attempt_at` in the same transaction, and the periodic sweep runs
the retry when it is due (`retrying`: the runner; this module only schedules and claims). A
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

from fulfillment.models import Notification

from .backoff import next_try_at

LEASE = timedelta(minutes=10)  # a claimed retry comes due again if its worker died


def notification_schedule_retry(*, notification_id: int) -> None:
    """After a failed processing: set the next try from the attempts so far.

    Call inside the transaction that recorded the failure: the next try commits with it, and
    the periodic sweep (`retrying.notifications_retry_due`, every 30 s) runs it when it is due.
    """
    attempts = Notification.objects.filter(pk=notification_id).values_list("attempts", flat=True)
    when = next_try_at(attempts.first() or 0)
    Notification.objects.filter(pk=notification_id).update(next_attempt_at=when)


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
