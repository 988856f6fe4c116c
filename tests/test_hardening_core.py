"""Issue 8 ("Hardening"), the core findings: money, intake, status and reprocess.

Findings 2 (intake and release), 10, 15, 16 and 17 (the rules) plus `hold_orders_refresh`, the
service that keeps hold orders in step with their project's prices. Orders arrive the way they
do in production: SamCart bodies POSTed to the Notify URL through the real view. The races of
findings 13 and 14 are in tests/test_concurrency_hardening.py (PostgreSQL).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import transaction
from django.test import Client

from fulfillment.models import (
    HoldReason,
    LedgerEntry,
    Order,
    OrderEvent,
    OrderEventKind,
    OrderStatus,
    Project,
)
from fulfillment.services.money import deposit_record, orders_release
from tests.factories import make_project, make_publisher, post_notify
from tests.invariants import assert_money_invariants, dollars, order_body

pytestmark = pytest.mark.django_db


def _one_order(client: Client, publisher, body: bytes, **options: object) -> Order:
    response = post_notify(client, publisher, body, **options)
    assert response.status_code == 200, response.content
    return Order.objects.filter(publisher=publisher).latest("id")


def _details(order: Order, kind: str | None = None) -> list[str]:
    events = OrderEvent.objects.filter(order=order).order_by("id")
    if kind is not None:
        events = events.filter(kind=kind)
    return list(events.values_list("detail", flat=True))


# Finding 2: free printing. An unconfirmed project holds its orders, whatever the balance.


def test_an_unconfirmed_project_at_zero_holds_its_orders_whatever_the_balance(client):
    publisher = make_publisher(balance="500.00")
    make_project(
        publisher, "777001", unit_cost="0.00", shipping_cost="0.00", prices_confirmed=False
    )
    order = _one_order(
        client, publisher, order_body(order_id=1001, product_id=777001, quantity=10_000)
    )
    assert (order.status, order.hold_reason) == (OrderStatus.HOLD, "price_pending")
    assert not LedgerEntry.objects.filter(order=order).exists()
    assert "not confirmed" in _details(order, OrderEventKind.HELD)[0]
    assert_money_invariants(publisher)


def test_a_test_order_of_an_unconfirmed_project_holds_with_price_pending(client):
    publisher = make_publisher(balance="500.00")
    make_project(publisher, "777001", prices_confirmed=False)
    order = _one_order(client, publisher, order_body(order_id=1002, product_id=777001), test=True)
    assert (order.status, order.hold_reason, order.is_test) == (
        OrderStatus.HOLD,
        "price_pending",
        True,
    )


def test_release_never_charges_a_price_pending_order_and_it_blocks_nobody(client):
    publisher = make_publisher(balance="0.00")
    pending = make_project(publisher, "777001", prices_confirmed=False)
    make_project(publisher, "279813")
    first = _one_order(client, publisher, order_body(order_id=1003, product_id=777001))
    second = _one_order(client, publisher, order_body(order_id=1004, product_id=279813))
    deposit_record(publisher=publisher, amount=Decimal("100.00"), actor=None)

    result = orders_release(publisher=publisher, order_ids=[first.pk, second.pk], actor=None)

    assert [o.pk for o in result.released] == [second.pk]
    assert result.kept == [(result.kept[0][0], "its price is not confirmed by TrepStar yet")]
    assert f"order {first.pk} its price is not confirmed by TrepStar yet" in result.message
    first.refresh_from_db()
    assert (first.status, first.hold_reason) == (OrderStatus.HOLD, "price_pending")
    assert pending.prices_confirmed is False
    assert_money_invariants(publisher)


def test_auto_release_skips_a_price_pending_order_and_charges_the_younger_one(client):
    publisher = make_publisher(balance="0.00", auto_release=True)
    make_project(publisher, "777001", prices_confirmed=False)
    make_project(publisher, "279813")
    first = _one_order(client, publisher, order_body(order_id=1005, product_id=777001))
    second = _one_order(client, publisher, order_body(order_id=1006, product_id=279813))
    _, released = deposit_record(publisher=publisher, amount=Decimal("50.00"), actor=None)
    assert released is not None and [o.pk for o in released.released] == [second.pk]
    first.refresh_from_db()
    assert first.status == OrderStatus.HOLD
    assert_money_invariants(publisher)


# hold_orders_refresh: the cost and reason of hold orders follow the project (finding 11, §7).


def test_refresh_recomputes_the_cost_of_hold_orders_with_an_event(client):
    from fulfillment.services.money import hold_orders_refresh

    publisher = make_publisher(balance="0.00")
    project = make_project(publisher, "279813", unit_cost="5.00", shipping_cost="2.00")
    order = _one_order(client, publisher, order_body(order_id=1101))
    assert order.cost == dollars("7.00")
    Project.objects.filter(pk=project.pk).update(unit_cost=Decimal("50.00"))

    with transaction.atomic():
        changed = hold_orders_refresh(publisher_id=publisher.pk, actor=None)

    assert changed == 1
    order.refresh_from_db()
    assert (order.cost, order.hold_reason) == (dollars("52.00"), HoldReason.PAYMENT_REQUIRED)
    assert _details(order, OrderEventKind.EDITED) == [
        "Cost now $52.00 (was $7.00): the project's prices changed."
    ]
    with transaction.atomic():
        assert hold_orders_refresh(publisher_id=publisher.pk, actor=None) == 0


def test_refresh_after_confirming_prices_moves_the_reason_through_the_status_writer(client):
    from fulfillment.services.money import hold_orders_refresh

    publisher = make_publisher(balance="0.00")
    pending = make_project(publisher, "777001", prices_confirmed=False)
    other = make_project(publisher, "777002", prices_confirmed=False)
    order = _one_order(client, publisher, order_body(order_id=1102, product_id=777001))
    untouched = _one_order(client, publisher, order_body(order_id=1103, product_id=777002))
    Project.objects.filter(pk__in=[pending.pk, other.pk]).update(
        prices_confirmed=True, unit_cost=Decimal("6.00")
    )

    with transaction.atomic():
        changed = hold_orders_refresh(publisher_id=publisher.pk, project_id=pending.pk, actor=None)

    assert changed == 1
    order.refresh_from_db()
    assert (order.status, order.hold_reason, order.cost) == (
        OrderStatus.HOLD,
        HoldReason.PAYMENT_REQUIRED,
        dollars("8.00"),
    )
    assert _details(order, OrderEventKind.EDITED) == [
        "Cost now $8.00 (was $7.00): the project's prices changed.",
        "Hold reason now payment required (was price not confirmed yet).",
    ]
    untouched.refresh_from_db()
    assert (untouched.hold_reason, untouched.cost) == (HoldReason.PRICE_PENDING, dollars("7.00"))


def test_refresh_leaves_charged_orders_alone(client):
    from fulfillment.services.money import hold_orders_refresh

    publisher = make_publisher(balance="100.00")
    project = make_project(publisher, "279813")
    order = _one_order(client, publisher, order_body(order_id=1104))
    assert order.status == OrderStatus.IN_PRODUCTION
    Project.objects.filter(pk=project.pk).update(unit_cost=Decimal("50.00"))
    with transaction.atomic():
        assert hold_orders_refresh(publisher_id=publisher.pk, actor=None) == 0
    order.refresh_from_db()
    assert order.cost == dollars("7.00")
    assert_money_invariants(publisher)
