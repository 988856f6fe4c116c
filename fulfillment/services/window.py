"""The edit window before production (SPEC §15): scheduling its end and ending it.

A paid order of a publisher with `production_delay_minutes` is `scheduled` with its
`production_at`; the task enqueued with it (same transaction) and a catch-up sweep move it to
`in_production` through the one status writer, once: the move locks the order row and checks
it is still scheduled, so a late or restarted worker, or a cancel racing it, never counts twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from fulfillment.models import Order, OrderEventKind, OrderStatus

from .status import order_transition

if TYPE_CHECKING:
    from collections.abc import Iterable

WINDOW_ENDED = "The edit window ended: in production."
SWEEP_BATCH = 500


def window_end(*, charged_at: datetime, delay_minutes: int) -> datetime:
    """Return when the edit window of an order charged at `charged_at` ends."""
    return charged_at + timedelta(minutes=delay_minutes)


def orders_schedule_production(*, orders: Iterable[Order]) -> None:
    """Enqueue the end of the windows of the scheduled `orders` (one task per moment).

    Call in the transaction that scheduled them: the task exists exactly when they do.
    """
    from fulfillment.tasks import start_production

    by_moment: dict[datetime, list[int]] = {}
    for order in orders:
        if order.status == OrderStatus.SCHEDULED and order.production_at is not None:
            by_moment.setdefault(order.production_at, []).append(order.pk)
    for moment, ids in by_moment.items():
        start_production.using(run_after=moment).enqueue(ids)


def due_order_lock(*, order_id: int, now: datetime) -> Order | None:
    """Return the order locked if it is scheduled and due, else None (also when another
    transaction holds it: SKIP LOCKED; the sweep comes back to it)."""
    return (
        Order.objects.select_for_update(of=("self",), no_key=True, skip_locked=True)
        .select_related("project")
        .filter(pk=order_id, status=OrderStatus.SCHEDULED, production_at__lte=now)
        .first()
    )


def _start_one(*, order_id: int, now: datetime) -> bool:
    """Move one due scheduled order to production, if it still is one; tell if it moved."""
    with transaction.atomic():
        locked = due_order_lock(order_id=order_id, now=now)
        if locked is None:  # started, cancelled, not due, or another worker has it now
            return False
        order_transition(
            order=locked,
            target=OrderStatus.IN_PRODUCTION,
            kind=OrderEventKind.PRODUCTION_STARTED,
            actor=None,
            detail=WINDOW_ENDED,
        )
        return True


def orders_start_production(
    *, order_ids: Iterable[int] | None = None, now: datetime | None = None
) -> int:
    """End the windows that are due (of `order_ids`, or all); return how many started."""
    now = now or timezone.now()
    due = Order.objects.filter(status=OrderStatus.SCHEDULED, production_at__lte=now)
    if order_ids is not None:
        due = due.filter(pk__in=list(order_ids))
    ids = list(due.order_by("production_at", "id").values_list("pk", flat=True)[:SWEEP_BATCH])
    return sum(_start_one(order_id=pk, now=now) for pk in ids)
