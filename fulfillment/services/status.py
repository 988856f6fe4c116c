"""The one place where an order's status changes (SPEC §7): a table and one function."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fulfillment.models import HoldReason, Order, OrderEvent, OrderEventKind, OrderStatus

from .errors import ERROR_TRANSITION, TransitionError

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

S = OrderStatus
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    S.HOLD: frozenset({S.HOLD, S.IN_PRODUCTION, S.DELETED}),  # hold → hold: the reason changed
    S.IN_PRODUCTION: frozenset({S.SHIPPED}),
    S.SHIPPED: frozenset(),
    S.DELETED: frozenset(),
}


def order_lock(*, order_id: int) -> Order:
    """Return the order row locked for update (the caller owns the transaction)."""
    return Order.objects.select_for_update(of=("self",)).select_related("project").get(pk=order_id)


def order_transition(
    *,
    order: Order,
    target: str,
    kind: str,
    actor: AbstractBaseUser | None,
    detail: str = "",
    hold_reason: str = HoldReason.NONE,
    extra_fields: tuple[str, ...] = (),
) -> Order:
    """Move a locked `order` to `target`, checking the table, and record an OrderEvent.

    The caller locks the row first (`order_lock`) inside its transaction, so the status
    checked here is the one in the database.
    """
    if target == S.HOLD and not hold_reason:
        raise TransitionError(f"Order {order.pk} cannot be on hold without a reason.")
    if target not in ALLOWED_TRANSITIONS.get(order.status, frozenset()):
        raise TransitionError(
            ERROR_TRANSITION.format(
                order=order.pk, current=order.get_status_display(), target=S(target).label
            )
        )
    order.status = target
    order.hold_reason = hold_reason if target == S.HOLD else HoldReason.NONE
    order.save(update_fields=["status", "hold_reason", "updated_at", *extra_fields])
    OrderEvent.objects.create(order=order, kind=kind, actor=actor, detail=detail)
    return order


def new_order_events(orders: list[Order], details: dict[int, list[tuple[str, str]]]) -> None:
    """Record the events of freshly inserted orders in one statement (creation, not a change)."""
    OrderEvent.objects.bulk_create(
        OrderEvent(order=order, kind=kind, actor=None, detail=detail)
        for order in orders
        for kind, detail in details.get(order.pk, [(OrderEventKind.CREATED, "")])
    )
