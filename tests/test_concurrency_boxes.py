"""One box per SamCart order under concurrency, on PostgreSQL with real threads (SPEC §18).

Lines of one SamCart order arriving at the same instant make one box. 10 SamCart orders, each
sent as 2 POSTs of different products, are fired at the Notify URL at once (20 threads behind
a barrier): exactly 10 boxes of 2 lines each, every box charged its whole cost once over.

What makes it one box: a first pass reads without a lock, so two POSTs of one SamCart order
may both find no box and both try to start box 1. The unique constraint
`order_one_box_number` (publisher, source, order id, box number) refuses the second; its pass
runs again under the publisher lock (`notifications._redo_locked`), finds box 1, locks it and
joins it, paying the difference. The control drops that constraint, forces the interleaving
(every POST reads before any writes) and sees a box per POST: the constraint, not luck or
timing, is what keeps a SamCart order in one box.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import Counter
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client

from fulfillment.models import (
    LedgerEntry,
    LedgerKind,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    Outcome,
    Publisher,
)
from fulfillment.services import notifications
from fulfillment.services.intake_snapshot import IntakeSnapshot
from tests.factories import make_project, make_publisher, notify_path
from tests.invariants import assert_money_invariants, dollars, order_body
from tests.threads import run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ORDERS = 10
A, B, C = 279813, 294010, 298020
# A: 5.00 + 2.00 shipping, B: 3.00 + 4.50, C: 7.00 + 1.00. A box of A and B costs 12.50.
BOX_AB = dollars("12.50")
BOX_ABC = dollars("19.50")


def _publisher(balance: str) -> Publisher:
    publisher = make_publisher(balance=balance, grouping_minutes=10)
    make_project(publisher, str(A), unit_cost="5.00", shipping_cost="2.00")
    make_project(publisher, str(B), unit_cost="3.00", shipping_cost="4.50")
    make_project(publisher, str(C), unit_cost="7.00", shipping_cost="1.00")
    return publisher


def _fire(publisher: Publisher, products: tuple[int, ...]) -> list:
    """POST each of `products` for each of ORDERS SamCart orders, all at once; return the
    (status, outcome) answers."""
    path = notify_path(publisher)

    def post(body: bytes):
        def job() -> tuple[int, str]:
            response = Client().post(path, data=body, content_type="application/json")
            return response.status_code, response.json()["outcome"]

        return job

    jobs = [
        post(order_body(order_id=f"C{n}", product_id=product))
        for n in range(ORDERS)
        for product in products
    ]
    return run_together(jobs)


def _everyone_reads_before_anyone_writes(monkeypatch, posts: int) -> None:
    """Hold each POST after its first read (publisher, matches, lines) until all have read.

    Every first pass then finds no box of its SamCart order and tries to start box 1: the
    interleaving the constraint must resolve, made certain instead of likely.
    """
    barrier = threading.Barrier(posts)
    real = notifications.purchase_snapshot

    def read_then_wait(**kwargs: object) -> IntakeSnapshot | None:
        found = real(**kwargs)
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=20)
        return found

    # The Notify URL's first read only: the locked pass reads through `intake`'s own name.
    monkeypatch.setattr(notifications, "purchase_snapshot", read_then_wait)


def _assert_one_box_per_order(publisher: Publisher, lines: int, cost: Decimal) -> None:
    boxes = list(Order.objects.filter(publisher=publisher).with_lines())
    assert len(boxes) == ORDERS, Counter(box.external_order_id for box in boxes)
    assert {box.box_number for box in boxes} == {1}
    assert OrderLine.objects.filter(publisher=publisher).count() == ORDERS * lines
    for box in boxes:
        assert len(box.active_lines()) == lines
        assert (box.status, box.cost) == (OrderStatus.SCHEDULED, cost)
    fresh = assert_money_invariants(publisher)  # per box: charges − refunds == −cost
    assert fresh.balance == dollars("1000.00") - ORDERS * cost


def _answers_ok(answers: list) -> None:
    assert all(not isinstance(answer, BaseException) for answer in answers), answers
    assert Counter(status for status, _ in answers) == {200: len(answers)}
    assert Counter(outcome for _, outcome in answers) == {Outcome.CREATED: len(answers)}


def test_two_posts_of_each_order_at_the_same_instant_make_one_box_each():
    publisher = _publisher("1000.00")

    answers = _fire(publisher, (A, B))

    _answers_ok(answers)
    _assert_one_box_per_order(publisher, lines=2, cost=BOX_AB)


def test_one_box_each_when_every_post_reads_before_any_writes(monkeypatch, caplog):
    """The worst interleaving, forced: each pair's second POST collides on box 1, runs again
    under the lock and joins, charged the difference."""
    _everyone_reads_before_anyone_writes(monkeypatch, posts=ORDERS * 2)
    publisher = _publisher("1000.00")

    with caplog.at_level(logging.INFO, logger="fulfillment.services.notifications"):
        answers = _fire(publisher, (A, B))

    _answers_ok(answers)
    again = [r for r in caplog.records if "processing it again under the lock" in r.getMessage()]
    assert len(again) == ORDERS, [r.getMessage() for r in again]  # one collision per order
    assert all("order_one_box_number" in r.getMessage() for r in again)
    _assert_one_box_per_order(publisher, lines=2, cost=BOX_AB)
    joins = LedgerEntry.objects.filter(publisher=publisher, kind=LedgerKind.CHARGE)
    assert joins.count() == ORDERS * 2  # a first charge and a difference per box


def test_lines_joining_open_boxes_at_the_same_instant_pay_each_difference_once():
    """The boxes exist (scheduled): 2 POSTs per box at once join under the box lock, one
    after the other, each charged its own difference."""
    publisher = _publisher("1000.00")
    _answers_ok(_fire(publisher, (A,)))

    answers = _fire(publisher, (B, C))

    _answers_ok(answers)
    _assert_one_box_per_order(publisher, lines=3, cost=BOX_ABC)


@pytest.fixture
def without_one_box_number_constraint():
    """Drop `order_one_box_number` for one test; delete what it let in and restore it after."""
    constraint = next(c for c in Order._meta.constraints if c.name == "order_one_box_number")
    with connection.schema_editor() as editor:
        editor.remove_constraint(Order, constraint)
    yield
    OrderEvent.objects.all().delete()
    LedgerEntry.objects.exclude(order=None).delete()
    Order.objects.all().delete()
    with connection.schema_editor() as editor:
        editor.add_constraint(Order, constraint)


def test_control_without_the_constraint_each_post_starts_its_own_box(
    monkeypatch, without_one_box_number_constraint
):
    """Control: the same firing, the same forced interleaving, without `order_one_box_number`,
    makes a box per POST (20, not 10), each charged on its own: the main tests would fail if
    the constraint stopped guarding box 1."""
    _everyone_reads_before_anyone_writes(monkeypatch, posts=ORDERS * 2)
    publisher = _publisher("1000.00")

    answers = _fire(publisher, (A, B))

    _answers_ok(answers)
    boxes = Order.objects.filter(publisher=publisher)
    assert boxes.count() == ORDERS * 2 > ORDERS
    assert Counter(boxes.values_list("external_order_id", flat=True)) == {
        f"C{n}": 2 for n in range(ORDERS)
    }
    assert set(boxes.values_list("box_number", flat=True)) == {1}
