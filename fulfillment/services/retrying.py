"""Run the automatic retries that are due (SPEC §13): the periodic sweep and its one step.

The runner is apart from `retries` (which schedules and claims) because it reprocesses through
`notifications`, and `notifications` schedules retries: one module each way, no circle.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from fulfillment.models import Notification, Outcome

from .reprocess import notification_reprocess
from .retries import notification_claim

SWEEP_BATCH = 500  # retries one sweep runs at most; the next sweep takes the rest
RETRY_STOPPED = "Automatic retry stopped, a person must decide: {why}"


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
