"""The SamCart check end to end (SPEC §17): sales in the stand-in over real HTTP, the Notify
POSTs that did arrive through the real Notify URL, the check, then the late POSTs.
"""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from fulfillment.models import (
    FindingKind,
    FoundBy,
    HoldReason,
    LedgerEntry,
    Order,
    OrderEventKind,
    OrderLine,
    OrderStatus,
    Outcome,
    RunKind,
    RunStatus,
    SplitReason,
)
from fulfillment.services.ledger import box_net_charge
from fulfillment.services.lines import order_line_remove
from fulfillment.services.orders import order_delete
from fulfillment.services.review import REVIEW_ADDRESS_REPLACED
from fulfillment.services.samcart_check import samcart_check_run
from fulfillment.services.status import CHARGED_STATUSES
from tests.factories import make_project, make_publisher, post_notify
from tests.samcart_world import buyer, notify_body, sale, serve, with_key

pytestmark = pytest.mark.django_db


def sales() -> list[dict]:
    """Ten paid SamCart sales, an hour old when the test runs (not when the module was
    imported: a slow suite reaches these tests many minutes later); 7 Notify POSTs reached us
    (those in DELIVERED)."""
    return [
        sale(7001, [279813, 298020]),  # two items: the POST came per item, only the first arrived
        sale(7002, 279813),
        sale(7003, 279813, quantity=2),
        sale(7004, 294010),  # Workbook and Bundle both list 294010: two orders
        sale(7005, 279813),  # missing
        sale(7006, 298020),  # missing
        sale(7007, 279813),
        sale(7008, 279813, status="refunded"),  # paid, printed, then refunded in SamCart
        sale(7009, 279813, test_mode=True),  # test order: never counted
        sale(7010, 555555),  # a product no project lists: never counted
    ]


DELIVERED = [
    (7001, [(279813, 1)]),
    (7002, [(279813, 1)]),
    (7003, [(279813, 2)]),
    (7004, [(294010, 1)]),
    (7007, [(279813, 1)]),
    (7008, [(279813, 1)]),
    (7010, [(555555, 1)]),  # no_match
]
MISSING = {("7001", "298020"), ("7005", "279813"), ("7006", "298020")}


def _deliver(client, publisher, deliveries) -> list[str]:
    outcomes = []
    for order_id, products in deliveries:
        answer = post_notify(client, publisher, notify_body(order_id, products))
        assert answer.status_code == 200
        outcomes.append(answer.json()["outcome"])
    return outcomes


def _lines(publisher) -> set[tuple[str, str, str]]:
    return {
        (line.external_order_id, line.external_product_id, line.project.title)
        for line in OrderLine.objects.filter(publisher=publisher).select_related("project")
    }


def test_the_check_orders_exactly_the_missing_mapped_lines(client, funded_publisher, standin):
    publisher = with_key(funded_publisher)
    serve(
        standin,
        sales(),
        [buyer(7005, street="9 Elm Row"), buyer(7006, street="2 Billing Road", billing_only=True)],
    )
    assert _deliver(client, publisher, DELIVERED).count(Outcome.NO_MATCH) == 1
    before = _lines(publisher)

    run = samcart_check_run(publisher=publisher, kind=RunKind.REGULAR)

    assert (run.status, run.kind) == (RunStatus.OK, RunKind.FIRST)
    assert (run.pages, run.orders_seen, run.lines_seen) == (1, 10, 11)
    assert (run.lines_counted, run.missing, run.created) == (8, 3, 3)
    new = Order.objects.filter(publisher=publisher, found_by=FoundBy.SAMCART_CHECK)
    assert _lines(publisher) - before == {
        ("7001", "298020", "Bundle"),
        ("7005", "279813", "Almanac"),
        ("7006", "298020", "Bundle"),
    }
    for order in new:
        assert (order.status, order.hold_reason) == (OrderStatus.HOLD, HoldReason.REVIEW)
        assert order.found_by_run == run and order.notification is None
        assert order.ship_name == "Ada Testwell"
    assert new.get(external_order_id="7005").ship_street == "9 Elm Row"
    # No shipping address in the customer record: the billing one.
    assert new.get(external_order_id="7006").ship_street == "2 Billing Road"
    created = {(f["order_id"], f["product_id"]) for f in run.findings if f["kind"] == "created"}
    assert created == MISSING
    assert all(f["orders"] for f in run.findings if f["kind"] == "created")
    refunded = Order.objects.get(publisher=publisher, external_order_id="7008")
    assert refunded.cart_refunded and refunded.status != OrderStatus.HOLD
    [finding] = [f for f in run.findings if f["kind"] == FindingKind.REFUNDED]
    assert finding["orders"] == [refunded.pk] and finding["item_status"] == "refunded"
    assert not Order.objects.filter(external_order_id__in=["7009", "7010"]).exists()
    assert run.finished_at is not None and run.error == ""


def test_a_second_run_finds_nothing_new(client, funded_publisher, standin):
    publisher = with_key(funded_publisher)
    serve(standin, sales())
    _deliver(client, publisher, DELIVERED)
    first = samcart_check_run(publisher=publisher)
    counts = Order.objects.count(), publisher.ledger.count()

    second = samcart_check_run(publisher=publisher)

    assert second.kind == RunKind.REGULAR
    assert second.window_start == first.window_end - timedelta(hours=1)
    assert (second.status, second.lines_counted, second.missing, second.created) == (
        RunStatus.OK,
        8,
        0,
        0,
    )
    assert second.findings == []  # the refund was flagged by the first run: not said again
    assert (Order.objects.count(), publisher.ledger.count()) == counts


def test_a_late_notify_post_is_a_duplicate_and_confirms_with_its_address(
    client, funded_publisher, standin
):
    publisher = with_key(funded_publisher)
    serve(standin, sales())
    _deliver(client, publisher, DELIVERED)
    samcart_check_run(publisher=publisher)
    found = Order.objects.get(external_order_id="7005")
    balance = publisher.ledger.count()

    late = post_notify(client, publisher, notify_body(7005, [(279813, 1)], street="5 Late Lane"))

    assert late.json()["outcome"] == Outcome.DUPLICATE
    found.refresh_from_db()
    assert found.ship_street == "5 Late Lane" and found.ship_name == "Tobias Lindqvist"
    assert found.status in (OrderStatus.IN_PRODUCTION, OrderStatus.SCHEDULED)
    assert found.charged_at is not None and publisher.ledger.count() == balance + 1
    assert found.notification_id == late.json()["notification"]
    assert found.events.filter(detail__startswith=REVIEW_ADDRESS_REPLACED[:40]).exists()
    # The line the check ordered for 7001 (per-item POST, second item) is confirmed the same way.
    second_item = post_notify(client, publisher, notify_body(7001, [(298020, 1)]))
    assert second_item.json()["outcome"] == Outcome.DUPLICATE
    assert (
        not Order.objects.filter(publisher=publisher, status=OrderStatus.HOLD)
        .exclude(external_order_id="7006")
        .exists()
    )
    assert Order.objects.filter(external_order_id="7001").count() == 2  # nothing doubled


def test_a_late_post_without_funds_leaves_the_order_held_for_payment(
    client, unfunded_publisher, standin
):
    publisher = with_key(unfunded_publisher)
    serve(standin, [sale(7100, 279813)])
    run = samcart_check_run(publisher=publisher)
    [found] = run.orders.all()
    assert found.hold_reason == HoldReason.REVIEW

    late = post_notify(client, publisher, notify_body(7100, [(279813, 1)], street="5 Late Lane"))

    assert late.json()["outcome"] == Outcome.DUPLICATE
    found.refresh_from_db()
    assert (found.status, found.hold_reason) == (OrderStatus.HOLD, HoldReason.PAYMENT_REQUIRED)
    assert found.ship_street == "5 Late Lane" and found.charged_at is None


def test_a_line_that_ended_no_match_is_missing_once_it_maps(client, standin, funded_publisher):
    publisher = with_key(funded_publisher)
    serve(standin, [sale(7200, 424242)])
    assert _deliver(client, publisher, [(7200, [(424242, 1)])]) == [Outcome.NO_MATCH]
    make_project(publisher, "424242", title="Late Map")

    run = samcart_check_run(publisher=publisher)

    assert (run.lines_counted, run.missing, run.created) == (1, 1, 1)
    [line] = Order.objects.get(external_order_id="7200").lines.all()
    assert line.project.title == "Late Map"


def test_quantity_that_differs_is_a_finding_not_a_change(client, funded_publisher, standin):
    publisher = with_key(funded_publisher)
    serve(standin, [sale(7300, 279813, quantity=3)])
    _deliver(client, publisher, [(7300, [(279813, 2)])])

    run = samcart_check_run(publisher=publisher)

    order = Order.objects.get(external_order_id="7300")
    assert [line.quantity for line in order.lines.all()] == [2]
    assert run.findings == [
        {
            "kind": FindingKind.QUANTITY,
            "order_id": "7300",
            "product_id": "279813",
            "item_status": "charged",
            "quantity": 3,
            "orders": [order.pk],
        }
    ]


def test_pending_declined_and_inactive_lines_are_not_counted(client, standin, funded_publisher):
    publisher = with_key(funded_publisher)
    make_project(publisher, "616161", is_active=False)
    serve(
        standin,
        [
            sale(7400, 279813, status="pending"),
            sale(7401, 279813, status="declined"),
            sale(7402, 616161),
            sale(7403, 279813, status="fulfilled"),
        ],
    )

    run = samcart_check_run(publisher=publisher)

    assert (run.lines_seen, run.lines_counted, run.created) == (4, 1, 1)
    assert list(Order.objects.values_list("external_order_id", flat=True)) == ["7403"]


def test_sales_outside_the_window_are_not_read(client, funded_publisher, standin):
    publisher = with_key(funded_publisher)
    now = timezone.now()
    serve(
        standin,
        [
            sale(7500, 279813, order_date=now - timedelta(days=4)),  # before a first run's 3 days
            sale(7501, 279813, order_date=now - timedelta(minutes=5)),  # left to its POST
            sale(7502, 279813, order_date=now - timedelta(days=2)),
        ],
    )

    run = samcart_check_run(publisher=publisher, now=now)

    assert (run.orders_seen, run.created) == (1, 1)
    assert Order.objects.get().external_order_id == "7502"


# Boxes (SPEC §18): the check compares by line; a found line joins the open box of its order.


def _assert_box_money(publisher) -> None:
    """SPEC §18's money per box: the balance is its ledger's sum, never below zero; a box's
    ledger sums to −cost while charged (scheduled, in production, shipped), else to 0."""
    publisher.refresh_from_db()
    amounts = LedgerEntry.objects.filter(publisher=publisher).values_list("amount", flat=True)
    assert publisher.balance == sum(amounts, Decimal(0)) >= 0
    for box in Order.objects.filter(publisher=publisher):
        charged = box.status in CHARGED_STATUSES and not box.is_test
        assert box_net_charge(order=box) == (box.cost if charged else 0), box


def _box_of(order_id: int) -> Order:
    return Order.objects.with_lines().get(external_order_id=str(order_id))


def _products(box: Order) -> list[str]:
    return [line.external_product_id for line in box.active_lines()]


def test_a_bump_the_notify_url_never_delivered_joins_the_box_of_its_main_product(
    client, funded_publisher, standin
):
    publisher = with_key(funded_publisher)
    publisher.grouping_minutes = 10  # the paid box waits: open for later lines
    publisher.save(update_fields=["grouping_minutes"])
    serve(standin, [sale(7601, [279813, 298020])], [buyer(7601, street="3 Elsewhere Way")])
    _deliver(client, publisher, [(7601, [(279813, 1)])])  # the bump's POST never came
    box = _box_of(7601)
    assert (box.status, box.cost) == (OrderStatus.SCHEDULED, Decimal("11.45"))

    run = samcart_check_run(publisher=publisher)

    box = _box_of(7601)
    assert Order.objects.filter(publisher=publisher).count() == 1
    assert _products(box) == ["279813", "298020"]
    # The normal join rule: a scheduled box is charged the difference and stays scheduled;
    # the address is the one its Notify POST brought, not the customer record's.
    assert (box.status, box.hold_reason, box.found_by) == (
        OrderStatus.SCHEDULED,
        HoldReason.NONE,
        FoundBy.NOTIFY,
    )
    assert box.ship_street == "17 Orchard Hill Court"
    assert box.cost == Decimal("20.35")  # 6.50 + 8.90 + one shipping, the highest: 4.95
    assert box_net_charge(order=box) == box.cost
    assert [(f["kind"], f["product_id"], f["orders"]) for f in run.findings] == [
        (FindingKind.CREATED, "298020", [box.pk])
    ]
    assert run.created == 1
    assert box.events.filter(kind=OrderEventKind.LINE_ADDED).exists()
    _assert_box_money(publisher)
    # The bump's POST arriving late is a duplicate and changes nothing.
    late = post_notify(client, publisher, notify_body(7601, [(298020, 1)]))
    assert late.json()["outcome"] == Outcome.DUPLICATE
    assert _box_of(7601).cost == Decimal("20.35")
    assert samcart_check_run(publisher=publisher).findings == []


def test_a_found_line_joining_a_held_box_follows_its_hold(client, unfunded_publisher, standin):
    publisher = with_key(unfunded_publisher)
    serve(standin, [sale(7602, [279813, 298020])])
    _deliver(client, publisher, [(7602, [(279813, 1)])])

    samcart_check_run(publisher=publisher)

    box = _box_of(7602)
    assert _products(box) == ["279813", "298020"]
    assert (box.status, box.hold_reason) == (OrderStatus.HOLD, HoldReason.PAYMENT_REQUIRED)
    assert box.cost == Decimal("20.35") and box_net_charge(order=box) == 0


def test_a_found_line_the_balance_cannot_pay_holds_the_whole_box(client, standin):
    publisher = with_key(make_publisher(balance="15.00", grouping_minutes=10))
    make_project(publisher, "279813", title="Almanac", unit_cost="6.50", shipping_cost="4.95")
    make_project(publisher, "298020", title="Bump", unit_cost="8.90", shipping_cost="0.00")
    serve(standin, [sale(7603, [279813, 298020])])
    _deliver(client, publisher, [(7603, [(279813, 1)])])
    assert _box_of(7603).status == OrderStatus.SCHEDULED

    samcart_check_run(publisher=publisher)

    box = _box_of(7603)
    assert _products(box) == ["279813", "298020"]
    assert (box.status, box.hold_reason) == (OrderStatus.HOLD, HoldReason.PAYMENT_REQUIRED)
    assert box_net_charge(order=box) == 0 and box.charged_at is None
    _assert_box_money(publisher)


def test_with_no_open_box_the_found_line_starts_a_review_box(client, funded_publisher, standin):
    publisher = with_key(funded_publisher)  # grouping 0: the first box went to production
    serve(standin, [sale(7604, [279813, 298020])], [buyer(7604, street="3 Elsewhere Way")])
    _deliver(client, publisher, [(7604, [(279813, 1)])])
    first = _box_of(7604)
    assert first.status == OrderStatus.IN_PRODUCTION

    run = samcart_check_run(publisher=publisher)

    second = Order.objects.with_lines().get(external_order_id="7604", box_number=2)
    assert _products(second) == ["298020"]
    assert (second.status, second.hold_reason) == (OrderStatus.HOLD, HoldReason.REVIEW)
    assert (second.split_reason, second.found_by_run) == (SplitReason.AFTER_PRODUCTION, run)
    assert second.ship_street == "3 Elsewhere Way"  # the customer record's: hence the review
    assert first.events.filter(detail__contains=f"order {second.pk}").exists()
    assert _products(_box_of_number(7604, 1)) == ["279813"]


def _box_of_number(order_id: int, number: int) -> Order:
    return Order.objects.with_lines().get(external_order_id=str(order_id), box_number=number)


def test_the_missing_lines_of_one_order_make_one_review_box_a_late_post_confirms(
    client, funded_publisher, standin
):
    publisher = with_key(funded_publisher)
    serve(standin, [sale(7605, [279813, 298020])])

    run = samcart_check_run(publisher=publisher)

    [box] = Order.objects.with_lines().filter(external_order_id="7605")
    assert _products(box) == ["279813", "298020"]
    assert (box.status, box.hold_reason) == (OrderStatus.HOLD, HoldReason.REVIEW)
    assert sorted(f["product_id"] for f in run.findings) == ["279813", "298020"]
    assert all(f["orders"] == [box.pk] for f in run.findings)
    # The main product's POST arrives late: it confirms the box, both items, with its address.
    late = post_notify(client, publisher, notify_body(7605, [(279813, 1)], street="5 Late Lane"))
    assert late.json()["outcome"] == Outcome.DUPLICATE
    box = _box_of(7605)
    assert (box.status, box.ship_street) == (OrderStatus.IN_PRODUCTION, "5 Late Lane")
    assert box_net_charge(order=box) == box.cost == Decimal("20.35")
    _assert_box_money(publisher)


def test_a_removed_line_is_held_not_missing_and_not_compared(client, unfunded_publisher, standin):
    publisher = with_key(unfunded_publisher)
    serve(standin, [sale(7606, [279813, 298020], quantity=3)])
    _deliver(client, publisher, [(7606, [(279813, 3), (298020, 3)])])
    bump = OrderLine.objects.get(external_order_id="7606", external_product_id="298020")
    order_line_remove(line=bump, actor=None)

    run = samcart_check_run(publisher=publisher)

    assert (run.lines_counted, run.missing, run.created, run.findings) == (2, 0, 0, [])
    OrderLine.objects.filter(pk=bump.pk).update(quantity=1)  # a removed line: never compared
    line = OrderLine.objects.get(external_order_id="7606", external_product_id="279813")
    OrderLine.objects.filter(pk=line.pk).update(quantity=1)  # a live line of another quantity
    again = samcart_check_run(publisher=publisher, kind=RunKind.DAILY)
    assert [(f["kind"], f["product_id"]) for f in again.findings] == [
        (FindingKind.QUANTITY, "279813")
    ]


def test_a_bundle_finding_names_its_box_once(client, funded_publisher, standin):
    publisher = with_key(funded_publisher)
    serve(standin, [sale(7607, 294010, quantity=2)])  # Workbook and Bundle: two lines
    _deliver(client, publisher, [(7607, [(294010, 1)])])

    run = samcart_check_run(publisher=publisher)

    box = _box_of(7607)
    assert len(box.active_lines()) == 2
    assert run.findings == [
        {
            "kind": FindingKind.QUANTITY,
            "order_id": "7607",
            "product_id": "294010",
            "item_status": "charged",
            "quantity": 2,
            "orders": [box.pk],
        }
    ]
    serve(standin, [sale(7610, 294010)])  # a bundle never delivered: two lines, one box
    found = samcart_check_run(publisher=publisher, kind=RunKind.DAILY)
    box = _box_of(7610)
    assert len(box.active_lines()) == 2
    assert [(f["kind"], f["orders"]) for f in found.findings] == [(FindingKind.CREATED, [box.pk])]


def test_a_refund_the_check_sees_flags_the_box_and_names_its_line(
    client, funded_publisher, standin
):
    publisher = with_key(funded_publisher)
    refunded = sale(7608, [279813, 298020])
    refunded["cart_items"][1]["status"] = "refunded"  # the bump alone was refunded
    serve(standin, [refunded])
    _deliver(client, publisher, [(7608, [(279813, 1), (298020, 1)])])

    run = samcart_check_run(publisher=publisher)

    box = _box_of(7608)
    assert box.cart_refunded and box.status == OrderStatus.IN_PRODUCTION
    flagged = {line.external_product_id: line.cart_refunded for line in box.active_lines()}
    assert flagged == {"279813": False, "298020": True}
    [event] = box.events.filter(kind=OrderEventKind.CART_REFUNDED)
    assert "1 item: Bundle" in event.detail and "seen by the SamCart check" in event.detail
    assert [(f["kind"], f["product_id"], f["orders"]) for f in run.findings] == [
        (FindingKind.REFUNDED, "298020", [box.pk])
    ]
    assert samcart_check_run(publisher=publisher).findings == []  # flagged: not said again


@pytest.mark.parametrize("event_type", ["Refund", "Cancel"])
def test_a_refund_post_flags_the_box_and_names_the_lines_it_names(
    client, funded_publisher, event_type
):
    publisher = funded_publisher
    _deliver(client, publisher, [(7609, [(279813, 1), (298020, 1)])])
    body = json.loads(notify_body(7609, [(298020, 1)]))
    body["type"] = event_type

    answer = post_notify(client, publisher, json.dumps(body))

    assert answer.json()["outcome"] == Outcome.IGNORED
    box = _box_of(7609)
    assert box.cart_refunded and box.status == OrderStatus.IN_PRODUCTION
    flagged = {line.external_product_id: line.cart_refunded for line in box.active_lines()}
    assert flagged == {"279813": False, "298020": True}
    [event] = box.events.filter(kind=OrderEventKind.CART_REFUNDED)
    assert (
        event.detail
        == f'SamCart sent "{event_type}" for this order: refunded in SamCart (1 item: Bundle).'
    )
    # A body naming no product it has flags every line left.
    body["products"] = [{"id": 999999, "name": "Other", "quantity": 1, "price": "1.00"}]
    post_notify(client, publisher, json.dumps(body))
    assert all(line.cart_refunded for line in _box_of(7609).active_lines())


def test_the_refunded_lines_of_one_order_are_named_in_one_event(client, funded_publisher, standin):
    publisher = with_key(funded_publisher)
    serve(standin, [sale(7611, [279813, 298020], status="refunded")])
    _deliver(client, publisher, [(7611, [(279813, 1), (298020, 1)])])

    run = samcart_check_run(publisher=publisher)

    box = _box_of(7611)
    assert all(line.cart_refunded for line in box.active_lines()) and box.cart_refunded
    [event] = box.events.filter(kind=OrderEventKind.CART_REFUNDED)
    assert "(2 items: Almanac, Bundle)" in event.detail
    assert [(f["kind"], f["product_id"]) for f in run.findings] == [
        (FindingKind.REFUNDED, "279813"),
        (FindingKind.REFUNDED, "298020"),
    ]


def test_a_line_of_a_deleted_box_is_held_not_missing_and_not_compared(
    client, unfunded_publisher, standin
):
    publisher = with_key(unfunded_publisher)
    serve(standin, [sale(7612, 279813, quantity=3)])
    _deliver(client, publisher, [(7612, [(279813, 1)])])  # another quantity, then deleted
    order_delete(order=_box_of(7612), actor=None)

    run = samcart_check_run(publisher=publisher)

    assert (run.lines_counted, run.missing, run.created, run.findings) == (1, 0, 0, [])
    assert Order.objects.filter(external_order_id="7612").count() == 1
