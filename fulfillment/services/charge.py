"""Charging one hold order, by the one cost formula and the one payment rule (SPEC §7)."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from django.utils import timezone

from fulfillment.models import ZERO, LedgerKind, Order, OrderStatus, Publisher

from .ledger import ledger_record
from .status import charged_status, order_address, order_transition
from .window import orders_schedule_production, window_end
from .wording import charged_detail

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


def order_compute_cost(*, order: Order) -> Decimal:
    """Return the order's cost by the one formula, `Project.cost_of` (SPEC §7)."""
    return order.project.cost_of(order.quantity)


def order_address_complete(*, order: Order) -> bool:
    """Tell whether the order's address is complete, by the one rule (`Address.is_complete`)."""
    return order_address(order=order).is_complete()


def can_pay(*, balance: Decimal, cost: Decimal) -> bool:
    """Tell whether `balance` pays `cost`; a zero balance never does (SPEC §7)."""
    return balance > ZERO and balance >= cost


def order_charge_locked(
    *, publisher: Publisher, order: Order, actor: AbstractBaseUser | None, kind: str
) -> None:
    """Charge a locked hold order from a locked publisher: to production, or scheduled when
    the publisher has an edit window (its end is enqueued in the same transaction)."""
    cost = order_compute_cost(order=order)
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
    delay = publisher.production_delay_minutes
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
    orders_schedule_production(orders=[order])
