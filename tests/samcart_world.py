"""Test world of the SamCart check: the stand-in API over real HTTP, a publisher with a key,
Notify bodies for the same sales, and our orders made in bulk for the statement counts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from fulfillment.models import HoldReason, Order, OrderLine, OrderStatus, Project, Publisher
from fulfillment.samcart_api import SamcartClient
from fulfillment.samcart_api.standin import StandinServer
from fulfillment.samcart_api.standin_data import (
    standin_address,
    standin_customer,
    standin_data,
    standin_order,
)
from fulfillment.services.samcart_keys import publisher_set_samcart_key

KEY = "sc-key-0123456789abcdef"


@pytest.fixture
def standin(settings) -> Iterator[StandinServer]:
    """The SamCart stand-in, empty, with the key KEY; the app's client points at it."""
    with StandinServer(standin_data(api_key=KEY)) as server:
        settings.SAMCART_API_BASE_URL = server.base_url
        settings.SAMCART_API_TIMEOUT = 5.0
        yield server


def with_key(publisher: Publisher, key: str = KEY) -> Publisher:
    """Give `publisher` a SamCart API key, as the account page does."""
    publisher_set_samcart_key(publisher=publisher, key=key, actor=None)
    return publisher


def an_hour_ago() -> datetime:
    return timezone.now() - timedelta(hours=1)


def sale(order_id: int, products: int | Sequence[int], **options: object) -> dict:
    """A SamCart order an hour old (the stand-in's builder with our default date)."""
    options.setdefault("order_date", an_hour_ago())
    return standin_order(order_id, products, **options)  # type: ignore[arg-type]


def buyer(order_id: int, street: str = "1 Sample Street", **options: object) -> dict:
    """The customer record of the sale `order_id` (the stand-in's default customer id).

    `billing_only`: no shipping address, a billing address at `street`.
    """
    address = standin_address(street=street)
    if options.pop("billing_only", False):
        options.update(shipping={}, billing=address)
    else:
        options.setdefault("shipping", address)
    return standin_customer(500_000 + order_id, **options)  # type: ignore[arg-type]


def serve(server: StandinServer, orders: list[dict], customers: list[dict] = ()) -> None:
    """Put these orders and customers in the stand-in (a customer for every order by default)."""
    given = {c["id"] for c in customers}
    others = [buyer(o["id"]) for o in orders if o["customer_id"] not in given]
    server.set_data(standin_data(api_key=KEY, orders=orders, customers=[*customers, *others]))


def client_for(server: StandinServer, sleeps: list[float], tries: int = 5) -> SamcartClient:
    """A client of the stand-in that records its waits instead of sleeping."""
    return SamcartClient(
        api_key=KEY, base_url=server.base_url, timeout=5.0, tries=tries, sleep=sleeps.append
    )


def notify_body(
    order_id: int,
    products: Sequence[tuple[int, int]],
    *,
    street: str = "17 Orchard Hill Court",
    created_at: str = "",
) -> str:
    """The Notify POST SamCart sends for a sale: (product id, quantity) pairs, a VT address."""
    body = {
        "type": "Order",
        "products": [
            {
                "id": pid,
                "name": f"Product {pid}",
                "price": "24.00",
                "status": "Charged",
                "quantity": q,
            }
            for pid, q in products
        ],
        "customer": {
            "first_name": "Tobias",
            "last_name": "Lindqvist",
            "email": "t.lindqvist@example.net",
            "phone_number": "+1 802 555 0100",
        },
        "order": {
            "id": order_id,
            "created_at": created_at or an_hour_ago().isoformat(),
            "shipping_address": street,
            "shipping_city": "Montpelier",
            "shipping_state": "VT",
            "shipping_zip": "05602",
            "shipping_country": "United States",
        },
    }
    return json.dumps(body)


def our_orders(publisher: Publisher, project: Project, order_ids: range, product_id: str) -> None:
    """Write our boxes of these SamCart orders directly, one line each (setup for the
    statement counts)."""
    boxes = Order.objects.bulk_create(
        Order(
            publisher=publisher,
            external_order_id=str(order_id),
            cost=project.unit_cost + project.shipping_cost,
            status=OrderStatus.HOLD,
            hold_reason=HoldReason.PAYMENT_REQUIRED,
        )
        for order_id in order_ids
    )
    OrderLine.objects.bulk_create(
        OrderLine(
            order=box,
            publisher=publisher,
            project=project,
            external_order_id=box.external_order_id,
            external_product_id=product_id,
            quantity=1,
            unit_cost=project.unit_cost,
            shipping_cost=project.shipping_cost,
        )
        for box in boxes
    )
