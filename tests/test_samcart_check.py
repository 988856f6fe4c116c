"""The SamCart check end to end (SPEC §17): sales in the stand-in over real HTTP, the Notify
POSTs that did arrive through the real Notify URL, the check, then the late POSTs.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from fulfillment.models import (
    FindingKind,
    FoundBy,
    HoldReason,
    Order,
    OrderStatus,
    Outcome,
    RunKind,
    RunStatus,
)
from fulfillment.services.review import REVIEW_ADDRESS_REPLACED
from fulfillment.services.samcart_check import samcart_check_run
from tests.factories import make_project, post_notify
from tests.samcart_world import buyer, notify_body, sale, serve, with_key

pytestmark = pytest.mark.django_db

# Ten paid SamCart sales; 7 Notify POSTs reached us (those in DELIVERED).
SALES = [
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
        (o.external_order_id, o.external_product_id, o.project.title)
        for o in Order.objects.filter(publisher=publisher)
    }


def test_the_check_orders_exactly_the_missing_mapped_lines(client, funded_publisher, standin):
    publisher = with_key(funded_publisher)
    serve(
        standin,
        SALES,
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
    serve(standin, SALES)
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
    serve(standin, SALES)
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
    assert Order.objects.get(external_order_id="7200").project.title == "Late Map"


def test_quantity_that_differs_is_a_finding_not_a_change(client, funded_publisher, standin):
    publisher = with_key(funded_publisher)
    serve(standin, [sale(7300, 279813, quantity=3)])
    _deliver(client, publisher, [(7300, [(279813, 2)])])

    run = samcart_check_run(publisher=publisher)

    order = Order.objects.get(external_order_id="7300")
    assert order.quantity == 2
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
