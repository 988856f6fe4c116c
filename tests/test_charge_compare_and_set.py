"""The compare-and-set charge of a purchase's first pass (SPEC §7): what makes it refuse."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fulfillment.carts.samcart import parse_samcart
from fulfillment.models import (
    LedgerEntry,
    LedgerKind,
    Notification,
    Order,
    OrderEventKind,
    OrderLine,
    OrderStatus,
    Outcome,
    Project,
    Publisher,
)
from fulfillment.services.deposits import deposit_record
from fulfillment.services.intake import purchase_snapshot
from fulfillment.services.ledger import (
    ledger_record,
    publisher_charge_if_still_true,
    publisher_lock_for_pricing,
)
from fulfillment.services.notifications import Incoming, notification_process, notification_receive
from tests.factories import make_project, make_publisher
from tests.invariants import assert_money_invariants, order_body

pytestmark = pytest.mark.django_db


def _charge(publisher: Publisher, amount: str, *, held_for_money: bool = False) -> bool:
    """Charge `amount` against `publisher` as it was read (a box of its own)."""
    order = Order.objects.create(
        publisher_id=publisher.pk,
        external_order_id=f"X{Order.objects.count()}",
        cost=Decimal(amount),
        status=OrderStatus.IN_PRODUCTION,
    )
    project = Project.objects.filter(publisher_id=publisher.pk).first() or make_project(publisher)
    OrderLine.objects.create(
        order=order,
        publisher_id=publisher.pk,
        project=project,
        external_order_id=order.external_order_id,
        external_product_id="1",
        shipping_cost=Decimal(amount),  # the line costs what the charge takes
    )
    entry = LedgerEntry(
        publisher=publisher,
        amount=-Decimal(amount),
        kind=LedgerKind.CHARGE,
        order=order,
        note=f"Order {order.pk}",
    )
    balance = publisher_charge_if_still_true(
        publisher=publisher, entries=[entry], held_for_money=held_for_money
    )
    return balance is not None


def _read(publisher: Publisher) -> Publisher:
    return Publisher.objects.get(pk=publisher.pk)


def test_charges_when_nothing_moved():
    publisher = make_publisher(balance="20.00")
    assert _charge(_read(publisher), "7.00")
    assert assert_money_invariants(publisher).balance == Decimal("13.00")


def test_another_charge_in_between_does_not_matter_while_the_money_lasts():
    publisher = make_publisher(balance="20.00")
    seen = _read(publisher)
    ledger_record(publisher_id=publisher.pk, amount=Decimal("-10.00"), kind=LedgerKind.ADJUSTMENT)
    assert _charge(seen, "7.00")
    assert assert_money_invariants(publisher).balance == Decimal("3.00")


def test_refuses_when_the_balance_no_longer_pays():
    publisher = make_publisher(balance="20.00")
    seen = _read(publisher)
    ledger_record(publisher_id=publisher.pk, amount=Decimal("-15.00"), kind=LedgerKind.ADJUSTMENT)
    assert not _charge(seen, "7.00")
    assert _read(publisher).balance == Decimal("5.00")  # (the caller rolls its order back)
    assert not LedgerEntry.objects.filter(kind=LedgerKind.CHARGE).exists()


def test_refuses_when_a_price_changed():
    publisher = make_publisher(balance="20.00")
    seen = _read(publisher)
    publisher_lock_for_pricing(publisher_id=publisher.pk)
    assert not _charge(seen, "7.00")
    assert _read(publisher).balance == Decimal("20.00")
    assert not LedgerEntry.objects.filter(kind=LedgerKind.CHARGE).exists()


def test_refuses_a_grown_balance_only_when_an_order_waits_for_money():
    publisher = make_publisher(balance="20.00")
    seen = _read(publisher)
    deposit_record(publisher=publisher, amount=Decimal("50.00"), actor=None)
    assert not _charge(seen, "7.00", held_for_money=True)  # the deposit might pay the held one
    assert not LedgerEntry.objects.filter(kind=LedgerKind.CHARGE).exists()
    assert _charge(seen, "7.00", held_for_money=False)
    assert _read(publisher).balance == Decimal("63.00")


def test_the_charged_event_states_the_balance_the_charge_left():
    """Issue 17.9: two $10 purchases from $100, the first paused after its snapshot while the
    second is paid in full. The first one's charge leaves $80.00 in the row, so its event says
    so (it said $90.00: the snapshot's $100 minus its own charge, a balance that never was)."""
    publisher = make_publisher(balance="100.00")
    make_project(publisher, "279813", unit_cost="10.00", shipping_cost="0.00")
    first, second = order_body(order_id="P1"), order_body(order_id="P2")
    cart = parse_samcart(first, "application/json")
    paused = purchase_snapshot(cart=cart, idpub=publisher.idpub)  # the first pass's read
    assert notification_receive(_incoming(publisher, second)).outcome == Outcome.CREATED
    stored = Notification.objects.create(publisher=publisher, raw_body=first, is_test=False)
    answer = notification_process(notification=stored, cart=cart, snapshot=paused)
    assert answer.outcome == Outcome.CREATED
    order = Order.objects.get(notification=stored)
    event = order.events.get(kind=OrderEventKind.CHARGED)
    assert "balance now $80.00." in event.detail, event.detail
    assert assert_money_invariants(publisher).balance == Decimal("80.00")
    assert LedgerEntry.objects.filter(order=order, kind=LedgerKind.CHARGE).count() == 1


def _incoming(publisher: Publisher, body: bytes) -> Incoming:
    return Incoming(
        idpub=publisher.idpub,
        key=publisher.notify_key,
        is_test=False,
        body=body,
        body_size=len(body),
        content_type="application/json",
        remote_addr="198.51.100.1",
    )
