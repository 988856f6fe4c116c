"""Staff deposits and adjustments of a publisher's balance (SPEC §7)."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction

from fulfillment.models import ZERO, LedgerEntry, LedgerKind, Publisher

from .errors import ServiceError
from .ledger import CENT, ledger_record, publisher_lock
from .release import ReleaseResult, orders_release_all
from .wording import money, order_numbers, plural

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

ERROR_NEGATIVE_BALANCE = "That would make the balance negative ({balance} − {amount})."
ERROR_DEPOSIT_NOT_POSITIVE = "A deposit must be more than zero."
ERROR_ADJUSTMENT_ZERO = "An adjustment cannot be zero."
ERROR_NOT_CENTS = "An amount is dollars and cents: at most two decimal places ({amount})."


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
