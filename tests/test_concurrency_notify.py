"""Exactly once under concurrency, on PostgreSQL with real threads (SPEC §6).

20 threads POST the same notification at the same moment. The main test shows one order per
line and a 200 for everyone; the controls show what the test would see without the guarantees.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter

import pytest
from django.db import connection
from django.test import Client

from fulfillment.models import Order, OrderEvent, OrderLine, Outcome, Publisher
from fulfillment.services import intake, notifications
from fulfillment.services.intake_snapshot import IntakeSnapshot
from tests.factories import make_project, make_publisher, notify_path, sample
from tests.threads import run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 20
BODY = sample("order_three_products")  # 3 products → one box of 4 lines for the publisher below
EXPECTED_LINES = 4


def _publisher(balance: str) -> Publisher:
    publisher = make_publisher(balance=balance)
    make_project(publisher, "279813", unit_cost="6.50", shipping_cost="4.95")
    make_project(publisher, "{294010}", unit_cost="3.20", shipping_cost="0.00")
    make_project(publisher, "{294010}{298020}", unit_cost="8.90", shipping_cost="4.95")
    return publisher


def _post_all(publisher: Publisher) -> list:
    path = notify_path(publisher)

    def post() -> tuple[int, str]:
        response = Client().post(path, data=BODY, content_type="application/json")
        return response.status_code, response.json()["outcome"]

    return run_together([post] * THREADS)


def _unlocked_publisher(*, publisher_id: int) -> Publisher:
    """Stand-in for the row lock: read without FOR UPDATE, then dawdle so requests overlap."""
    publisher = Publisher.objects.get(pk=publisher_id)
    time.sleep(0.01)
    return publisher


def _everyone_reads_before_anyone_writes(monkeypatch) -> None:
    """Hold each delivery after its first read (publisher, matches, lines) until all have read.

    A first pass reads without a lock, so only the constraint stops this interleaving; the
    barrier makes it certain instead of likely, so the control cannot pass by luck.
    """
    barrier = threading.Barrier(THREADS)
    real = notifications.purchase_snapshot
    waited = threading.local()

    def looked_up_then_wait(**kwargs: object) -> IntakeSnapshot | None:
        found = real(**kwargs)
        if not getattr(waited, "done", False):  # only a delivery's first pass, not its retry
            waited.done = True
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait(timeout=20)
        return found

    monkeypatch.setattr(intake, "publisher_lock", _unlocked_publisher)
    monkeypatch.setattr(notifications, "purchase_snapshot", looked_up_then_wait)


def _line_counts() -> Counter:
    return Counter(
        OrderLine.objects.values_list("external_order_id", "external_product_id", "project_id")
    )


@pytest.mark.parametrize("balance", ["0.00", "1000.00"])
def test_twenty_simultaneous_deliveries_create_each_order_once(balance):
    publisher = _publisher(balance)

    answers = _post_all(publisher)

    assert all(not isinstance(a, BaseException) for a in answers), answers
    assert Counter(status for status, _ in answers) == {200: THREADS}
    outcomes = Counter(outcome for _, outcome in answers)
    assert outcomes == {Outcome.CREATED: 1, Outcome.DUPLICATE: THREADS - 1}
    assert (Order.objects.count(), OrderLine.objects.count()) == (1, EXPECTED_LINES)
    assert max(_line_counts().values()) == 1
    publisher.refresh_from_db()
    charged = publisher.ledger.filter(kind="charge").count()
    assert charged == (1 if balance != "0.00" else 0)
    assert publisher.balance == sum(e.amount for e in publisher.ledger.all())


def test_the_unique_constraint_alone_keeps_it_exactly_once(monkeypatch):
    """Without the publisher lock, the constraints still refuse a second box and line."""
    _everyone_reads_before_anyone_writes(monkeypatch)
    publisher = _publisher("1000.00")

    answers = _post_all(publisher)

    assert Counter(status for status, _ in answers) == {200: THREADS}
    assert (Order.objects.count(), OrderLine.objects.count()) == (1, EXPECTED_LINES)
    assert max(_line_counts().values()) == 1
    publisher.refresh_from_db()
    assert publisher.ledger.filter(kind="charge").count() == 1


@pytest.fixture
def without_exactly_once_constraint():
    """Drop `line_exactly_once` and `order_one_box_number` for one test, then put them back."""
    line = next(c for c in OrderLine._meta.constraints if c.name == "line_exactly_once")
    box = next(c for c in Order._meta.constraints if c.name == "order_one_box_number")
    with connection.schema_editor() as editor:
        editor.remove_constraint(OrderLine, line)
        editor.remove_constraint(Order, box)
    yield
    OrderEvent.objects.all().delete()
    for publisher in Publisher.objects.all():
        publisher.ledger.all().delete()
    OrderLine.objects.all().delete()
    Order.objects.all().delete()
    with connection.schema_editor() as editor:
        editor.add_constraint(OrderLine, line)
        editor.add_constraint(Order, box)


def test_control_without_lock_and_constraint_duplicates_appear(
    monkeypatch, without_exactly_once_constraint
):
    """Control: take both guarantees away and the same test sees duplicate orders."""
    _everyone_reads_before_anyone_writes(monkeypatch)
    publisher = _publisher("0.00")

    _post_all(publisher)

    assert (Order.objects.count(), OrderLine.objects.count()) == (THREADS, EXPECTED_LINES * THREADS)
    assert max(_line_counts().values()) == THREADS
