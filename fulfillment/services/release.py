"""The release queue (SPEC §7): charge chosen hold orders oldest first; keep the rest with why.

Also where hold orders follow their project's prices (`hold_orders_refresh`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db import transaction

from fulfillment.models import (
    ZERO,
    HoldReason,
    Order,
    OrderEvent,
    OrderEventKind,
    OrderLine,
    OrderStatus,
    Publisher,
)

from .charge import box_reprice, can_pay, order_charge_locked, order_compute_cost
from .ledger import publisher_lock
from .status import order_hold_reason, order_sync_hold_reason
from .wording import COST_CHANGED, KEPT_FOR_REASON, money, order_numbers, plural

if TYPE_CHECKING:
    from collections.abc import Iterable

    from django.contrib.auth.models import AbstractBaseUser


@dataclass
class ReleaseResult:
    """What a release did, with a message for the person who asked."""

    released: list[Order] = field(default_factory=list)
    kept: list[tuple[Order, str]] = field(default_factory=list)
    balance_before: Decimal = ZERO
    balance: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        """Return what the release charged."""
        return sum((o.cost for o in self.released), ZERO)

    @property
    def message(self) -> str:
        """Say what was released, the balance before and after, and why the rest stays."""
        if self.released:
            parts = [
                f"Released {plural(len(self.released), 'order')} ({money(self.total)}): "
                f"{order_numbers(self.released)}; balance {money(self.balance_before)} → "
                f"{money(self.balance)}."
            ]
        else:
            parts = [f"Released no order; balance {money(self.balance)}."]
        if self.kept:
            reasons = "; ".join(f"order #{o.pk} {why}" for o, why in self.kept)
            parts.append(f"{plural(len(self.kept), 'order')} still on hold: {reasons}.")
        return " ".join(parts)


def release_refusal(*, order: Order, balance: Decimal, reviewed: bool = False) -> str | None:
    """Return why `order` cannot be charged now, or None when it can.

    The hold reason's precedence is `order_hold_reason`'s (the one rule); only the money is
    judged here, by `can_pay`. `reviewed`: a person chose this order, which confirms an order
    on hold `review`.
    """
    if order.status != OrderStatus.HOLD:
        return f"is {order.get_status_display()}"
    if order.is_test:
        return "is a test order and is never produced"
    reason = order_hold_reason(order=order, reviewed=reviewed)
    if reason != HoldReason.PAYMENT_REQUIRED:
        return KEPT_FOR_REASON.get(reason, f"is on hold ({HoldReason(reason).label})")
    cost = order_compute_cost(order=order)
    if not can_pay(balance=balance, cost=cost):
        if cost <= balance:  # only a zero balance refuses an order it covers
            return f"needs money: a zero balance pays no order (costs {money(cost)})"
        return f"needs {money(cost - balance)} more (costs {money(cost)})"
    return None


def orders_release(
    *,
    publisher: Publisher,
    order_ids: Iterable[int],
    actor: AbstractBaseUser | None,
    reviewed: bool = False,
) -> ReleaseResult:
    """Charge the chosen hold orders by the one queue rule, `QUEUE_RULE` (SPEC §7).

    Oldest first, each order the balance covers is charged; one it does not cover stays on
    hold with its shortfall and the release goes on to the next. The same rule whether one
    order, a selection, *release all* or a deposit's auto-release asks, and the same as on
    arrival, where a new order is charged when the balance covers it.

    `reviewed`: a person chose these very orders (or a late Notify POST confirmed them), which
    confirms orders on hold `review` (§17); *release all* and auto-release leave those alone.
    """
    with transaction.atomic():
        locked = publisher_lock(publisher_id=publisher.pk)
        orders = list(
            Order.objects.select_for_update(of=("self",), no_key=True)
            .with_lines()
            .filter(publisher=locked, pk__in=list(order_ids))
            .order_by("created_at", "id")
        )
        result = ReleaseResult(balance_before=locked.balance)
        for order in orders:
            reason = release_refusal(order=order, balance=locked.balance, reviewed=reviewed)
            if reason is None:
                order_charge_locked(
                    publisher=locked, order=order, actor=actor, kind=OrderEventKind.RELEASED
                )
                result.released.append(order)
                continue
            order_sync_hold_reason(order=order, actor=actor, reviewed=reviewed)
            result.kept.append((order, reason))
        result.balance = locked.balance
    publisher.balance = result.balance
    return result


def hold_orders_refresh(
    *, publisher_id: int, project_id: int | None = None, actor: AbstractBaseUser | None
) -> int:
    """Bring the cost and hold reason of hold orders in step with their project; count changes.

    Call inside the caller's transaction, after it saved new prices or confirmed them (SPEC §7:
    the cost of a hold order follows its project's prices). Locks the publisher row, then the
    hold orders oldest first, the one lock order. Each change writes an order event.
    """
    with transaction.atomic(savepoint=False):
        publisher_lock(publisher_id=publisher_id)
        orders = (
            Order.objects.select_for_update(of=("self",), no_key=True)
            .with_lines()
            .filter(publisher_id=publisher_id, status=OrderStatus.HOLD)
            .order_by("created_at", "id")
        )
        if project_id is not None:
            boxes = OrderLine.objects.filter(project_id=project_id, removed_at__isnull=True)
            orders = orders.filter(pk__in=boxes.values("order_id"))
        changed = 0
        for order in orders:
            cost_moved = _refresh_cost(order=order, actor=actor)
            reason_moved = order_sync_hold_reason(order=order, actor=actor)
            changed += cost_moved or reason_moved
    return changed


def _refresh_cost(*, order: Order, actor: AbstractBaseUser | None) -> bool:
    """Recompute a locked hold box's cost from its lines' projects; write an event when it
    moved."""
    cost = box_reprice(order=order)
    if cost == order.cost:
        return False
    was, order.cost = order.cost, cost
    order.save(update_fields=["cost", "updated_at"])
    OrderEvent.objects.create(
        order=order,
        kind=OrderEventKind.EDITED,
        actor=actor,
        detail=COST_CHANGED.format(cost=money(cost), was=money(was)),
    )
    return True


def orders_release_all(*, publisher: Publisher, actor: AbstractBaseUser | None) -> ReleaseResult:
    """Release every hold order of `publisher` (the account page's *release all*)."""
    ids = Order.objects.for_publisher(publisher).on_hold().values_list("pk", flat=True)
    return orders_release(publisher=publisher, order_ids=list(ids), actor=actor)


@dataclass
class ReleasePreview:
    """What a release would do now, charging nothing: the boxes it would charge with their
    costs, the total, the balance after, and the boxes that would stay on hold with why."""

    charge: list[tuple[Order, Decimal]] = field(default_factory=list)
    kept: list[tuple[Order, str]] = field(default_factory=list)
    balance: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        """Return what the release would charge."""
        return sum((cost for _order, cost in self.charge), ZERO)

    @property
    def balance_after(self) -> Decimal:
        """Return the balance once the release charged `total`."""
        return self.balance - self.total


def orders_release_preview(
    *, publisher: Publisher, order_ids: Iterable[int] | None = None, reviewed: bool = False
) -> ReleasePreview:
    """Say what `orders_release` would do now with `order_ids` (None: every hold order of
    the publisher, as *release all*), by the same queue rule (`release_refusal`), without
    locking or charging anything: the page that asks before a release shows it."""
    orders = Order.objects.with_lines().filter(publisher_id=publisher.pk)
    if order_ids is None:
        orders = orders.filter(status=OrderStatus.HOLD)
    else:
        orders = orders.filter(pk__in=list(order_ids))
    balance = Publisher.objects.values_list("balance", flat=True).get(pk=publisher.pk)
    preview = ReleasePreview(balance=balance)
    for order in orders.order_by("created_at", "id"):
        reason = release_refusal(order=order, balance=balance, reviewed=reviewed)
        if reason is None:
            cost = order_compute_cost(order=order)
            preview.charge.append((order, cost))
            balance -= cost
        else:
            preview.kept.append((order, reason))
    return preview
