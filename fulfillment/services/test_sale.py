"""Test sales from the account page (issue 20 #10): a SamCart-shaped test purchase, sent
through the Notify URL's own service path, so it is stored and answered exactly as SamCart's
POST with `test=1` would be.

Three kinds: a product of one of the publisher's projects (a test order is made), a product
id no project lists (`no_match`), and a mapped product with no shipping street (a test order
on hold, address incomplete). The SamCart order id starts with `TEST-`, which SamCart never
sends (its ids are numbers), so a test sale can never take the place of a real SamCart line in
the exactly-once rule. A publisher sends at most `TEST_SALES_PER_MINUTE` a minute.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlencode

from django.utils import timezone

from fulfillment.ids import id_or_none
from fulfillment.limits import TEST_SALES_PER_MINUTE
from fulfillment.models import Notification, Order, ProjectCartId, Publisher

from .errors import ServiceError
from .notifications import NotifyAnswer
from .replay import notification_receive_guarded
from .throttle import rate_count

__test__ = False  # a product module whose name pytest would otherwise collect

DEFAULT_STREET = "1 Sample Street"
TEST_ORDER_PREFIX = "TEST-"
UNMAPPED_PREFIX = "unmapped-test-"
RATE_WINDOW_SECONDS = 60
ERROR_TOO_MANY = (
    f"No test sale sent: at most {TEST_SALES_PER_MINUTE} test sales a minute. "
    "Try again in a minute."
)
ERROR_NO_PRODUCT = (
    "No test sale sent: none of your active projects lists a SamCart product ID yet. Set one "
    "under Projects → Advanced Settings → eCommerceIDString, or send the unmapped-product test."
)
ERROR_NOT_YOUR_PRODUCT = "No test sale sent: choose one of the product IDs your projects list."


class TestSaleKind(StrEnum):
    """What a test sale tries: a mapped product, an unmapped one, an incomplete address."""

    __test__ = False  # not a pytest class

    MAPPED = "mapped"
    UNMAPPED = "unmapped"
    INCOMPLETE = "incomplete_address"

    @property
    def label(self) -> str:
        """Return the choice as the account page offers it."""
        return TEST_SALE_LABELS[self]


TEST_SALE_LABELS = {
    TestSaleKind.MAPPED: "A product of one of your projects (makes a test order)",
    TestSaleKind.UNMAPPED: "A product ID no project lists (answers no_match, makes nothing)",
    TestSaleKind.INCOMPLETE: "A product of your projects, shipping address without a street "
    "(a test order on hold, address incomplete)",
}


@dataclass(frozen=True)
class TestSaleResult:
    """What a test sale did: the Notify URL's answer and the stored notification."""

    __test__ = False  # not a pytest class

    answer: NotifyAnswer
    notification: Notification | None


def build_body(
    *,
    event_type: str,
    product_ids: list[str],
    quantity: int,
    order_id: str,
    quantities: dict[str, int] | None = None,
    street: str = DEFAULT_STREET,
) -> dict[str, Any]:
    """Return a body shaped like SamCart's `products[]` notifications.

    Every product has `quantity` copies unless `quantities` gives it its own; `street` is the
    shipping street (the billing address stays the same).
    """
    quantities = quantities or {}
    return {
        "type": event_type,
        "api_key": None,
        "products": [
            {
                "id": id_or_none(pid) or pid,
                "name": f"Product {pid}",
                "price": "24.00",
                "status": "Charged",
                "shipping": "0.00",
                "tax": "0.00",
                "quantity": quantities.get(pid) or quantity,
            }
            for pid in product_ids
        ],
        "customer": {
            "first_name": "Ada",
            "last_name": "Testwell",
            "email": "ada.testwell@example.com",
            "phone_number": None,
            "customer_id": 24000001,
            "billing_address": DEFAULT_STREET,
            "billing_city": "Springfield",
            "billing_state": "IL",
            "billing_zip": "62701",
            "billing_country": "United States",
        },
        "order": {
            "id": id_or_none(order_id) or order_id,
            "created_at": timezone.now().isoformat(timespec="seconds"),
            "total": "24.00",
            "processor": "Stripe",
            "custom_fields": [],
            "upsell_custom_fields": [],
            "shipping_address": street,
            "shipping_city": "Springfield",
            "shipping_state": "IL",
            "shipping_zip": "62701",
            "shipping_country": "United States",
        },
        "affiliate": [],
    }


def mapped_products(publisher: Publisher) -> list[tuple[str, str]]:
    """Return (SamCart product id, project title) for the ids the publisher's active
    projects list, by id."""
    rows = (
        ProjectCartId.objects.for_publisher(publisher)
        .filter(project__is_active=True)
        .order_by("external_id", "project__title")
        .values_list("external_id", "project__title")
    )
    titles: dict[str, list[str]] = {}
    for external_id, title in rows:
        titles.setdefault(external_id, []).append(title)
    return [(pid, ", ".join(names)) for pid, names in titles.items()]


def _unmapped_id(publisher: Publisher) -> str:
    """Return a product id none of the publisher's projects lists (active or not)."""
    while True:
        candidate = UNMAPPED_PREFIX + secrets.token_hex(4)
        if not ProjectCartId.objects.for_publisher(publisher).filter(external_id=candidate):
            return candidate


def _product_for(publisher: Publisher, kind: TestSaleKind, product_id: str) -> str:
    """Return the product id the test sale sends, or raise ServiceError in words."""
    if kind == TestSaleKind.UNMAPPED:
        return _unmapped_id(publisher)
    mapped = [pid for pid, _title in mapped_products(publisher)]
    if not mapped:
        raise ServiceError(ERROR_NO_PRODUCT)
    if not product_id:
        return mapped[0]
    if product_id not in mapped:
        raise ServiceError(ERROR_NOT_YOUR_PRODUCT)
    return product_id


def send_test_sale(
    *,
    publisher: Publisher,
    kind: TestSaleKind,
    product_id: str = "",
    remote_addr: str | None = None,
) -> TestSaleResult:
    """Send one test sale through the Notify URL's service path; return its answer.

    Raises ServiceError (nothing stored) past the rate limit or without a product to send.
    """
    product = _product_for(publisher, kind, product_id)
    bucket = f"test-sales:{publisher.pk}"
    if rate_count(bucket=bucket, window=RATE_WINDOW_SECONDS) > TEST_SALES_PER_MINUTE:
        raise ServiceError(ERROR_TOO_MANY)
    order_id = TEST_ORDER_PREFIX + secrets.token_hex(6).upper()
    street = "" if kind == TestSaleKind.INCOMPLETE else DEFAULT_STREET
    body = build_body(
        event_type="Order", product_ids=[product], quantity=1, order_id=order_id, street=street
    )
    query = urlencode({"idpub": publisher.idpub, "key": publisher.notify_key, "test": "1"})
    data = json.dumps(body).encode()
    answer = notification_receive_guarded(
        query_string=query,
        body=data,
        body_size=len(data),
        content_type="application/json",
        remote_addr=remote_addr,
    )
    notification = None
    if answer.notification_id is not None:
        notification = Notification.objects.filter(pk=answer.notification_id).first()
    return TestSaleResult(answer=answer, notification=notification)


def sale_boxes(notification: Notification) -> list[Order]:
    """Return the boxes the test sale's notification made or joined, by number."""
    return list(Order.objects.filter(lines__notification=notification).distinct().order_by("pk"))


def sale_notification(publisher: Publisher, notification_id: int | None) -> Notification | None:
    """Return the publisher's test notification with this id, or None (another's, a real one,
    or no id)."""
    if notification_id is None:
        return None
    return (
        Notification.objects.for_publisher(publisher)
        .filter(pk=notification_id, is_test=True)
        .first()
    )
