"""Charging one hold box, by the one cost formula and the one payment rule (SPEC §7, §18)."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import TYPE_CHECKING

from django.utils import timezone

from fulfillment.models import CENT, ZERO, LedgerKind, Order, OrderLine, OrderStatus, Publisher

from .ledger import ledger_record
from .status import charged_status, order_address, order_transition
from .window import window_end
from .wording import charged_detail

if TYPE_CHECKING:
    from collections.abc import Iterable

    from django.contrib.auth.models import AbstractBaseUser


def box_wait_minutes(*, publisher: Publisher) -> int:
    """Return how long a paid box waits `scheduled` before production (SPEC §15, §18): the
    longer of the edit window and the grouping minutes."""
    return max(publisher.production_delay_minutes, publisher.grouping_minutes)


def box_cost(lines: Iterable[OrderLine]) -> Decimal:
    """Return a box's cost by the one formula (SPEC §18): Σ unit_cost × quantity over its
    lines, plus one shipping, the highest `shipping_cost` among them (zero for no line)."""
    lines = list(lines)
    if not lines:
        return ZERO
    items = sum((line_cost(line) for line in lines), ZERO)
    return (items + max(line.shipping_cost for line in lines)).quantize(CENT)


def line_cost(line: OrderLine) -> Decimal:
    """Return what a line's copies cost, shipping apart (`OrderLine.cost`)."""
    return line.cost


def line_price(line: OrderLine) -> bool:
    """Price `line` at its project's prices now; tell whether they moved."""
    unit, shipping = line.project.unit_cost, line.project.shipping_cost
    moved = (line.unit_cost, line.shipping_cost) != (unit, shipping)
    line.unit_cost, line.shipping_cost = unit, shipping
    return moved


def order_compute_cost(*, order: Order, lines: list[OrderLine] | None = None) -> Decimal:
    """Return what the box would cost with its lines (`lines`, else its active ones) priced at
    their projects' prices now, by `box_cost`; the lines are left as they are (`box_reprice`
    prices and saves them)."""
    priced = [copy.copy(line) for line in (order.active_lines() if lines is None else lines)]
    for line in priced:
        line_price(line)
    return box_cost(priced)


def box_reprice(*, order: Order, lines: list[OrderLine] | None = None) -> Decimal:
    """Price a locked box's active lines at their projects' prices now, save the lines whose
    prices moved and return the box cost (the caller saves `order.cost`)."""
    lines = order.active_lines() if lines is None else lines
    moved = [line for line in lines if line_price(line)]
    if moved:
        OrderLine.objects.bulk_update(moved, ["unit_cost", "shipping_cost"])
    return box_cost(lines)


def order_address_complete(*, order: Order) -> bool:
    """Tell whether the order's address is complete, by the one rule (`Address.is_complete`)."""
    return order_address(order=order).is_complete()


def can_pay(*, balance: Decimal, cost: Decimal) -> bool:
    """Tell whether `balance` pays `cost`; a zero balance never does (SPEC §7)."""
    return balance > ZERO and balance >= cost


def order_charge_locked(
    *, publisher: Publisher, order: Order, actor: AbstractBaseUser | None, kind: str
) -> None:
    """Charge a locked hold box from a locked publisher, at its lines' prices now: to
    production, or scheduled while it waits (`box_wait_minutes`; its end is enqueued in the
    same transaction)."""
    cost = box_reprice(order=order)
    order.cost = cost
    ledger_record(
        publisher_id=publisher.pk,
        amount=-cost,
        kind=LedgerKind.CHARGE,
        actor=actor,
        order=order,
        note=f"Order {order.pk}",
    )
    publisher.balance -= cost
    order.charged_at = timezone.now()
    delay = box_wait_minutes(publisher=publisher)
    target = charged_status(delay_minutes=delay)
    if target == OrderStatus.SCHEDULED:
        order.production_at = window_end(charged_at=order.charged_at, delay_minutes=delay)
    order_transition(
        order=order,
        target=target,
        kind=kind,
        actor=actor,
        detail=charged_detail(order=order, balance=publisher.balance),
        extra_fields=("cost", "charged_at", "production_at"),
    )
