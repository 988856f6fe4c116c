"""The edit window before production (SPEC §15): when it is open, cancelling in it with the
refund, scheduling its end and ending it.

A paid order of a publisher with `production_delay_minutes` (or a grouping wait, §18) is
`scheduled` with its `production_at`, which commits with the charge. The periodic sweep
(`start_due_production`, every `tasks.SWEEP_EVERY`) moves every due one to `in_production`
through the one status writer, once: the move locks the order row and checks it is still
scheduled, so a late or restarted worker, or a cancel racing it, never counts twice. No task
per order: the order row is the durable record of when its window ends, and a flash sale
writes no task row per box (issue 21: one statement less on the Notify URL's charged path).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_tasks import task

from fulfillment.clock import when
from fulfillment.models import Order, OrderEventKind, OrderStatus, Publisher

from .errors import ERROR_WINDOW_ENDED, NotEditable
from .ledger import box_refund_net, publisher_lock
from .status import order_lock, order_transition
from .wording import money

if TYPE_CHECKING:
    from collections.abc import Iterable

    from django.contrib.auth.models import AbstractBaseUser

WINDOW_ENDED = "The edit window ended: in production."
ERROR_NOT_SCHEDULED = (
    "Order {order} is {status}; only a scheduled order (paid, in its edit window) can be "
    "cancelled with a refund."
)
SWEEP_BATCH = 500  # orders locked per query; a sweep goes on batch after batch until done


def window_end(*, charged_at: datetime, delay_minutes: int) -> datetime:
    """Return when the edit window of an order charged at `charged_at` ends."""
    return charged_at + timedelta(minutes=delay_minutes)


def window_open(*, order: Order, now: datetime | None = None) -> bool:
    """Tell whether `order` is scheduled and its edit window still open: the one rule for
    "may still be edited or cancelled" (SPEC §15). It ends at `production_at`, whether or not
    a worker has moved the order yet."""
    return (
        order.status == OrderStatus.SCHEDULED
        and order.production_at is not None
        and (now or timezone.now()) < order.production_at
    )


def window_open_q(*, now: datetime | None = None) -> Q:
    """The rule of `window_open` as a filter, for lists (the account page)."""
    return Q(status__exact=OrderStatus.SCHEDULED, production_at__gt=now or timezone.now())


def order_editable(*, order: Order, now: datetime | None = None) -> bool:
    """Tell whether a publisher may still change `order`: on hold, or in its edit window."""
    return order.status == OrderStatus.HOLD or window_open(order=order, now=now)


def window_check(*, order: Order, now: datetime | None = None) -> None:
    """Refuse (NotEditable) a change to a scheduled `order` whose window has ended."""
    if order.status == OrderStatus.SCHEDULED and not window_open(order=order, now=now):
        moment = when(order.production_at) if order.production_at else "?"
        raise NotEditable(ERROR_WINDOW_ENDED.format(order=order.pk, moment=moment))


def order_cancel_locked(
    *, publisher: Publisher, order: Order, actor: AbstractBaseUser | None
) -> Order:
    """Cancel a locked box of a locked publisher in its window: `deleted`, and its net charge
    (its charges less its refunds, §18) back with one `refund` entry (§15). Refused unless the
    window is open (`window_open`)."""
    if order.status != OrderStatus.SCHEDULED:
        raise NotEditable(
            ERROR_NOT_SCHEDULED.format(order=order.pk, status=order.get_status_display())
        )
    window_check(order=order)
    net = box_refund_net(
        publisher=publisher, order=order, actor=actor, note=f"Order {order.pk} cancelled"
    )
    who = actor.get_username() if actor is not None else "the system"
    return order_transition(
        order=order,
        target=OrderStatus.DELETED,
        kind=OrderEventKind.CANCELLED,
        actor=actor,
        detail=(
            f"Cancelled by {who}: refunded {money(net)}; balance now {money(publisher.balance)}."
        ),
    )


def order_cancel(*, order: Order, actor: AbstractBaseUser | None) -> Order:
    """Cancel a scheduled order in its window, with its refund (`order_cancel_locked`).

    One transaction, the publisher row then the order row locked (the one lock order): of
    two cancels, or a cancel and the end of the window, the second sees the first's status
    and is refused; the unique refund per order is the database's last word.
    """
    with transaction.atomic():
        publisher = publisher_lock(publisher_id=order.publisher_id)
        locked = order_lock(order_id=order.pk)
        return order_cancel_locked(publisher=publisher, order=locked, actor=actor)


def due_order_lock(*, order_id: int, now: datetime) -> Order | None:
    """Return the order locked if it is scheduled and due, else None (also when another
    transaction holds it: SKIP LOCKED; the sweep comes back to it)."""
    return (
        Order.objects.select_for_update(of=("self",), no_key=True, skip_locked=True)
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
    """End the windows that are due (of `order_ids`, or all); return how many started.

    Batch after batch in id order (each id read once), so a sweep after a flash sale ends
    every due window, not only the first SWEEP_BATCH.
    """
    now = now or timezone.now()
    due = Order.objects.filter(status=OrderStatus.SCHEDULED, production_at__lte=now)
    if order_ids is not None:
        due = due.filter(pk__in=list(order_ids))
    started, after = 0, 0
    while True:
        ids = list(
            due.filter(pk__gt=after).order_by("pk").values_list("pk", flat=True)[:SWEEP_BATCH]
        )
        started += sum(_start_one(order_id=pk, now=now) for pk in ids)
        if len(ids) < SWEEP_BATCH:
            return started
        after = ids[-1]


@task()
def start_production(order_ids: list[int]) -> int:
    """End the edit window of these scheduled orders: the task each scheduled order had before
    the sweep took over (issue 21); kept so that tasks queued before an upgrade still run."""
    return orders_start_production(order_ids=order_ids)
