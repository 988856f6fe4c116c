"""The Notify URL through the real view: the answer table of SPEC §4 and the orders of §6."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from fulfillment.models import (
    HoldReason,
    Notification,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    Outcome,
    Publisher,
)
from fulfillment.services.notifications import (
    DETAIL_BAD_KEY,
    DETAIL_IDPUB_MISSING,
    DETAIL_TOO_LARGE,
    DETAIL_UNKNOWN_PUBLISHER,
    KEEP_UNAUTHENTICATED,
    MAX_BODY,
)
from fulfillment.services.orders import order_delete
from fulfillment.services.publishers import publisher_rotate_key
from fulfillment.services.reprocess import notification_reprocess
from tests.factories import make_project, make_publisher, notify_path, post_notify, sample

pytestmark = pytest.mark.django_db

# Sample → (outcome, [(product id, project title, quantity)]) for the conftest publishers.
EXPECTED_ORDERS = {
    "order_products_array": [("279813", "Almanac", 1)],
    "order_legacy_product_object": [("279813", "Almanac", 1)],
    "order_three_products": [
        ("279813", "Almanac", 2),
        ("294010", "Bundle", 1),
        ("294010", "Workbook", 1),
        ("298020", "Bundle", 1),
    ],
    "order_legacy_comma_ids": [
        ("279813", "Almanac", 1),
        ("294010", "Bundle", 1),
        ("294010", "Workbook", 1),
        ("298020", "Bundle", 1),
    ],
    "order_per_item_part1": [("279813", "Almanac", 1)],
    "order_per_item_part2": [("294010", "Bundle", 1), ("294010", "Workbook", 1)],
    "order_without_shipping": [("279813", "Almanac", 1)],
}


def _lines(order_id: str) -> list[tuple[str, str, int]]:
    lines = OrderLine.objects.filter(external_order_id=order_id).select_related("project")
    return sorted((li.external_product_id, li.project.title, li.quantity) for li in lines)


def _order_id(name: str) -> str:
    return str(json.loads(sample(name))["order"]["id"])


@pytest.mark.parametrize("name", sorted(EXPECTED_ORDERS))
def test_each_order_sample_creates_its_orders_once(client, funded_publisher, name):
    first = post_notify(client, funded_publisher, sample(name))

    assert first.status_code == 200
    assert first.json()["outcome"] == Outcome.CREATED
    assert _lines(_order_id(name)) == EXPECTED_ORDERS[name]
    stored = Notification.objects.get(pk=first.json()["notification"])
    assert bytes(stored.raw_body) == sample(name)
    assert stored.outcome == Outcome.CREATED
    assert stored.event_type == "Order"
    assert stored.external_order_id == _order_id(name)
    box = Order.objects.get(external_order_id=_order_id(name))  # one box per purchase
    assert f"Created TrepStar order {box.pk} ({len(EXPECTED_ORDERS[name])} item" in stored.detail

    counts = (
        Order.objects.count(),
        OrderLine.objects.count(),
        OrderEvent.objects.count(),
        funded_publisher.ledger.count(),
    )
    again = post_notify(client, funded_publisher, sample(name))

    assert again.status_code == 200
    assert again.json()["outcome"] == Outcome.DUPLICATE
    assert "Already received" in again.json()["detail"]
    assert (
        Order.objects.count(),
        OrderLine.objects.count(),
        OrderEvent.objects.count(),
        funded_publisher.ledger.count(),
    ) == counts
    assert Notification.objects.count() == 2


def test_order_fields_come_from_the_sample(client, funded_publisher):
    post_notify(client, funded_publisher, sample("order_three_products"))

    order = Order.objects.get(lines__external_product_id="279813", external_order_id="35211902")
    assert order.publisher == funded_publisher
    assert order.source == "samcart"
    assert order.ship_name == "Tobias Lindqvist"
    assert (order.ship_street, order.ship_city, order.ship_state) == (
        "17 Orchard Hill Court",
        "Montpelier",
        "VT",
    )
    assert (order.ship_postal_code, order.ship_country, order.ship_country_code) == (
        "05602",
        "United States",
        "US",
    )
    assert order.customer_email == "t.lindqvist@example.net"
    # The box: Almanac 6.50 × 2, Workbook 3.20, Bundle 8.90 twice, and one shipping (4.95).
    assert order.cost == Decimal("6.50") * 2 + Decimal("3.20") + Decimal("8.90") * 2 + Decimal(
        "4.95"
    )
    assert order.notification.event_type == "Order"
    assert not order.is_test


def test_per_item_posts_of_one_purchase_add_up(client, funded_publisher):
    Publisher.objects.filter(pk=funded_publisher.pk).update(grouping_minutes=10)
    post_notify(client, funded_publisher, sample("order_per_item_part1"))
    second = post_notify(client, funded_publisher, sample("order_per_item_part2"))

    assert second.json()["outcome"] == Outcome.CREATED
    assert "Joined TrepStar order" in second.json()["detail"]
    assert len(_lines("35211950")) == 3
    box = Order.objects.get(external_order_id="35211950")  # one box, one shipping
    assert (box.status, box.lines.count()) == (OrderStatus.SCHEDULED, 3)


def test_refund_flags_matching_orders_and_changes_nothing_else(client, funded_publisher):
    post_notify(client, funded_publisher, sample("order_products_array"))
    order = Order.objects.get(external_order_id="35211874")
    balance = funded_publisher.ledger.count(), order.status

    response = post_notify(client, funded_publisher, sample("refund"))

    assert response.status_code == 200
    assert response.json()["outcome"] == Outcome.IGNORED
    order.refresh_from_db()
    assert order.cart_refunded
    assert (funded_publisher.ledger.count(), order.status) == balance
    assert order.events.filter(kind="cart_refunded").count() == 1
    post_notify(client, funded_publisher, sample("refund"))
    assert order.events.filter(kind="cart_refunded").count() == 1


@pytest.mark.parametrize("name", ["cancel", "partial_refund", "recurring_payment_succeeded"])
def test_other_types_are_ignored_and_create_nothing(client, funded_publisher, name):
    response = post_notify(client, funded_publisher, sample(name))

    assert response.status_code == 200
    assert response.json()["outcome"] == Outcome.IGNORED
    assert Order.objects.count() == 0


def test_no_match_names_the_ids_and_where_to_set_them(client):
    publisher = make_publisher(balance="100.00")
    make_project(publisher, "111111")

    response = post_notify(client, publisher, sample("order_three_products"))

    assert response.status_code == 200
    body = response.json()
    assert body["outcome"] == Outcome.NO_MATCH
    for product_id in ("279813", "294010", "298020"):
        assert product_id in body["detail"]
    assert "eCommerceIDString" in body["detail"]
    assert "Advanced Settings" in body["detail"]
    assert Order.objects.count() == 0


def test_a_no_match_is_stored_with_its_outcome_in_one_write_and_reads_as_a_processed_one(client):
    """Issue 21: the read decides a no_match, so the store writes the outcome with the body
    (one INSERT, no processing pass); the row is the one a processing pass would leave."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    publisher = make_publisher(balance="100.00")
    make_project(publisher, "111111")
    with CaptureQueriesContext(connection) as captured:
        response = post_notify(client, publisher, sample("order_three_products"))

    writes = [
        q["sql"] for q in captured.captured_queries if q["sql"].startswith(("INSERT", "UPDATE"))
    ]
    assert len(writes) == 1 and writes[0].startswith('INSERT INTO "fulfillment_notification"')
    stored = Notification.objects.get()
    assert (stored.outcome, stored.http_status, stored.attempts) == (Outcome.NO_MATCH, 200, 1)
    assert stored.processed_at is not None and stored.next_attempt_at is None
    assert stored.event_type == "Order" and stored.external_order_id
    assert "279813" in stored.detail and stored.detail == response.json()["detail"]
    # Reprocessing it (the product is mapped now) takes the usual pass and creates the order.
    make_project(publisher, "279813")
    answer = notification_reprocess(notification=stored)
    assert answer.outcome == Outcome.CREATED
    assert Order.objects.filter(notification=stored).count() == 1


def test_partial_match_names_the_unmatched_ids(client):
    publisher = make_publisher(balance="100.00")
    make_project(publisher, "279813")

    response = post_notify(client, publisher, sample("order_three_products"))

    assert response.json()["outcome"] == Outcome.CREATED
    assert "Not matched: SamCart product ID 294010, 298020" in response.json()["detail"]


def test_inactive_projects_and_other_publishers_projects_do_not_match(client):
    publisher = make_publisher(balance="100.00")
    other = make_publisher(balance="100.00")
    make_project(publisher, "279813", is_active=False)
    make_project(other, "279813")

    response = post_notify(client, publisher, sample("order_products_array"))

    assert response.json()["outcome"] == Outcome.NO_MATCH
    assert Order.objects.count() == 0


def test_deleted_hold_order_stays_deleted_on_resend(client, unfunded_publisher):
    post_notify(client, unfunded_publisher, sample("order_products_array"))
    order = Order.objects.get()
    order_delete(order=order, actor=None)

    response = post_notify(client, unfunded_publisher, sample("order_products_array"))

    assert response.json()["outcome"] == Outcome.DUPLICATE
    assert "stays deleted" in response.json()["detail"]
    assert list(Order.objects.values_list("status", flat=True)) == [OrderStatus.DELETED]


def test_missing_shipping_address_holds_unless_billing_is_allowed(client, funded_publisher):
    post_notify(client, funded_publisher, sample("order_without_shipping"))
    order = Order.objects.get()
    assert (order.status, order.hold_reason) == (OrderStatus.HOLD, HoldReason.ADDRESS_INCOMPLETE)

    billing = make_publisher(balance="100.00", use_billing_address=True)
    make_project(billing, "279813")
    post_notify(client, billing, sample("order_without_shipping"))
    shipped = Order.objects.get(publisher=billing)
    assert shipped.status == OrderStatus.IN_PRODUCTION
    assert (shipped.ship_street, shipped.ship_city) == ("120 Juniper Street", "Boise")


def test_test_orders_are_marked_and_never_charged(client, funded_publisher):
    response = post_notify(client, funded_publisher, sample("order_products_array"), test=True)

    assert response.json()["outcome"] == Outcome.CREATED
    order = Order.objects.get()
    assert order.is_test
    assert order.status == OrderStatus.HOLD
    assert Notification.objects.get().is_test
    assert funded_publisher.ledger.filter(kind="charge").count() == 0


def test_path_without_trailing_slash_is_not_redirected(client, funded_publisher):
    response = post_notify(client, funded_publisher, sample("order_products_array"), slash=False)

    assert response.status_code == 200
    assert response.json()["outcome"] == Outcome.CREATED


def test_form_encoded_body_is_accepted(client, funded_publisher):
    response = post_notify(
        client,
        funded_publisher,
        sample("order_form_encoded.txt"),
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 200
    assert response.json()["outcome"] == Outcome.CREATED
    assert Order.objects.exists()


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"", "empty"),
        (b"   ", "empty"),
        (b"{not json", "JSON"),
        (b'{"type": "Order", "products": [{"id": NaN}]}', "NaN"),
        (b"\xff\xfe\xfa", "UTF-8"),
        (b"[" * 5000 + b"]" * 5000, ""),
        (b'{"orderSummary": {"total": 24}}', "type"),
        (b'{"event_type": "order.completed", "data": {"id": 1}}', "type"),
        (b'{"type": "Order", "order": {"id": 5}, "products": []}', "product"),
    ],
)
def test_bad_bodies_answer_400_are_stored_and_create_nothing(
    client, funded_publisher, body, fragment
):
    response = post_notify(client, funded_publisher, body)

    assert response.status_code == 400
    assert response.json()["outcome"] == Outcome.REJECTED
    assert fragment in response.json()["detail"]
    stored = Notification.objects.get()
    assert bytes(stored.raw_body) == body
    assert stored.outcome == Outcome.REJECTED
    assert Order.objects.count() == 0


def test_missing_or_malformed_idpub_answers_400(client):
    for path in ("/samcart/notify/", "/samcart/notify/?idpub=12ab", "/samcart/notify/?idpub=12"):
        response = client.post(
            path, data=sample("order_products_array"), content_type="application/json"
        )
        assert response.status_code == 400
        assert response.json() == {
            "outcome": Outcome.REJECTED,
            "detail": DETAIL_IDPUB_MISSING,
            "notification": Notification.objects.latest("id").pk,
        }
    assert Notification.objects.filter(publisher=None).count() == 3


def test_unknown_publisher_answers_404(client, funded_publisher):
    response = client.post(
        "/samcart/notify/?idpub=1000000&key=x", data=b"{}", content_type="application/json"
    )

    assert response.status_code == 404
    assert response.json()["outcome"] == Outcome.UNKNOWN_PUBLISHER
    assert response.json()["detail"] == DETAIL_UNKNOWN_PUBLISHER


@pytest.mark.parametrize("key", ["", "wrong", "é-not-ascii"])
def test_bad_or_missing_key_answers_403_and_creates_nothing(client, funded_publisher, key):
    response = post_notify(client, funded_publisher, sample("order_products_array"), key=key)

    assert response.status_code == 403
    assert response.json()["detail"] == DETAIL_BAD_KEY
    assert Order.objects.count() == 0
    stored = Notification.objects.get()
    assert stored.outcome == Outcome.REJECTED
    assert funded_publisher.notify_key not in stored.detail


def test_key_not_required_accepts_any_key(client):
    publisher = make_publisher(balance="50.00", require_notify_key=False)
    make_project(publisher, "279813")

    response = post_notify(client, publisher, sample("order_products_array"), key="")

    assert response.json()["outcome"] == Outcome.CREATED


def test_unauthenticated_bodies_keep_only_64_kib(client, funded_publisher):
    body = b'{"type": "Order", "pad": "' + b"x" * (200 * 1024) + b'"}'

    post_notify(client, funded_publisher, body, key="wrong")

    stored = Notification.objects.get()
    assert len(bytes(stored.raw_body)) == KEEP_UNAUTHENTICATED
    assert stored.body_truncated
    assert stored.body_size == len(body)


def test_body_over_one_mib_answers_413_and_is_stored_truncated(client, funded_publisher):
    body = b'{"type": "Order", "pad": "' + b"x" * MAX_BODY + b'"}'

    response = post_notify(client, funded_publisher, body)

    assert response.status_code == 413
    assert response.json()["detail"] == DETAIL_TOO_LARGE
    stored = Notification.objects.get()
    assert stored.outcome == Outcome.REJECTED
    assert stored.body_truncated
    assert len(bytes(stored.raw_body)) == MAX_BODY


def test_rotated_key_keeps_the_previous_one_for_seven_days(client, funded_publisher):
    old_key = funded_publisher.notify_key
    publisher_rotate_key(publisher=funded_publisher, actor=None)
    funded_publisher.refresh_from_db()

    assert funded_publisher.notify_key != old_key
    ok = post_notify(client, funded_publisher, sample("order_products_array"), key=old_key)
    assert ok.status_code == 200
    new = post_notify(client, funded_publisher, sample("order_legacy_product_object"))
    assert new.status_code == 200

    funded_publisher.previous_key_valid_until = timezone.now() - timedelta(seconds=1)
    funded_publisher.save(update_fields=["previous_key_valid_until"])
    expired = post_notify(client, funded_publisher, sample("order_three_products"), key=old_key)
    assert expired.status_code == 403


def test_get_checks_a_pasted_url_and_stores_nothing(client, funded_publisher):
    good = client.get(notify_path(funded_publisher))
    bad_key = client.get(notify_path(funded_publisher, key="nope"))
    unknown = client.get("/samcart/notify/?idpub=1000000&key=x")
    malformed = client.get("/samcart/notify/?idpub=abc")

    assert good.status_code == 200
    assert "ready for SamCart" in good.json()["detail"]
    assert bad_key.status_code == 403
    assert unknown.status_code == 404
    assert malformed.status_code == 404
    assert Notification.objects.count() == 0


def test_other_methods_are_refused_without_storing(client, funded_publisher):
    response = client.put(notify_path(funded_publisher), data=b"{}")

    assert response.status_code == 405
    assert Notification.objects.count() == 0


def test_remote_address_and_content_type_are_stored(client, funded_publisher):
    client.post(
        notify_path(funded_publisher),
        data=sample("order_products_array"),
        content_type="application/json; charset=utf-8",
        REMOTE_ADDR="203.0.113.9",
    )

    stored = Notification.objects.get()
    assert stored.remote_addr == "203.0.113.9"
    assert stored.content_type == "application/json; charset=utf-8"
    assert stored.processed_at is not None
