"""Money under concurrency, on PostgreSQL with real threads (SPEC §7).

Every publisher's money is serialised on its row: `publisher_lock` (SELECT … FOR NO KEY UPDATE)
for releases, deposits and every locked pass, and the compare-and-set charge
(`publisher_charge_if_still_true`) for a purchase's first pass, which read without a lock. Each
test runs real threads behind a barrier, each on its own connection, and has a control that
swaps the lock for a plain read followed by a short sleep and the compare-and-set for a plain
write: the control must show the race (more charges decided than the balance pays, CHECK
violations, orders stranded on hold), which proves the main test would catch a missing guard.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.db import IntegrityError
from django.test import Client

from fulfillment.models import LedgerEntry, LedgerKind, Order, OrderStatus, Outcome, Publisher
from fulfillment.services import intake, ledger, release
from fulfillment.services.deposits import deposit_record
from fulfillment.services.release import orders_release
from tests.factories import make_project, make_publisher, notify_path
from tests.invariants import assert_money_invariants, dollars, order_body
from tests.threads import run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

COST = dollars("10.00")  # every order below: one copy at 10.00, no shipping
CHECK_NAME = "publisher_balance_not_negative"


def _unlocked_publisher(*, publisher_id: int) -> Publisher:
    """Stand-in for `publisher_lock`: read WITHOUT FOR UPDATE, then dawdle so work overlaps."""
    publisher = Publisher.objects.get(pk=publisher_id)
    time.sleep(0.05)
    return publisher


def _charge_without_compare(
    *, publisher: Publisher, entries: list[LedgerEntry], held_for_money: bool
) -> Decimal:
    """Stand-in for the compare-and-set charge: write the charges whatever the balance is now."""
    if entries:
        ledger.ledger_record_many(publisher_id=publisher.pk, entries=entries)
    return Publisher.objects.values_list("balance", flat=True).get(pk=publisher.pk)


def _remove_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Swap both guards everywhere money is decided (intake imports them by name)."""
    monkeypatch.setattr(intake, "publisher_lock", _unlocked_publisher)
    monkeypatch.setattr(release, "publisher_lock", _unlocked_publisher)
    monkeypatch.setattr(intake, "publisher_charge_if_still_true", _charge_without_compare)


class ChargeAttempts:
    """Count the charge writes that intake decides on, those the compare-and-set sent back to
    be redone under the lock, and those the database refused."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.mutex = threading.Lock()
        self.decided = 0  # orders intake decided to charge
        self.stale = 0  # of those, orders whose snapshot had moved (redone under the lock)
        self.refused = 0  # of those, orders whose charge the CHECK constraint refused
        real = intake.publisher_charge_if_still_true

        def counting(
            *, publisher: Publisher, entries: list[LedgerEntry], held_for_money: bool
        ) -> Decimal | None:
            with self.mutex:
                self.decided += len(entries)
            try:
                written = real(publisher=publisher, entries=entries, held_for_money=held_for_money)
            except IntegrityError as error:
                if CHECK_NAME in str(error):
                    with self.mutex:
                        self.refused += len(entries)
                raise
            if written is None:
                with self.mutex:
                    self.stale += len(entries)
            return written

        monkeypatch.setattr(intake, "publisher_charge_if_still_true", counting)


def _publisher(balance: str, **fields: object) -> Publisher:
    publisher = make_publisher(balance=balance, **fields)
    make_project(publisher, "279813", title="Ten", unit_cost=str(COST), shipping_cost="0")
    return publisher


def _poster(publisher: Publisher, order_id: str) -> Callable[[], tuple[int, str]]:
    """Return a job that POSTs one distinct order through the real view, on its own Client."""
    path = notify_path(publisher)
    body = order_body(order_id=order_id)

    def post() -> tuple[int, str]:
        response = Client().post(path, data=body, content_type="application/json")
        return response.status_code, response.json()["outcome"]

    return post


def _statuses(publisher: Publisher) -> Counter:
    rows = Order.objects.filter(publisher=publisher).values_list("status", "hold_reason")
    return Counter(rows)


def _errors(results: list) -> list[BaseException]:
    return [r for r in results if isinstance(r, BaseException)]


# 50 orders at once, the balance pays 17


def _fifty_orders(monkeypatch: pytest.MonkeyPatch) -> tuple[Publisher, list, ChargeAttempts]:
    publisher = _publisher(balance="175.00")  # 17 × 10.00 + 5.00
    attempts = ChargeAttempts(monkeypatch)
    results = run_together([_poster(publisher, f"C{i}") for i in range(50)])
    return publisher, results, attempts


def test_fifty_simultaneous_orders_charge_exactly_what_the_balance_pays(monkeypatch):
    publisher, results, attempts = _fifty_orders(monkeypatch)

    assert _errors(results) == []
    assert Counter(results) == {(200, Outcome.CREATED): 50}
    assert _statuses(publisher) == {
        (OrderStatus.IN_PRODUCTION, ""): 17,
        (OrderStatus.HOLD, "payment_required"): 33,
    }
    # A decision made on a stale balance is caught by the compare-and-set and redone under the
    # lock: exactly 17 charges are written, and none is refused by the database.
    assert (attempts.decided - attempts.stale, attempts.refused) == (17, 0)
    fresh = assert_money_invariants(publisher)
    assert fresh.balance == dollars("5.00")
    assert LedgerEntry.objects.filter(publisher=publisher, kind=LedgerKind.CHARGE).count() == 17
    print(
        f"\nmain: 50 orders, {attempts.decided} charges decided, {attempts.stale} redone "
        f"under the lock, {attempts.refused} refused"
    )


def test_control_without_the_lock_fifty_orders_overspend(monkeypatch):
    _remove_lock(monkeypatch)

    publisher, results, attempts = _fifty_orders(monkeypatch)

    answers = Counter(r if not isinstance(r, BaseException) else "exception" for r in results)
    statuses = _statuses(publisher)
    print(
        f"\ncontrol: {attempts.decided} charges decided for a balance that pays 17, "
        f"{attempts.refused} refused by the CHECK constraint; answers {dict(answers)}; "
        f"orders {dict(statuses)}"
    )
    # Read without the lock, many requests see the whole balance and decide to charge: only the
    # database CHECK stops the balance going negative (those transactions roll back and retry).
    assert attempts.decided > 17
    assert attempts.refused > 0
    # The database constraints are the last line: even the control ends with sound money.
    assert_money_invariants(publisher)


# Releases of overlapping sets of hold orders


def _overlapping_releases(monkeypatch: pytest.MonkeyPatch) -> tuple[Publisher, list, list[int]]:
    publisher = _publisher(balance="0")
    client = Client()
    for i in range(16):
        response = client.post(
            notify_path(publisher),
            data=order_body(order_id=f"R{i}"),
            content_type="application/json",
        )
        assert response.status_code == 200
    ids = list(
        Order.objects.filter(publisher=publisher)
        .order_by("created_at", "id")
        .values_list("pk", flat=True)
    )
    assert len(ids) == 16
    deposit_record(publisher=publisher, amount=dollars("75.00"), actor=None)  # pays 7

    def release(window: list[int]) -> Callable[[], list[int]]:
        def job() -> list[int]:
            result = orders_release(publisher=publisher, order_ids=window, actor=None)
            return [o.pk for o in result.released]

        return job

    # Eight threads; thread i releases orders i … i+7, so neighbours share seven orders.
    results = run_together([release(ids[i : i + 8]) for i in range(8)])
    return publisher, results, ids


def test_overlapping_releases_charge_each_order_once_and_never_overspend(monkeypatch):
    publisher, results, _ = _overlapping_releases(monkeypatch)

    assert _errors(results) == []
    released = [pk for batch in results for pk in batch]
    assert len(released) == len(set(released)) == 7  # disjoint, and what 75.00 pays
    charged = set(
        LedgerEntry.objects.filter(publisher=publisher, kind=LedgerKind.CHARGE).values_list(
            "order_id", flat=True
        )
    )
    assert charged == set(released)
    assert _statuses(publisher)[(OrderStatus.IN_PRODUCTION, "")] == 7
    assert assert_money_invariants(publisher).balance == dollars("5.00")
    print(f"\nmain: 8 overlapping releases, {len(released)} orders released, 0 errors")


def test_control_without_the_lock_overlapping_releases_overspend(monkeypatch):
    _remove_lock(monkeypatch)

    publisher, results, _ = _overlapping_releases(monkeypatch)

    errors = _errors(results)
    refused = [e for e in errors if isinstance(e, IntegrityError) and CHECK_NAME in str(e)]
    released = [pk for batch in results if not isinstance(batch, BaseException) for pk in batch]
    print(
        f"\ncontrol: 8 overlapping releases, {len(errors)} failed "
        f"({len(refused)} CHECK violations: each thread charged from a stale balance), "
        f"{len(released)} orders released"
    )
    assert refused, "without the lock, releases should decide on a stale balance"
    assert_money_invariants(publisher)


# Deposits (auto-release) racing with new orders


def _deposits_and_orders() -> tuple[Publisher, list, list]:
    publisher = _publisher(balance="0", auto_release=True)
    orders = [_poster(publisher, f"D{i}") for i in range(30)]  # 300.00 in all

    def deposit() -> Decimal:
        deposit_record(publisher=publisher, amount=dollars("300.00"), actor=None)
        return dollars("300.00")

    # The deposit is exactly what the 30 orders cost.
    results = run_together([*orders, deposit])
    return publisher, results[:30], results[30:]


def _stranded(publisher: Publisher) -> int:
    """Count hold orders the balance would pay although auto-release is on."""
    balance = Publisher.objects.get(pk=publisher.pk).balance
    held = Order.objects.filter(publisher=publisher, status=OrderStatus.HOLD, is_test=False)
    return sum(1 for o in held if o.hold_reason == "payment_required" and o.cost <= balance)


def test_deposits_racing_with_orders_release_everything_exactly_once():
    publisher, answers, deposits = _deposits_and_orders()

    assert _errors(answers) == [] and _errors(deposits) == []
    assert Counter(answers) == {(200, Outcome.CREATED): 30}
    # Whatever the interleaving, 300.00 pays all 30 orders: each was charged on arrival or
    # released by a later deposit, none is left behind, and the balance ends at exactly zero.
    assert _statuses(publisher) == {(OrderStatus.IN_PRODUCTION, ""): 30}
    assert _stranded(publisher) == 0
    assert LedgerEntry.objects.filter(publisher=publisher, kind=LedgerKind.CHARGE).count() == 30
    assert assert_money_invariants(publisher).balance == dollars("0.00")
    print("\nmain: 30 orders and an auto-release deposit at once: 30 in production, 0 stranded")


def test_control_without_the_lock_deposits_strand_orders_on_hold(monkeypatch):
    _remove_lock(monkeypatch)

    publisher, answers, deposits = _deposits_and_orders()

    failures = _errors(deposits) + [
        a for a in answers if isinstance(a, BaseException) or a[0] != 200
    ]
    stranded = _stranded(publisher)
    balance = Publisher.objects.get(pk=publisher.pk).balance
    print(
        f"\ncontrol: 30 orders and an auto-release deposit at once: {stranded} orders stranded "
        f"on hold with a balance of {balance} that pays them, {len(failures)} failed requests "
        f"or deposits; orders {dict(_statuses(publisher))}"
    )
    # An order that read the balance before the deposit landed holds itself, and the deposit's
    # auto-release did not see it yet: it waits although the money is there.
    assert stranded > 0
    assert_money_invariants(publisher)
