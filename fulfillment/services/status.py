"""The one place where an order's status changes (SPEC §7): a table and one function."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fulfillment.carts.base import Address
from fulfillment.models import (
    HoldReason,
    Order,
    OrderEvent,
    OrderEventKind,
    OrderLine,
    OrderStatus,
)

from .deferred import insert_deferred
from .errors import ERROR_TRANSITION, TransitionError

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

S = OrderStatus
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    # hold → hold: the reason changed; → scheduled: paid with an edit window (§15).
    S.HOLD: frozenset({S.HOLD, S.SCHEDULED, S.IN_PRODUCTION, S.DELETED}),
    # The window ends (→ in production) or the publisher cancels it with the money back; a
    # line joins that the balance cannot pay: refunded whole and on hold again (§18).
    S.SCHEDULED: frozenset({S.IN_PRODUCTION, S.DELETED, S.HOLD}),
    S.IN_PRODUCTION: frozenset({S.SHIPPED}),
    S.SHIPPED: frozenset(),
    S.DELETED: frozenset(),
}
# The statuses a new order may start in: held, or charged (then scheduled or in production).
INITIAL_STATUSES = frozenset({S.HOLD, S.SCHEDULED, S.IN_PRODUCTION})
# The statuses of a charged order that is not refunded.
CHARGED_STATUSES = frozenset({S.SCHEDULED, S.IN_PRODUCTION, S.SHIPPED})


def charged_status(*, delay_minutes: int) -> str:
    """Return where a paid order goes: `scheduled` with an edit window, else production."""
    return S.SCHEDULED if delay_minutes > 0 else S.IN_PRODUCTION


def order_address(*, order: Order) -> Address:
    """Return the order's shipping address in the one shape that judges completeness."""
    return Address(
        street=order.ship_street,
        city=order.ship_city,
        state=order.ship_state,
        postal_code=order.ship_postal_code,
        country=order.ship_country,
        country_code=order.ship_country_code,
    )


def order_hold_reason(
    *, order: Order, reviewed: bool = False, lines: list[OrderLine] | None = None
) -> str:
    """Return why the box `order` must wait on hold before money is even considered (the one
    rule).

    `review` while an order the SamCart check found (§17) waits for a person (`reviewed`
    says one released it now, or a late Notify POST confirmed it); else `price_pending` while
    TrepStar has not confirmed the prices of a project of its lines (`lines`, else its active
    ones), else `address_incomplete` while the address lacks a part, else `payment_required`.
    """
    if order.hold_reason == HoldReason.REVIEW and not reviewed:
        return HoldReason.REVIEW
    lines = order.active_lines() if lines is None else lines
    if not all(line.project.prices_confirmed for line in lines):
        return HoldReason.PRICE_PENDING
    if not order_address(order=order).is_complete():
        return HoldReason.ADDRESS_INCOMPLETE
    return HoldReason.PAYMENT_REQUIRED


TEST_HOLD_LABEL = "test order: never charged"


def hold_reason_label(order: Order) -> str:
    """Say why an order waits on hold, for people: the reason's label, except that a test
    order, never charged, never reads "payment required" (it is then just a test order)."""
    if order.is_test and order.hold_reason == HoldReason.PAYMENT_REQUIRED:
        return TEST_HOLD_LABEL
    return HoldReason(order.hold_reason).label if order.hold_reason else ""


def order_initial_status(
    *, order: Order, lines: list[OrderLine], covered: bool, delay_minutes: int = 0
) -> str:
    """Set the first status of a new, unsaved order and return it (SPEC §6–§7, §15).

    `covered` tells whether the balance pays the order's cost. A new order is charged only
    when its prices are confirmed, its address is complete, it is not a test and it is paid,
    and goes to production, or to `scheduled` when the publisher has an edit window
    (`delay_minutes`); otherwise it holds with the reason of `order_hold_reason`.
    """
    reason = order_hold_reason(order=order, lines=lines)
    charge = reason == HoldReason.PAYMENT_REQUIRED and covered and not order.is_test
    target = charged_status(delay_minutes=delay_minutes) if charge else S.HOLD
    if target not in INITIAL_STATUSES or not order._state.adding:  # saved: not new
        raise TransitionError(f"Order {order.pk} is not new: it cannot start in {target}.")
    order.status = target
    order.hold_reason = HoldReason.NONE if charge else reason
    return target


def order_lock(*, order_id: int) -> Order:
    """Return the order row locked for update (the caller owns the transaction)."""
    return Order.objects.select_for_update(of=("self",), no_key=True).with_lines().get(pk=order_id)


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


def order_sync_hold_reason(
    *, order: Order, actor: AbstractBaseUser | None, why: str = "", reviewed: bool = False
) -> bool:
    """Move a locked hold order to the reason the rule gives now, with an event; tell if it did.

    `why` ends the event's detail (what changed the reason), when the caller knows it;
    `reviewed`: a person (or a late Notify POST) confirmed an order on hold `review`.
    """
    if order.status != S.HOLD:
        return False
    reason = order_hold_reason(order=order, reviewed=reviewed)
    if reason == order.hold_reason:
        return False
    before = hold_reason_label(order) or "none"
    order.hold_reason = reason  # saved by order_transition below
    detail = f"Hold reason now {hold_reason_label(order)} (was {before})."
    order_transition(
        order=order,
        target=S.HOLD,
        kind=OrderEventKind.EDITED,
        actor=actor,
        detail=f"{detail} {why}".strip(),
        hold_reason=reason,
    )
    return True


def new_order_events(orders: list[Order], details: dict[int, list[tuple[str, str]]]) -> None:
    """Record the events of freshly inserted orders in one statement (creation, not a change);
    in a Notify pass, sent with the notification's outcome (`deferred`)."""
    insert_deferred(
        OrderEvent,
        (
            OrderEvent(order=order, kind=kind, actor=None, detail=detail)
            for order in orders
            for kind, detail in details.get(order.pk, [(OrderEventKind.CREATED, "")])
        ),
    )
