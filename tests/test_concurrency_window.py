"""The edit window under concurrency, on PostgreSQL with real threads (SPEC §15).

Cancels race each other, the end of the window and an edit; each main test asserts one clean
outcome and the money invariants, and its control takes the row locks away (a plain read and a
short sleep instead) to show the race the test would catch.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from fulfillment.models import (
    LedgerEntry,
    LedgerKind,
    Order,
    OrderEvent,
    OrderEventKind,
    OrderStatus,
    Publisher,
)
from fulfillment.services import orders, window
from fulfillment.services.errors import NotEditable
from fulfillment.services.orders import order_update
from fulfillment.services.window import order_cancel, orders_start_production
from tests.factories import make_project, make_publisher, notify_path
from tests.invariants import assert_money_invariants, order_body
from tests.threads import run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ROUNDS = 6


def _scheduled_order(n: int, *, delay: int = 60) -> tuple[Publisher, Order]:
    publisher = make_publisher(balance="100.00", production_delay_minutes=delay)
    make_project(publisher, "279813")
    response = Client().post(
        notify_path(publisher), data=order_body(order_id=9000 + n), content_type="application/json"
    )
    assert response.status_code == 200
    order = Order.objects.get(publisher=publisher)
    assert order.status == OrderStatus.SCHEDULED
    return publisher, order


def _unlocked(
    monkeypatch: pytest.MonkeyPatch,
    *,
    cancel_waits: float = 0.1,
    edit_waits: float = 0.1,
    window_waits: float = 0.1,
) -> None:
    """Control: every row lock becomes a plain read followed by a sleep, so both sides read the
    order before either writes (the interleaving the locks forbid). The side that waits longer
    writes last, which makes each control's outcome certain instead of likely."""

    def publisher_read(*, publisher_id: int) -> Publisher:
        return Publisher.objects.get(pk=publisher_id)

    def order_read(waits: float):
        def read(*, order_id: int) -> Order:
            order = Order.objects.with_lines().get(pk=order_id)
            time.sleep(waits)
            return order

        return read

    def due_read(*, order_id: int, now: object) -> Order | None:
        order = Order.objects.filter(
            pk=order_id, status=OrderStatus.SCHEDULED, production_at__lte=now
        ).first()
        time.sleep(window_waits)
        return order

    for module in (window, orders):
        monkeypatch.setattr(module, "publisher_lock", publisher_read)
    monkeypatch.setattr(window, "order_lock", order_read(cancel_waits))  # the cancel's
    monkeypatch.setattr(orders, "order_lock", order_read(edit_waits))  # the edit's
    monkeypatch.setattr(window, "due_order_lock", due_read)


def _refunds(order: Order) -> int:
    return LedgerEntry.objects.filter(order=order, kind=LedgerKind.REFUND).count()


def _started(order: Order) -> int:
    return OrderEvent.objects.filter(order=order, kind=OrderEventKind.PRODUCTION_STARTED).count()


def _two_cancels(n: int) -> tuple[Publisher, Order, list]:
    publisher, order = _scheduled_order(n)
    results = run_together([lambda: order_cancel(order=order, actor=None)] * 2)
    order.refresh_from_db()
    return publisher, order, results


def test_two_cancels_at_once_refund_exactly_once():
    for n in range(ROUNDS):
        publisher, order, results = _two_cancels(n)
        kinds = Counter(type(r).__name__ for r in results)
        assert kinds == {"Order": 1, "NotEditable": 1}, results
        assert order.status == OrderStatus.DELETED and _refunds(order) == 1
        assert assert_money_invariants(publisher).balance == publisher.balance


def test_control_without_row_locks_two_cancels_both_try_to_refund(monkeypatch):
    _unlocked(monkeypatch)
    doubled = 0
    for n in range(ROUNDS):
        _, order, _ = _two_cancels(n)
        # Both read `scheduled` and both refund: a box may be refunded more than once (SPEC
        # §18: a box held again is refunded, then charged and cancelled), so only the row
        # locks stop the second refund.
        doubled += _refunds(order) == 2
    assert doubled == ROUNDS


def _cancel_and_window_end(n: int) -> tuple[Publisher, Order, list]:
    publisher, order = _scheduled_order(n)
    later = timezone.now() + timedelta(hours=2)
    results = run_together(
        [
            lambda: order_cancel(order=order, actor=None),
            lambda: orders_start_production(now=later),
        ]
    )
    order.refresh_from_db()
    return publisher, order, results


def test_a_cancel_racing_the_end_of_the_window_has_one_winner():
    outcomes = Counter()
    for n in range(ROUNDS):
        publisher, order, results = _cancel_and_window_end(n)
        unexpected = [
            r for r in results if isinstance(r, BaseException) and not isinstance(r, NotEditable)
        ]
        assert not unexpected, results
        if order.status == OrderStatus.DELETED:
            assert (_refunds(order), _started(order)) == (1, 0)
        else:
            assert order.status == OrderStatus.IN_PRODUCTION
            assert (_refunds(order), _started(order)) == (0, 1)
        outcomes[order.status] += 1
        assert_money_invariants(publisher)
    print(f"\nmain: cancel vs end of window, {dict(outcomes)}")


def test_control_without_row_locks_cancel_and_window_end_both_happen(monkeypatch):
    _unlocked(monkeypatch, cancel_waits=0.0, window_waits=0.3)
    broken = 0
    for n in range(ROUNDS):
        _, order, _ = _cancel_and_window_end(n)
        # Both read `scheduled`: the order went to production and its money came back too.
        broken += _refunds(order) == 1 and _started(order) == 1
    assert broken == ROUNDS


def _cancel_and_edit(n: int) -> tuple[Publisher, Order, list]:
    publisher, order = _scheduled_order(n)
    results = run_together(
        [
            lambda: order_cancel(order=order, actor=None),
            lambda: order_update(order=order, actor=None, ship_street="9 Late Edit Road"),
        ]
    )
    order.refresh_from_db()
    return publisher, order, results


def test_a_cancel_racing_an_edit_never_loses_the_cancel():
    for n in range(ROUNDS):
        publisher, order, results = _cancel_and_edit(n)
        cancel, edit = results
        assert not isinstance(cancel, BaseException), cancel
        assert (
            edit is None or not isinstance(edit, BaseException) or isinstance(edit, NotEditable)
        ), edit
        assert order.status == OrderStatus.DELETED and _refunds(order) == 1
        if not isinstance(edit, BaseException):
            assert order.ship_street == "9 Late Edit Road"  # the edit came first, then the cancel
        assert_money_invariants(publisher)


def test_control_without_row_locks_an_edit_brings_a_cancelled_order_back(monkeypatch):
    _unlocked(monkeypatch, cancel_waits=0.0, edit_waits=0.3)
    resurrected = 0
    for n in range(ROUNDS):
        _, order, _ = _cancel_and_edit(n)
        # The edit read `scheduled` and saved the whole row after the cancel: a refunded order
        # is scheduled again (the money invariants no longer hold).
        resurrected += order.status == OrderStatus.SCHEDULED and _refunds(order) == 1
    assert resurrected == ROUNDS
