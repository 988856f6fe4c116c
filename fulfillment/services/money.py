"""Money (SPEC §7): the ledger, charging, release, deposits and adjustments.

Lock order everywhere: the publisher row first, then order rows. The balance is changed only
by `ledger_record`, in the same transaction as the ledger entry, so balance == sum(ledger).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Round
from django.utils import timezone

from fulfillment.models import (
    ZERO,
    LedgerEntry,
    LedgerKind,
    Order,
    OrderEvent,
    OrderEventKind,
    OrderStatus,
    Publisher,
)

from .errors import ServiceError
from .status import order_address, order_sync_hold_reason, order_transition

if TYPE_CHECKING:
    from collections.abc import Iterable

    from django.contrib.auth.models import AbstractBaseUser

ERROR_NEGATIVE_BALANCE = "That would make the balance negative ({balance} − {amount})."
ERROR_DEPOSIT_NOT_POSITIVE = "A deposit must be more than zero."
ERROR_ADJUSTMENT_ZERO = "An adjustment cannot be zero."
ERROR_NOT_CENTS = "An amount is dollars and cents: at most two decimal places ({amount})."
NEEDS = "needs"  # starts the reason of the order a release stops at
CENT = Decimal("0.01")
KEPT_PRICE_PENDING = "its price is not confirmed by TrepStar yet"
COST_CHANGED = "Cost now {cost} (was {was}): the project's prices changed."


def money(amount: Decimal) -> str:
    """Format an amount for people: $1,234.50."""
    sign = "−" if amount < 0 else ""
    return f"{sign}${abs(amount):,.2f}"


def publisher_lock(*, publisher_id: int) -> Publisher:
    """Return the publisher row locked: the lock that serialises its money.

    FOR NO KEY UPDATE, not FOR UPDATE: it still excludes every other money writer, but not the
    foreign-key check of a row that points at the publisher, so storing a Notification (store
    first, SPEC §4) never waits for a release or a deposit.
    """
    return Publisher.objects.select_for_update(no_key=True).get(pk=publisher_id)


def order_compute_cost(*, order: Order) -> Decimal:
    """Return the order's cost by the one formula, `Project.cost_of` (SPEC §7)."""
    return order.project.cost_of(order.quantity)


def order_address_complete(*, order: Order) -> bool:
    """Tell whether the order's address is complete, by the one rule (`Address.is_complete`)."""
    return order_address(order=order).is_complete()


def can_pay(*, balance: Decimal, cost: Decimal) -> bool:
    """Tell whether `balance` pays `cost`; a zero balance never does (SPEC §7)."""
    return balance > ZERO and balance >= cost


def ledger_record_many(*, publisher_id: int, entries: list[LedgerEntry]) -> list[LedgerEntry]:
    """Write ledger entries of one publisher and move its balance by their sum, atomically.

    This is the only code that changes `Publisher.balance`.
    """
    # No savepoint: inside a caller's transaction both statements stand or fall with it.
    with transaction.atomic(savepoint=False):
        created = LedgerEntry.objects.bulk_create(entries)
        total = sum((entry.amount for entry in entries), ZERO)
        # Round: SQLite adds decimals as floats, so $0.30 − $0.10 − $0.20 would end a hair
        # below zero and trip the CHECK; on PostgreSQL's numeric it changes nothing.
        Publisher.objects.filter(pk=publisher_id).update(
            balance=Round(F("balance") + total, precision=2)
        )
    return created


def ledger_record(
    *,
    publisher_id: int,
    amount: Decimal,
    kind: str,
    actor: AbstractBaseUser | None = None,
    order: Order | None = None,
    note: str = "",
) -> LedgerEntry:
    """Write one ledger entry and move the balance by the same amount, in one transaction."""
    entry = LedgerEntry(
        publisher_id=publisher_id,
        amount=amount,
        kind=kind,
        order=order,
        created_by=actor,
        note=note,
    )
    return ledger_record_many(publisher_id=publisher_id, entries=[entry])[0]


def order_charge_locked(
    *, publisher: Publisher, order: Order, actor: AbstractBaseUser | None, kind: str
) -> None:
    """Charge a locked hold order from a locked publisher and send it to production."""
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
    order_transition(
        order=order,
        target=OrderStatus.IN_PRODUCTION,
        kind=kind,
        actor=actor,
        detail=f"Charged {money(cost)}; balance now {money(publisher.balance)}.",
        extra_fields=("cost", "charged_at"),
    )


@dataclass
class ReleaseResult:
    """What a release did, with a message for the person who asked."""

    released: list[Order] = field(default_factory=list)
    kept: list[tuple[Order, str]] = field(default_factory=list)
    balance: Decimal = ZERO

    @property
    def message(self) -> str:
        """Say what was released and why the rest stays on hold."""
        total = sum((o.cost for o in self.released), ZERO)
        parts = [
            f"Released {len(self.released)} order{'s' if len(self.released) != 1 else ''}"
            f" ({money(total)}); balance now {money(self.balance)}."
        ]
        if self.kept:
            reasons = "; ".join(f"order {o.pk} {why}" for o, why in self.kept)
            parts.append(f"{len(self.kept)} not released: {reasons}.")
        return " ".join(parts)


def _release_reason(*, order: Order, balance: Decimal, blocker: Order | None) -> str | None:
    """Return why `order` cannot be charged now, or None when it can.

    `blocker` is the older selected order the balance fell short of: younger ones wait behind it.
    """
    if order.status != OrderStatus.HOLD:
        return f"is {order.get_status_display()}"
    if order.is_test:
        return "is a test order and is never produced"
    if not order.project.prices_confirmed:
        return KEPT_PRICE_PENDING
    if not order_address_complete(order=order):
        return "has an incomplete shipping address"
    cost = order_compute_cost(order=order)
    if not can_pay(balance=balance, cost=cost):
        if cost <= balance:  # only a zero balance refuses an order it covers
            return f"{NEEDS} money: a zero balance pays no order (costs {money(cost)})"
        return f"{NEEDS} {money(cost - balance)} more (costs {money(cost)})"
    if blocker is not None:
        return f"waits behind older order {blocker.pk}, which the balance does not cover"
    return None


def orders_release(
    *, publisher: Publisher, order_ids: Iterable[int], actor: AbstractBaseUser | None
) -> ReleaseResult:
    """Charge the chosen hold orders oldest first while the balance covers each (SPEC §7).

    Once the balance falls short, younger orders wait too, so they never jump the queue.
    """
    with transaction.atomic():
        locked = publisher_lock(publisher_id=publisher.pk)
        orders = list(
            Order.objects.select_for_update(of=("self",), no_key=True)
            .select_related("project")
            .filter(publisher=locked, pk__in=list(order_ids))
            .order_by("created_at", "id")
        )
        result = ReleaseResult()
        blocker: Order | None = None
        for order in orders:
            reason = _release_reason(order=order, balance=locked.balance, blocker=blocker)
            if reason is None:
                order_charge_locked(
                    publisher=locked, order=order, actor=actor, kind=OrderEventKind.RELEASED
                )
                result.released.append(order)
                continue
            if blocker is None and reason.startswith(NEEDS):
                blocker = order
            order_sync_hold_reason(order=order, actor=actor)
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
            .select_related("project")
            .filter(publisher_id=publisher_id, status=OrderStatus.HOLD)
            .order_by("created_at", "id")
        )
        if project_id is not None:
            orders = orders.filter(project_id=project_id)
        changed = 0
        for order in orders:
            cost_moved = _refresh_cost(order=order, actor=actor)
            reason_moved = order_sync_hold_reason(order=order, actor=actor)
            changed += cost_moved or reason_moved
    return changed


def _refresh_cost(*, order: Order, actor: AbstractBaseUser | None) -> bool:
    """Recompute a locked hold order's cost from its project; write an event when it moved."""
    cost = order_compute_cost(order=order)
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


def _check_cents(amount: Decimal) -> None:
    """Refuse sub-cent amounts: the ledger would round them one way and the balance another."""
    if amount != amount.quantize(CENT):
        raise ServiceError(ERROR_NOT_CENTS.format(amount=amount))


def deposit_record(
    *, publisher: Publisher, amount: Decimal, actor: AbstractBaseUser | None, note: str = ""
) -> tuple[LedgerEntry, ReleaseResult | None]:
    """Record a staff deposit; with `auto_release` on, release hold orders oldest first."""
    _check_cents(amount)
    if amount <= ZERO:
        raise ServiceError(ERROR_DEPOSIT_NOT_POSITIVE)
    with transaction.atomic():
        publisher_lock(publisher_id=publisher.pk)
        entry = ledger_record(
            publisher_id=publisher.pk,
            amount=amount,
            kind=LedgerKind.DEPOSIT,
            actor=actor,
            note=note,
        )
        released = (
            orders_release_all(publisher=publisher, actor=actor) if publisher.auto_release else None
        )
    publisher.refresh_from_db(fields=["balance"])
    return entry, released


def adjustment_record(
    *, publisher: Publisher, amount: Decimal, actor: AbstractBaseUser | None, note: str
) -> LedgerEntry:
    """Record a staff correction of the balance (either sign); it may not go below zero."""
    _check_cents(amount)
    if amount == ZERO:
        raise ServiceError(ERROR_ADJUSTMENT_ZERO)
    try:
        with transaction.atomic():
            locked = publisher_lock(publisher_id=publisher.pk)
            if locked.balance + amount < ZERO:
                raise ServiceError(
                    ERROR_NEGATIVE_BALANCE.format(
                        balance=money(locked.balance), amount=money(-amount)
                    )
                )
            entry = ledger_record(
                publisher_id=publisher.pk,
                amount=amount,
                kind=LedgerKind.ADJUSTMENT,
                actor=actor,
                note=note,
            )
    except IntegrityError as error:  # the CHECK constraint is the last line of defence
        raise ServiceError(str(error)) from error
    publisher.refresh_from_db(fields=["balance"])
    return entry
