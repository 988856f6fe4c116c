"""Which box new lines of a SamCart order go in (SPEC §18), rule by rule, through the Notify URL.

`services.boxes.box_choose` decides; these tests drive it with real POSTs and read the boxes.
"""

from __future__ import annotations

import json

import pytest

from fulfillment.carts.base import Address
from fulfillment.models import Order, OrderStatus, Publisher, SplitReason
from fulfillment.services.boxes import address_key
from fulfillment.services.orders import order_delete, order_update
from tests.factories import make_project, make_publisher, post_notify
from tests.invariants import assert_money_invariants, order_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def publisher() -> Publisher:
    publisher = make_publisher(balance="100.00", grouping_minutes=10)
    make_project(publisher, "279813", title="Almanac")
    make_project(publisher, "294010", title="Workbook")
    return publisher


def _boxes(order_id: str) -> list[Order]:
    return list(Order.objects.filter(external_order_id=order_id).order_by("box_number"))


def test_the_address_fingerprint_ignores_case_spaces_and_punctuation():
    one = Address(street="12 Main St.", city="Austin", postal_code="78701", country_code="US")
    same = Address(street="12  main st", city="AUSTIN", postal_code="78701 ", country_code="US")
    other = Address(street="14 Main St.", city="Austin", postal_code="78701", country_code="US")

    assert address_key(one) == address_key(same)
    assert address_key(one) != address_key(other)
    assert address_key(Address()) == ""


def test_a_corrected_box_address_still_takes_the_bump_sent_to_the_old_one(client, publisher):
    post_notify(client, publisher, order_body(order_id="C1"))
    (box,) = _boxes("C1")
    order_update(order=box, actor=None, ship_street="99 Corrected Road")

    post_notify(client, publisher, order_body(order_id="C1", product_id=294010))

    (box,) = _boxes("C1")  # the bump came with the address SamCart sent first: same box
    assert box.lines.count() == 2
    assert box.ship_street == "99 Corrected Road"
    assert_money_invariants(publisher)


def _shipped_to(order_id: str, product_id: int, street: str) -> bytes:
    data = json.loads(order_body(order_id=order_id, product_id=product_id))
    data["order"]["shipping_address"] = street
    return json.dumps(data).encode()


def test_a_bump_sent_to_the_corrected_address_joins_too(client, publisher):
    post_notify(client, publisher, order_body(order_id="C2"))
    (box,) = _boxes("C2")
    order_update(order=box, actor=None, ship_street="99 Corrected Road")

    post_notify(client, publisher, _shipped_to("C2", 294010, "99 corrected road."))

    assert [b.lines.count() for b in _boxes("C2")] == [2]


def test_a_bump_to_another_street_starts_a_second_box_that_says_why(client, publisher):
    post_notify(client, publisher, order_body(order_id="C3"))

    post_notify(client, publisher, _shipped_to("C3", 294010, "1 Elsewhere Lane"))

    first, second = _boxes("C3")
    assert (first.lines.count(), second.lines.count()) == (1, 1)
    assert (second.box_number, second.split_reason) == (2, SplitReason.ANOTHER_ADDRESS)
    assert first.events.filter(detail__contains=f"order {second.pk}").exists()
    assert_money_invariants(publisher)


def test_a_test_purchase_never_joins_a_real_box(client, publisher):
    post_notify(client, publisher, order_body(order_id="T1"))

    post_notify(client, publisher, order_body(order_id="T1", product_id=294010), test=True)

    real, test = _boxes("T1")
    assert (real.is_test, test.is_test) == (False, True)
    assert (real.lines.count(), test.lines.count()) == (1, 1)
    assert test.status == OrderStatus.HOLD  # never charged
    assert_money_invariants(publisher)


def test_a_line_after_the_box_was_deleted_starts_a_box_that_says_so(client):
    publisher = make_publisher(balance="0.00", grouping_minutes=10)
    make_project(publisher, "279813")
    make_project(publisher, "294010")
    post_notify(client, publisher, order_body(order_id="D1"))
    (first,) = _boxes("D1")
    order_delete(order=first, actor=None)

    post_notify(client, publisher, order_body(order_id="D1", product_id=294010))

    first, second = _boxes("D1")
    assert (first.status, second.box_number) == (OrderStatus.DELETED, 2)
    assert second.split_reason == SplitReason.AFTER_CLOSED
    assert first.events.filter(detail__contains=f"order {second.pk}").exists()
