"""The ledger and the balance (SPEC §7): the one module that writes `Publisher.balance`.

Two writers, both here: `ledger_record_many` (deposits, adjustments, charges by release,
refunds) and `publisher_charge_if_still_true` (a new purchase's charges, a compare-and-set).
Each writes its ledger entries in the same transaction or statement as the balance, so
balance == sum(ledger). Lock order everywhere: the publisher row first, then order rows.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from django.db import connection, transaction
from django.db.models import F, Sum
from django.db.models.functions import Round
from django.utils import timezone

from fulfillment.models import ZERO, LedgerEntry, LedgerKind, Publisher

from .deferred import execute_merged

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from fulfillment.models import Order

CENT = Decimal("0.01")


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


def ledger_record_many(*, publisher_id: int, entries: list[LedgerEntry]) -> list[LedgerEntry]:
    """Write ledger entries of one publisher and move its balance by their sum, atomically.

    With `publisher_charge_if_still_true`, the only code that changes `Publisher.balance`.
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


# The decisions still hold (PostgreSQL; the ORM filter below says the same for SQLite).
STILL_TRUE = "id = %s AND pricing_version = %s AND balance >= %s{at_most}"
CHECK_IF_STILL_TRUE = "SELECT balance FROM {publisher} WHERE {still_true} FOR NO KEY UPDATE"
CHARGE_IF_STILL_TRUE = """
WITH charged AS (
    UPDATE {publisher} SET balance = balance - %s
    WHERE {still_true}
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
    if connection.vendor == "postgresql":
        return _charge_if_still_true(
            publisher=publisher, entries=entries, held_for_money=held_for_money, total=total
        )
    rows = Publisher.objects.filter(
        pk=publisher.pk, pricing_version=publisher.pricing_version, balance__gte=total
    )
    if held_for_money:
        rows = rows.filter(balance__lte=publisher.balance)
    if not entries:
        return rows.select_for_update(no_key=True).values_list("balance", flat=True).first()
    # SQLite (no UPDATE inside WITH): two statements.
    if not rows.update(balance=Round(F("balance") - total, precision=2)):
        return None
    LedgerEntry.objects.bulk_create(entries)
    # This transaction wrote, so no other writer commits before it ends.
    return Publisher.objects.values_list("balance", flat=True).get(pk=publisher.pk)


def _charge_if_still_true(
    *, publisher: Publisher, entries: list[LedgerEntry], held_for_money: bool, total: Decimal
) -> Decimal | None:
    """PostgreSQL's `publisher_charge_if_still_true`: the compare-and-set and the ledger rows
    in one statement, or with no entries the check that locks the row (the same conditions as
    the ORM filter of SQLite's path). Either goes with the new box when the intake kept it
    (`deferred`)."""
    still_true = STILL_TRUE.format(at_most=" AND balance <= %s" if held_for_money else "")
    publisher_table = connection.ops.quote_name(Publisher._meta.db_table)
    still_params = [publisher.pk, publisher.pricing_version, total]
    still_params += [publisher.balance] if held_for_money else []
    if not entries:
        sql = CHECK_IF_STILL_TRUE.format(publisher=publisher_table, still_true=still_true)
        found = execute_merged(sql, still_params)
        return found[0][0] if found else None
    now = timezone.now()
    typed, untyped = "(%s::numeric, %s::bigint, %s::text)", "(%s, %s, %s)"
    sql = CHARGE_IF_STILL_TRUE.format(
        publisher=publisher_table,
        ledger=connection.ops.quote_name(LedgerEntry._meta.db_table),
        still_true=still_true,
        rows=", ".join([typed] + [untyped] * (len(entries) - 1)),
    )
    params: list[object] = [total, *still_params, LedgerKind.CHARGE, now]
    for entry in entries:
        params += [entry.amount, entry.order_id, entry.note]
    # With the new box when the intake kept it (`deferred`): one statement.
    rows_back = execute_merged(sql, params)
    ids = {order_id: pk for pk, order_id, _ in rows_back}
    for entry in entries:
        entry.pk, entry.created_at = ids.get(entry.order_id), now
    if len(ids) != len(entries):
        return None
    return Decimal(rows_back[0][2]).quantize(CENT)


def box_net_charge(*, order: Order) -> Decimal:
    """Return what a box's ledger entries took from the balance: its charges less its refunds
    (SPEC §18: −cost while it is charged, 0 otherwise)."""
    total = LedgerEntry.objects.filter(order_id=order.pk).aggregate(total=Sum("amount"))["total"]
    return -(total or ZERO)


def box_refund_net(
    *, publisher: Publisher, order: Order, actor: AbstractBaseUser | None, note: str
) -> Decimal:
    """Give a locked box's net charge back to a locked publisher with one `refund` entry;
    return the amount (the box's ledger then sums to 0, SPEC §18). Moves `publisher.balance`
    in memory too, so the caller's messages state the balance after."""
    net = box_net_charge(order=order)
    ledger_record(
        publisher_id=publisher.pk,
        amount=net,
        kind=LedgerKind.REFUND,
        actor=actor,
        order=order,
        note=note,
    )
    publisher.balance += net
    return net


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
