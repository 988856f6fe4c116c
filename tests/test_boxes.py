"""Issue 19's "Done when": one box per SamCart order, through the real Notify URL (SPEC §18).

Every purchase here is a POST through Django's test client to the publisher's Notify URL;
releases, cancels and line removals go through the services the admin and the API call.
After each test the money invariants of `tests.invariants` hold.

Prices are chosen so that every wrong formula shows: A costs 5.00 + 2.00 shipping, B 3.00 +
4.50, C 7.00 + 1.00, D 2.00 + 3.00. A box of A, B and C costs 15.00 + 4.50 (the highest
shipping, once) = 19.50; summed shippings would make 22.50, the first line's 17.00.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from fulfillment.models import (
    HoldReason,
    LedgerEntry,
    LedgerKind,
    Order,
    OrderEvent,
    OrderEventKind,
    OrderLine,
    OrderStatus,
    Outcome,
    Publisher,
    SplitReason,
)
from fulfillment.services.deposits import deposit_record
from fulfillment.services.lines import order_line_remove
from fulfillment.services.release import orders_release
from fulfillment.services.window import order_cancel, orders_start_production
from tests.factories import make_project, make_publisher, post_notify
from tests.invariants import assert_money_invariants, dollars, order_body

pytestmark = pytest.mark.django_db

A, B, C, D = 279813, 294010, 298020, 301477
PRICES = {A: ("5.00", "2.00"), B: ("3.00", "4.50"), C: ("7.00", "1.00"), D: ("2.00", "3.00")}
TITLES = {A: "Almanac", B: "Workbook", C: "Hardcover", D: "Diary"}
GROUPING = 10  # minutes a paid box waits for the rest of its SamCart order
ELSEWHERE = "99 Quarry Road"


def _publisher(balance: str, **fields: object) -> Publisher:
    """A publisher that groups for GROUPING minutes, with the four projects A–D."""
    fields.setdefault("grouping_minutes", GROUPING)
    publisher = make_publisher(balance=balance, **fields)
    for product, (unit, shipping) in PRICES.items():
        make_project(
            publisher,
            str(product),
            title=TITLES[product],
            unit_cost=unit,
            shipping_cost=shipping,
        )
    return publisher


def _body(order_id: str, *products: int, **options: object) -> bytes:
    """A SamCart Order body of `order_id` with one of each of `products`."""
    first, *rest = products
    extra = tuple((product, 1) for product in rest)
    return order_body(order_id=order_id, product_id=first, extra_products=extra, **options)


def _post(client, publisher: Publisher, body: bytes, outcome: str = Outcome.CREATED, **path):
    """POST `body` to the Notify URL; insist on `outcome`; return the answer's JSON."""
    answer = post_notify(client, publisher, body, **path)
    assert answer.status_code == 200, answer.content
    data = answer.json()
    assert data["outcome"] == outcome, data
    return data


def _boxes(publisher: Publisher) -> list[Order]:
    return list(Order.objects.filter(publisher=publisher).with_lines().order_by("box_number"))


def _products(box: Order) -> list[int]:
    return sorted(int(line.external_product_id) for line in box.active_lines())


def _box_ledger(box: Order) -> list[tuple[str, Decimal]]:
    entries = LedgerEntry.objects.filter(order=box).order_by("id")
    return [(entry.kind, entry.amount) for entry in entries]


def _balance(publisher: Publisher) -> Decimal:
    return Publisher.objects.get(pk=publisher.pk).balance


# 1. One body, three products: one box, three lines, one shipping (the highest).


def test_three_products_in_one_body_make_one_box_with_one_shipping(client):
    publisher = _publisher("100.00")
    _post(client, publisher, _body("S1", A, B, C))

    (box,) = _boxes(publisher)
    assert _products(box) == [A, B, C]
    assert box.cost == dollars("19.50")  # 5 + 3 + 7, and B's 4.50 shipping once
    assert box.status == OrderStatus.SCHEDULED
    assert box.production_at == box.charged_at + timedelta(minutes=GROUPING)
    assert _box_ledger(box) == [(LedgerKind.CHARGE, dollars("-19.50"))]
    assert _balance(publisher) == dollars("80.50")
    assert_money_invariants(publisher)


def test_a_box_costs_each_line_times_its_quantity(client):
    publisher = _publisher("100.00")
    body = order_body(order_id="S2", product_id=A, quantity=3, extra_products=((C, 2),))
    _post(client, publisher, body)

    (box,) = _boxes(publisher)
    assert box.cost == dollars("31.00")  # 3 × 5 + 2 × 7 + C's 1.00 < A's 2.00 shipping
    assert_money_invariants(publisher)


# 2. The same three products in three POSTs a second apart: one box, charged the differences.


def test_three_posts_a_second_apart_make_one_box(client):
    publisher = _publisher("100.00")
    _post(client, publisher, _body("S3", A))
    time.sleep(1)
    _post(client, publisher, _body("S3", B))
    time.sleep(1)
    _post(client, publisher, _body("S3", C))

    (box,) = _boxes(publisher)
    assert _products(box) == [A, B, C]
    assert box.cost == dollars("19.50")
    assert box.status == OrderStatus.SCHEDULED
    # The first charge, then each difference: 7.00; 12.50 − 7.00; 19.50 − 12.50.
    assert _box_ledger(box) == [
        (LedgerKind.CHARGE, dollars("-7.00")),
        (LedgerKind.CHARGE, dollars("-5.50")),
        (LedgerKind.CHARGE, dollars("-7.00")),
    ]
    assert _balance(publisher) == dollars("80.50")
    added = box.events.filter(kind=OrderEventKind.LINE_ADDED).count()
    assert added == 2
    assert_money_invariants(publisher)


def test_without_grouping_a_second_post_starts_a_box_after_production(client):
    """Grouping 0 and no edit window: a paid box goes straight to production, so the next
    line of its SamCart order cannot join it (the control of the test above)."""
    publisher = _publisher("100.00", grouping_minutes=0)
    _post(client, publisher, _body("S4", A))
    _post(client, publisher, _body("S4", B))

    first, second = _boxes(publisher)
    assert first.status == second.status == OrderStatus.IN_PRODUCTION
    assert second.split_reason == SplitReason.AFTER_PRODUCTION
    assert_money_invariants(publisher)


# 3. A POST after production_at: a second box, and the first says where the item went.


def test_a_line_after_production_starts_a_second_box_and_the_first_says_so(client):
    publisher = _publisher("100.00")
    _post(client, publisher, _body("S5", A, B, C))
    (first,) = _boxes(publisher)
    assert orders_start_production(order_ids=[first.pk], now=first.production_at) == 1
    _post(client, publisher, _body("S5", D))

    first, second = _boxes(publisher)
    assert first.status == OrderStatus.IN_PRODUCTION
    assert _products(first) == [A, B, C]
    assert (second.box_number, second.split_reason) == (2, SplitReason.AFTER_PRODUCTION)
    assert _products(second) == [D]
    assert (second.status, second.cost) == (OrderStatus.SCHEDULED, dollars("5.00"))
    note = first.events.get(kind=OrderEventKind.EDITED, detail__contains=f"order {second.pk}")
    assert "Diary" in note.detail
    assert "arrived after the first box went to production" in note.detail
    assert_money_invariants(publisher)


def test_a_line_after_production_at_starts_a_new_box_before_the_worker_moves_the_first(client):
    """The window ends at `production_at`, whether or not the worker has moved the box yet."""
    publisher = _publisher("100.00")
    _post(client, publisher, _body("S6", A))
    (first,) = _boxes(publisher)
    # Time passes: the box's production moment is now behind us (no worker ran).
    Order.objects.filter(pk=first.pk).update(production_at=timezone.now() - timedelta(seconds=1))
    _post(client, publisher, _body("S6", B))

    first, second = _boxes(publisher)
    assert first.status == OrderStatus.SCHEDULED
    assert _products(first) == [A]
    assert first.cost == dollars("7.00")
    assert (second.split_reason, _products(second)) == (SplitReason.AFTER_PRODUCTION, [B])
    assert_money_invariants(publisher)


# 4. Another address: a second box. No shipping address: joins.


def test_another_address_starts_a_second_box_and_both_say_why(client):
    publisher = _publisher("100.00")
    _post(client, publisher, _body("S7", A))
    _post(client, publisher, _body("S7", B, street=ELSEWHERE))

    first, second = _boxes(publisher)
    assert (_products(first), _products(second)) == ([A], [B])
    assert second.split_reason == SplitReason.ANOTHER_ADDRESS
    assert second.ship_street == ELSEWHERE
    assert first.status == second.status == OrderStatus.SCHEDULED
    note = first.events.get(kind=OrderEventKind.EDITED, detail__contains=f"order {second.pk}")
    assert "ships to another address" in note.detail
    # A third line to the first address still joins the first box.
    _post(client, publisher, _body("S7", C))
    first, second = _boxes(publisher)
    assert (_products(first), _products(second)) == ([A, C], [B])
    assert_money_invariants(publisher)


def test_the_same_address_written_differently_joins(client):
    publisher = _publisher("100.00")
    _post(client, publisher, _body("S8", A))  # 4410 Larkspur Lane, Austin
    _post(client, publisher, _body("S8", B, street="4410 LARKSPUR  lane."))

    (box,) = _boxes(publisher)
    assert _products(box) == [A, B]
    assert_money_invariants(publisher)


@pytest.mark.parametrize("use_billing", [False, True])
def test_a_post_without_a_shipping_address_joins_the_open_box(client, use_billing):
    """Nothing to disagree with: it joins, even when the publisher ships such purchases to
    the billing address and the buyer's billing street is another one."""
    publisher = _publisher("100.00", use_billing_address=use_billing)
    _post(client, publisher, _body("S9", A))
    data = json.loads(_body("S9", B, shipping=False))
    data["customer"]["billing_address"] = ELSEWHERE
    _post(client, publisher, json.dumps(data).encode())

    (box,) = _boxes(publisher)
    assert _products(box) == [A, B]
    assert box.ship_street == "4410 Larkspur Lane"
    assert box.status == OrderStatus.SCHEDULED
    assert_money_invariants(publisher)


# 5. A line joining a scheduled box: with the money for the difference, and without.


def test_a_line_joining_a_hold_box_follows_its_cost_and_charges_nothing(client):
    publisher = _publisher("0.00")
    _post(client, publisher, _body("S10", A))
    _post(client, publisher, _body("S10", B))

    (box,) = _boxes(publisher)
    assert (box.status, box.hold_reason) == (OrderStatus.HOLD, HoldReason.PAYMENT_REQUIRED)
    assert box.cost == dollars("12.50")
    assert _box_ledger(box) == []
    assert_money_invariants(publisher)


@pytest.mark.parametrize("balance", ["100.00", "12.50"])  # 12.50: exactly the difference left
def test_a_line_joining_a_scheduled_box_charges_the_difference(client, balance):
    publisher = _publisher(balance)
    _post(client, publisher, _body("S11", A))
    answer = _post(client, publisher, _body("S11", B))

    (box,) = _boxes(publisher)
    assert (box.status, box.cost) == (OrderStatus.SCHEDULED, dollars("12.50"))
    assert _box_ledger(box) == [
        (LedgerKind.CHARGE, dollars("-7.00")),
        (LedgerKind.CHARGE, dollars("-5.50")),
    ]
    assert _balance(publisher) == dollars(balance) - dollars("12.50")
    assert "Charged the difference, $5.50" in answer["detail"]
    assert_money_invariants(publisher)


def test_a_line_the_balance_cannot_pay_refunds_the_box_which_holds_until_released(client):
    publisher = _publisher("12.49")  # a cent short of the difference after the first charge
    _post(client, publisher, _body("S12", A))
    assert _balance(publisher) == dollars("5.49")
    _post(client, publisher, _body("S12", B))

    (box,) = _boxes(publisher)
    assert (box.status, box.hold_reason) == (OrderStatus.HOLD, HoldReason.PAYMENT_REQUIRED)
    assert (box.cost, box.charged_at, box.production_at) == (dollars("12.50"), None, None)
    assert _box_ledger(box) == [
        (LedgerKind.CHARGE, dollars("-7.00")),
        (LedgerKind.REFUND, dollars("7.00")),
    ]
    assert _balance(publisher) == dollars("12.49")
    held = box.events.get(kind=OrderEventKind.HELD)
    assert "refunded" in held.detail
    assert_money_invariants(publisher)

    deposit_record(publisher=publisher, amount=Decimal("0.01"), actor=None)
    result = orders_release(publisher=publisher, order_ids=[box.pk], actor=None)

    assert [order.pk for order in result.released] == [box.pk]
    (box,) = _boxes(publisher)
    assert (box.status, box.cost) == (OrderStatus.SCHEDULED, dollars("12.50"))
    assert _box_ledger(box)[-1] == (LedgerKind.CHARGE, dollars("-12.50"))  # whole, once
    assert _balance(publisher) == dollars("0.00")
    assert_money_invariants(publisher)


# 6. Cancel after a join; resends; a removed line; test orders.


def test_cancel_after_a_join_refunds_the_box_net_charge(client):
    publisher = _publisher("100.00")
    _post(client, publisher, _body("S13", A))
    _post(client, publisher, _body("S13", B))
    (box,) = _boxes(publisher)

    order_cancel(order=box, actor=None)

    (box,) = _boxes(publisher)
    assert box.status == OrderStatus.DELETED
    assert _box_ledger(box)[-1] == (LedgerKind.REFUND, dollars("12.50"))
    assert _balance(publisher) == dollars("100.00")
    assert_money_invariants(publisher)


def test_cancel_after_a_refund_and_a_release_gives_back_only_what_the_box_holds(client):
    publisher = _publisher("10.00")
    _post(client, publisher, _body("S14", A))
    _post(client, publisher, _body("S14", B))  # 5.50 more than the 3.00 left: refunded, held
    deposit_record(publisher=publisher, amount=Decimal("5.00"), actor=None)
    (box,) = _boxes(publisher)
    orders_release(publisher=publisher, order_ids=[box.pk], actor=None)

    order_cancel(order=box, actor=None)

    assert _box_ledger(box) == [
        (LedgerKind.CHARGE, dollars("-7.00")),
        (LedgerKind.REFUND, dollars("7.00")),
        (LedgerKind.CHARGE, dollars("-12.50")),
        (LedgerKind.REFUND, dollars("12.50")),
    ]
    assert _balance(publisher) == dollars("15.00")
    assert_money_invariants(publisher)


def test_a_resend_of_any_line_creates_nothing(client):
    publisher = _publisher("100.00")
    bodies = [_body("S15", A, B), _body("S15", C), _body("S15", D, street=ELSEWHERE)]
    for body in bodies:
        _post(client, publisher, body)
    before = _balance(publisher)

    for body in [*bodies, _body("S15", B), _body("S15", C, D)]:
        _post(client, publisher, body, Outcome.DUPLICATE)

    first, second = _boxes(publisher)
    assert (_products(first), _products(second)) == ([A, B, C], [D])
    assert OrderLine.objects.filter(publisher=publisher).count() == 4
    assert _balance(publisher) == before
    assert_money_invariants(publisher)


def test_a_new_product_beside_resent_ones_adds_only_itself(client):
    publisher = _publisher("100.00")
    _post(client, publisher, _body("S16", A, B))
    _post(client, publisher, _body("S16", A, B, C))

    (box,) = _boxes(publisher)
    assert _products(box) == [A, B, C]
    assert box.cost == dollars("19.50")
    assert_money_invariants(publisher)


def test_a_removed_line_stays_removed_when_resent(client):
    publisher = _publisher("0.00")
    _post(client, publisher, _body("S17", A, B))
    (box,) = _boxes(publisher)
    workbook = box.lines.get(external_product_id=str(B))
    order_line_remove(line=workbook, actor=None)

    _post(client, publisher, _body("S17", A, B), Outcome.DUPLICATE)
    _post(client, publisher, _body("S17", B), Outcome.DUPLICATE)

    (box,) = _boxes(publisher)
    assert _products(box) == [A]
    assert box.cost == dollars("7.00")
    workbook.refresh_from_db()
    assert workbook.removed_at is not None
    assert OrderLine.objects.filter(publisher=publisher).count() == 2
    assert_money_invariants(publisher)


def test_test_orders_group_into_one_box_and_are_never_charged(client):
    publisher = _publisher("100.00")
    _post(client, publisher, _body("S18", A), test=True)
    _post(client, publisher, _body("S18", B), test=True)

    (box,) = _boxes(publisher)
    assert box.is_test
    assert _products(box) == [A, B]
    assert (box.status, box.cost) == (OrderStatus.HOLD, dollars("12.50"))
    assert not LedgerEntry.objects.filter(order=box).exists()
    assert _balance(publisher) == dollars("100.00")
    result = orders_release(publisher=publisher, order_ids=[box.pk], actor=None)
    assert result.released == []
    assert_money_invariants(publisher)


def test_the_first_box_event_and_the_joins_are_in_its_history(client):
    """The history of a box tells its creation, its charge and each item that joined."""
    publisher = _publisher("100.00")
    _post(client, publisher, _body("S19", A))
    _post(client, publisher, _body("S19", B))

    (box,) = _boxes(publisher)
    kinds = list(OrderEvent.objects.filter(order=box).values_list("kind", flat=True))
    assert kinds == [OrderEventKind.CREATED, OrderEventKind.CHARGED, OrderEventKind.LINE_ADDED]
