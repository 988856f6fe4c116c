"""SPEC §17: an order the SamCart check found waits on hold `review` until a person (or the
Notify POST that arrives late) confirms it; the rule is direct here, end to end in
test_samcart_check.py."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from fulfillment.carts import parse_samcart
from fulfillment.models import (
    FoundBy,
    HoldReason,
    LedgerEntry,
    LedgerKind,
    Order,
    OrderStatus,
    Outcome,
    RunKind,
    SamcartCheckRun,
)
from fulfillment.services.deposits import deposit_record
from fulfillment.services.intake import orders_create_from_cart
from fulfillment.services.ledger import box_net_charge
from fulfillment.services.orders import order_update
from fulfillment.services.release import hold_orders_refresh, orders_release, orders_release_all
from fulfillment.services.status import order_hold_reason
from fulfillment.services.wording import KEPT_REVIEW
from tests.factories import make_project, make_publisher, post_notify
from tests.invariants import assert_money_invariants, order_body

pytestmark = pytest.mark.django_db


def _api_address_body(order_id: int, **options: object) -> bytes:
    """A body as the check builds it: the buyer's current address, not this sale's."""
    data = json.loads(order_body(order_id=order_id, **options))
    data["order"].update(shipping_address="1 Old Road", shipping_city="Dallas")
    return json.dumps(data).encode()


def _found(publisher, order_id: int = 9001, **options: object) -> Order:
    """Have the SamCart check create the order of one missing line."""
    now = timezone.now()
    run = SamcartCheckRun.objects.create(
        publisher=publisher,
        kind=RunKind.MANUAL,
        window_start=now - timedelta(days=1),
        window_end=now,
    )
    cart = parse_samcart(_api_address_body(order_id, **options), "application/json")
    with transaction.atomic():
        result = orders_create_from_cart(
            publisher_id=publisher.pk,
            notification_id=None,
            cart=cart,
            is_test=False,
            found_by_run=run,
        )
    assert result.outcome == Outcome.CREATED
    (order,) = result.created
    order.refresh_from_db()
    return order


def test_a_found_order_holds_for_review_even_when_funded():
    publisher = make_publisher(balance="100.00")
    make_project(publisher)
    order = _found(publisher)
    assert (order.status, order.hold_reason) == (OrderStatus.HOLD, HoldReason.REVIEW)
    assert order.found_by == FoundBy.SAMCART_CHECK and order.notification_id is None
    assert order.ship_street == "1 Old Road"
    assert not LedgerEntry.objects.filter(kind=LedgerKind.CHARGE).exists()


def test_the_rule_keeps_review_until_reviewed():
    publisher = make_publisher(balance="100.00")
    make_project(publisher)
    order = _found(publisher)
    assert order_hold_reason(order=order) == HoldReason.REVIEW
    assert order_hold_reason(order=order, reviewed=True) == HoldReason.PAYMENT_REQUIRED


def test_release_all_auto_release_and_price_refresh_leave_review_orders():
    publisher = make_publisher(balance="100.00", auto_release=True)
    make_project(publisher)
    order = _found(publisher)
    result = orders_release_all(publisher=publisher, actor=None)
    assert result.released == [] and result.kept[0][1] == KEPT_REVIEW
    deposit_record(publisher=publisher, amount=Decimal("10.00"), actor=None)
    hold_orders_refresh(publisher_id=publisher.pk, actor=None)
    order.refresh_from_db()
    assert order.hold_reason == HoldReason.REVIEW


def test_an_edit_keeps_review_and_a_chosen_release_charges():
    publisher = make_publisher(balance="100.00")
    make_project(publisher)
    order = _found(publisher)
    order_update(order=order, actor=None, ship_street="22 New Street")
    order.refresh_from_db()
    assert order.hold_reason == HoldReason.REVIEW
    result = orders_release(publisher=publisher, order_ids=[order.pk], actor=None, reviewed=True)
    assert result.released == [order]
    order.refresh_from_db()
    assert order.status == OrderStatus.IN_PRODUCTION and order.ship_street == "22 New Street"
    assert_money_invariants(publisher)


def test_a_chosen_release_without_money_ends_the_review_as_payment_required():
    publisher = make_publisher(balance="0.00")
    make_project(publisher)
    order = _found(publisher)
    orders_release(publisher=publisher, order_ids=[order.pk], actor=None, reviewed=True)
    order.refresh_from_db()
    assert (order.status, order.hold_reason) == (OrderStatus.HOLD, HoldReason.PAYMENT_REQUIRED)


def test_the_late_notify_post_replaces_the_address_and_charges_when_funded(client):
    publisher = make_publisher(balance="100.00")
    make_project(publisher)
    order = _found(publisher, order_id=9002)
    response = post_notify(client, publisher, order_body(order_id=9002))
    assert response.json()["outcome"] == Outcome.DUPLICATE
    order.refresh_from_db()
    assert order.ship_street == "4410 Larkspur Lane" and order.ship_city == "Austin"
    assert order.status == OrderStatus.IN_PRODUCTION
    assert order.notification_id == response.json()["notification"]
    assert Order.objects.count() == 1
    assert_money_invariants(publisher)


def test_the_late_notify_post_without_money_holds_payment_required(client):
    publisher = make_publisher(balance="0.00")
    make_project(publisher)
    order = _found(publisher, order_id=9003)
    post_notify(client, publisher, order_body(order_id=9003))
    order.refresh_from_db()
    assert (order.status, order.hold_reason) == (OrderStatus.HOLD, HoldReason.PAYMENT_REQUIRED)
    assert order.ship_street == "4410 Larkspur Lane"


def test_the_late_notify_post_with_an_incomplete_address_holds_for_it(client):
    publisher = make_publisher(balance="100.00")
    make_project(publisher)
    order = _found(publisher, order_id=9004)
    post_notify(client, publisher, order_body(order_id=9004, address=False))
    order.refresh_from_db()
    assert (order.status, order.hold_reason) == (OrderStatus.HOLD, HoldReason.ADDRESS_INCOMPLETE)


def test_after_the_review_a_late_post_changes_nothing(client):
    publisher = make_publisher(balance="0.00")
    make_project(publisher)
    order = _found(publisher, order_id=9005)
    order_update(order=order, actor=None, ship_street="22 Checked Street")
    orders_release(publisher=publisher, order_ids=[order.pk], actor=None, reviewed=True)
    post_notify(client, publisher, order_body(order_id=9005))
    order.refresh_from_db()
    assert order.ship_street == "22 Checked Street"
    assert order.hold_reason == HoldReason.PAYMENT_REQUIRED


def test_a_late_test_post_confirms_nothing(client):
    publisher = make_publisher(balance="100.00")
    make_project(publisher)
    order = _found(publisher, order_id=9006)
    post_notify(client, publisher, order_body(order_id=9006), test=True)
    order.refresh_from_db()
    assert order.hold_reason == HoldReason.REVIEW and order.ship_street == "1 Old Road"


# Boxes (SPEC §18): a review box is confirmed whole, and a late POST's new item joins it.


def test_a_found_box_of_several_items_is_confirmed_whole_by_one_late_post(client):
    publisher = make_publisher(balance="100.00")
    make_project(publisher, "279813", title="Book", unit_cost="6.00", shipping_cost="4.00")
    make_project(publisher, "298020", title="Bump", unit_cost="2.00", shipping_cost="1.00")
    box = _found(publisher, order_id=9010, extra_products=((298020, 2),))
    assert box.lines.count() == 2 and box.hold_reason == HoldReason.REVIEW

    response = post_notify(client, publisher, order_body(order_id=9010))  # the book's only

    assert response.json()["outcome"] == Outcome.DUPLICATE
    box.refresh_from_db()
    assert (box.status, box.ship_street) == (OrderStatus.IN_PRODUCTION, "4410 Larkspur Lane")
    assert box.cost == Decimal("14.00")  # 6.00 + 2 × 2.00 + the highest shipping, 4.00
    assert box_net_charge(order=box) == box.cost
    assert Order.objects.count() == 1
    assert_money_invariants(publisher)


def test_a_late_post_of_a_new_item_joins_the_review_box_and_confirms_it(client):
    publisher = make_publisher(balance="100.00")
    make_project(publisher, "279813", title="Book", unit_cost="6.00", shipping_cost="4.00")
    make_project(publisher, "298020", title="Bump", unit_cost="2.00", shipping_cost="1.00")
    box = _found(publisher, order_id=9011)  # the book's POST was lost; the check found it

    # The bump's POST, a new line, brings the sale's own address (not the guessed "1 Old Road").
    response = post_notify(client, publisher, order_body(order_id=9011, product_id=298020))

    assert response.json()["outcome"] == Outcome.CREATED
    [only] = Order.objects.all()
    assert only.pk == box.pk
    assert sorted(only.lines.values_list("project__title", flat=True)) == ["Book", "Bump"]
    assert (only.status, only.hold_reason) == (OrderStatus.IN_PRODUCTION, HoldReason.NONE)
    assert only.ship_street == "4410 Larkspur Lane"
    assert only.notification_id == response.json()["notification"]
    assert only.cost == Decimal("12.00") and box_net_charge(order=only) == only.cost
    assert_money_invariants(publisher)


def test_a_post_of_another_address_still_splits_from_a_confirmed_box(client):
    publisher = make_publisher(balance="0.00")
    make_project(publisher, "279813", title="Book")
    make_project(publisher, "298020", title="Bump")
    box = _found(publisher, order_id=9012)
    orders_release(publisher=publisher, order_ids=[box.pk], actor=None, reviewed=True)
    box.refresh_from_db()
    assert box.hold_reason == HoldReason.PAYMENT_REQUIRED  # reviewed, still on hold

    post_notify(client, publisher, order_body(order_id=9012, product_id=298020))

    assert Order.objects.count() == 2  # "4410 Larkspur Lane" is not the reviewed "1 Old Road"
