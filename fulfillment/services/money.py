"""Money (SPEC §7): the ledger, charging, release, deposits and adjustments.

Lock order everywhere: the publisher row first, then order rows. The balance is changed only
by `ledger_record_many` and by `publisher_charge_if_still_true` (a new purchase's charges), each
in the same transaction or statement as its ledger entries, so balance == sum(ledger).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db import IntegrityError, connection, transaction
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

from .errors import NotEditable, ServiceError
from .status import (
    charged_status,
    order_address,
    order_lock,
    order_sync_hold_reason,
    order_transition,
)
from .window import orders_schedule_production, window_end

if TYPE_CHECKING:
    from collections.abc import Iterable

    from django.contrib.auth.models import AbstractBaseUser

ERROR_NEGATIVE_BALANCE = "That would make the balance negative ({balance} − {amount})."
ERROR_DEPOSIT_NOT_POSITIVE = "A deposit must be more than zero."
ERROR_ADJUSTMENT_ZERO = "An adjustment cannot be zero."
ERROR_NOT_CENTS = "An amount is dollars and cents: at most two decimal places ({amount})."
CENT = Decimal("0.01")
KEPT_PRICE_PENDING = "waits for TrepStar to confirm its price"
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


def publisher_lock_for_pricing(*, publisher_id: int) -> None:
    """Lock the publisher row before its prices change, and bump its `pricing_version`.

    The UPDATE takes the same row lock as `publisher_lock`; the new version makes a purchase
    that read the old prices fail `publisher_charge_if_still_true` and run again under the lock.
    """
    Publisher.objects.filter(pk=publisher_id).update(pricing_version=F("pricing_version") + 1)


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


CHARGE_IF_STILL_TRUE = """
WITH charged AS (
    UPDATE {publisher} SET balance = balance - %s
    WHERE id = %s AND pricing_version = %s AND balance >= %s{at_most}
    RETURNING id, balance
), entries AS (
    INSERT INTO {ledger} (publisher_id, amount, kind, order_id, note, created_at)
    SELECT charged.id, entry.amount, %s, entry.order_id, entry.note, %s
    FROM charged CROSS JOIN (VALUES {rows}) AS entry (amount, order_id, note)
    RETURNING id, order_id
)
SELECT entries.id, entries.order_id, charged.balance FROM entries CROSS JOIN charged
"""


def publisher_charge_if_still_true(
    *, publisher: Publisher, entries: list[LedgerEntry], held_for_money: bool
) -> Decimal | None:
    """Write `entries` (charges) and take their sum from the balance, if the decisions hold;
    return the balance the charge left (None: nothing written).

    Compare-and-set for decisions made on `publisher` as read, without a lock: nothing is
    written, and None returned, unless the row still has the same `pricing_version` (no
    price changed), a balance that pays the charges and, when `held_for_money` (an order
    waits because the balance did not cover it), a balance no larger than was read (a deposit
    might pay it). Other charges in between do not matter while the money lasts, so the
    balance returned is the row's own after this charge (`RETURNING`), never the one read.
    Either way the row stays locked until the caller's transaction ends, so no deposit or
    release slips in before the commit. With no entries it only checks and locks. On
    PostgreSQL the charge and its ledger rows are one statement.
    """
    total = sum((-entry.amount for entry in entries), ZERO)
    rows = Publisher.objects.filter(
        pk=publisher.pk, pricing_version=publisher.pricing_version, balance__gte=total
    )
    if held_for_money:
        rows = rows.filter(balance__lte=publisher.balance)
    if not entries:
        return rows.select_for_update(no_key=True).values_list("balance", flat=True).first()
    if connection.vendor != "postgresql":  # no UPDATE inside WITH: two statements
        if not rows.update(balance=Round(F("balance") - total, precision=2)):
            return None
        LedgerEntry.objects.bulk_create(entries)
        # SQLite: this transaction wrote, so no other writer commits before it ends.
        return Publisher.objects.values_list("balance", flat=True).get(pk=publisher.pk)
    now = timezone.now()
    typed, untyped = "(%s::numeric, %s::bigint, %s::text)", "(%s, %s, %s)"
    sql = CHARGE_IF_STILL_TRUE.format(
        publisher=connection.ops.quote_name(Publisher._meta.db_table),
        ledger=connection.ops.quote_name(LedgerEntry._meta.db_table),
        at_most=" AND balance <= %s" if held_for_money else "",
        rows=", ".join([typed] + [untyped] * (len(entries) - 1)),
    )
    params: list[object] = [total, publisher.pk, publisher.pricing_version, total]
    params += [publisher.balance] if held_for_money else []
    params += [LedgerKind.CHARGE, now]
    for entry in entries:
        params += [entry.amount, entry.order_id, entry.note]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows_back = cursor.fetchall()
    ids = {order_id: pk for pk, order_id, _ in rows_back}
    for entry in entries:
        entry.pk, entry.created_at = ids.get(entry.order_id), now
    if len(ids) != len(entries):
        return None
    return Decimal(rows_back[0][2]).quantize(CENT)


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


def utc_text(moment: datetime) -> str:
    """Show a moment for people, in UTC: "2026-11-29 14:05 UTC"."""
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def charged_detail(*, order: Order, balance: Decimal) -> str:
    """Say what charging `order` did, and when production starts for a scheduled one (§15)."""
    text = f"Charged {money(order.cost)}; balance now {money(balance)}."
    if order.production_at is not None:
        text += f" Production starts at {utc_text(order.production_at)} (edit window)."
    return text


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


ERROR_NOT_SCHEDULED = (
    "Order {order} is {status}; only a scheduled order (paid, in its edit window) can be "
    "cancelled with a refund."
)


def order_cancel(*, order: Order, actor: AbstractBaseUser | None) -> Order:
    """Cancel a scheduled order: `deleted`, and its cost back with one `refund` entry (§15).

    One transaction, the publisher row then the order row locked (the one lock order): of
    two cancels, or a cancel and the end of the window, the second sees the first's status
    and is refused; the unique refund per order is the database's last word.
    """
    with transaction.atomic():
        publisher = publisher_lock(publisher_id=order.publisher_id)
        locked = order_lock(order_id=order.pk)
        if locked.status != OrderStatus.SCHEDULED:
            raise NotEditable(
                ERROR_NOT_SCHEDULED.format(order=locked.pk, status=locked.get_status_display())
            )
        ledger_record(
            publisher_id=publisher.pk,
            amount=locked.cost,
            kind=LedgerKind.REFUND,
            actor=actor,
            order=locked,
            note=f"Order {locked.pk} cancelled",
        )
        balance = publisher.balance + locked.cost
        who = actor.get_username() if actor is not None else "the system"
        order_transition(
            order=locked,
            target=OrderStatus.DELETED,
            kind=OrderEventKind.CANCELLED,
            actor=actor,
            detail=f"Cancelled by {who}: refunded {money(locked.cost)}; balance now "
            f"{money(balance)}.",
        )
    return locked


# The one queue rule (SPEC §7), said the same way in messages, on the account page and in docs.
QUEUE_RULE = (
    "Release charges your hold orders oldest first; an order your balance does not cover stays"
    " on hold and the next ones still go."
)


def order_numbers(orders: Iterable[Order]) -> str:
    """Name orders for people: "#5, #6 and #8"."""
    names = [f"#{order.pk}" for order in orders]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def plural(count: int, word: str) -> str:
    """Return "1 order" or "3 orders"."""
    return f"{count} {word}{'' if count == 1 else 's'}"


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


def _release_reason(*, order: Order, balance: Decimal) -> str | None:
    """Return why `order` cannot be charged now, or None when it can."""
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
            return f"needs money: a zero balance pays no order (costs {money(cost)})"
        return f"needs {money(cost - balance)} more (costs {money(cost)})"
    return None


def orders_release(
    *, publisher: Publisher, order_ids: Iterable[int], actor: AbstractBaseUser | None
) -> ReleaseResult:
    """Charge the chosen hold orders by the one queue rule, `QUEUE_RULE` (SPEC §7).

    Oldest first, each order the balance covers is charged; one it does not cover stays on
    hold with its shortfall and the release goes on to the next. The same rule whether one
    order, a selection, *release all* or a deposit's auto-release asks, and the same as on
    arrival, where a new order is charged when the balance covers it.
    """
    with transaction.atomic():
        locked = publisher_lock(publisher_id=publisher.pk)
        orders = list(
            Order.objects.select_for_update(of=("self",), no_key=True)
            .select_related("project")
            .filter(publisher=locked, pk__in=list(order_ids))
            .order_by("created_at", "id")
        )
        result = ReleaseResult(balance_before=locked.balance)
        for order in orders:
            reason = _release_reason(order=order, balance=locked.balance)
            if reason is None:
                order_charge_locked(
                    publisher=locked, order=order, actor=actor, kind=OrderEventKind.RELEASED
                )
                result.released.append(order)
                continue
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


def deposit_message(
    *, publisher: Publisher, amount: Decimal, released: ReleaseResult | None
) -> str:
    """Say what a deposit did: the balance before and after, and what auto-release released.

    `publisher.balance` is the balance after the deposit and its release (deposit_record
    refreshes it), so the balance before is that minus the deposit plus what was charged.
    """
    spent = released.total if released is not None else ZERO
    after_deposit = publisher.balance + spent
    text = (
        f"Deposit of {money(amount)} recorded for {publisher.name}. Balance "
        f"{money(after_deposit - amount)} → {money(after_deposit)}."
    )
    if released is None:
        return text
    if released.released:
        text += (
            f" Auto-release released {plural(len(released.released), 'order')}"
            f" ({money(spent)}): {order_numbers(released.released)}; balance now"
            f" {money(publisher.balance)}."
        )
    elif released.kept:
        text += " Auto-release released no order."
    if released.kept:
        reasons = "; ".join(f"order #{o.pk} {why}" for o, why in released.kept)
        text += f" {plural(len(released.kept), 'order')} still on hold: {reasons}."
    return text


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
