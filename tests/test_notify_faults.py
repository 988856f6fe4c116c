"""Fault injection: processing fails mid-way; the body is kept, nothing is half-made (§4)."""

from __future__ import annotations

import pytest

from fulfillment.models import LedgerEntry, Notification, Order, OrderEvent, OrderLine, Outcome
from fulfillment.services import intake
from fulfillment.services.reprocess import notification_reprocess
from tests.factories import post_notify, sample
from tests.faults import install_failing_trigger, remove_failing_trigger

pytestmark = pytest.mark.django_db


def _assert_nothing_made() -> None:
    assert Order.objects.count() == 0
    assert OrderLine.objects.count() == 0
    assert OrderEvent.objects.count() == 0
    assert LedgerEntry.objects.filter(kind="charge").count() == 0


def test_exception_after_orders_are_inserted_rolls_back_and_reprocess_creates_once(
    client, funded_publisher, monkeypatch
):
    real = intake._record_events
    calls = []

    def explode(**kwargs: object) -> None:
        calls.append(Order.objects.count())  # the orders are already inserted at this point
        raise RuntimeError("printer database unreachable")

    monkeypatch.setattr(intake, "_record_events", explode)
    response = post_notify(client, funded_publisher, sample("order_three_products"))

    assert calls and calls[0] == 1  # the box (with its 4 lines) is already inserted
    assert response.status_code == 500
    assert response.json()["outcome"] == Outcome.ERROR
    stored = Notification.objects.get()
    assert stored.outcome == Outcome.ERROR
    assert "printer database unreachable" in stored.detail
    assert bytes(stored.raw_body) == sample("order_three_products")
    _assert_nothing_made()
    funded_publisher.refresh_from_db()
    assert funded_publisher.balance == 500

    monkeypatch.setattr(intake, "_record_events", real)
    first = notification_reprocess(notification=stored)
    second = notification_reprocess(notification=stored)

    assert (first.status, first.outcome) == (200, Outcome.CREATED)
    assert (second.status, second.outcome) == (200, Outcome.DUPLICATE)
    assert (Order.objects.count(), OrderLine.objects.count()) == (1, 4)
    assert LedgerEntry.objects.filter(kind="charge").count() == 1
    stored.refresh_from_db()
    assert stored.attempts == 3


def test_database_fault_mid_way_leaves_error_and_reprocess_recovers(client, unfunded_publisher):
    install_failing_trigger()
    response = post_notify(client, unfunded_publisher, sample("order_legacy_comma_ids"))

    assert response.status_code == 500
    stored = Notification.objects.get()
    assert stored.outcome == Outcome.ERROR
    assert "injected fault" in stored.detail
    _assert_nothing_made()

    remove_failing_trigger()
    answer = notification_reprocess(notification=stored)

    assert answer.outcome == Outcome.CREATED
    assert (Order.objects.count(), OrderLine.objects.count()) == (1, 4)
    assert set(Order.objects.values_list("status", flat=True)) == {"hold"}
