"""Build data documents for the SamCart stand-in in the API's documented shapes (tests, demo)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

JSON = dict[str, Any]
PRICE_CENTS = 2400


def standin_data(
    *, api_key: str, orders: Iterable[JSON] = (), customers: Iterable[JSON] = ()
) -> JSON:
    """Return a stand-in document: the key, the orders, the customers keyed by their id."""
    return {
        "api_key": api_key,
        "orders": list(orders),
        "customers": {str(customer["id"]): customer for customer in customers},
    }


def standin_order(
    id: int,
    product_id: int | str | Sequence[int | str],
    quantity: int = 1,
    status: str = "charged",
    test_mode: bool = False,
    order_date: datetime | str | None = None,
    customer_id: int | None = None,
) -> JSON:
    """Return an order as GET /orders lists it: one cart item per product id.

    The date defaults to now; the customer to 500000 + id (give `standin_customer` that id).
    """
    products = [product_id] if isinstance(product_id, int | str) else list(product_id)
    items = [
        standin_item(id * 100 + n, product, quantity=quantity, status=status)
        for n, product in enumerate(products, start=1)
    ]
    subtotal = sum(item["initial_price"] * item["quantity"] for item in items)
    return {
        "id": id,
        "customer_id": 500_000 + id if customer_id is None else customer_id,
        "affiliate_id": None,
        "test_mode": test_mode,
        "order_date": _iso(order_date or datetime.now(UTC)),
        "cart_items": items,
        "subtotal": subtotal,
        "discount": 0,
        "taxes": 0,
        "shipping": 0,
        "total": subtotal,
        "custom_fields": [],
    }


def standin_item(
    id: int,
    product_id: int | str,
    *,
    quantity: int = 1,
    status: str = "charged",
) -> JSON:
    """Return one cart item; prices are in cents, as the API sends them."""
    return {
        "id": id,
        "product_id": product_id,
        "sku": f"SKU-{product_id}",
        "product_name": f"Product {product_id}",
        "internal_product_name": f"product-{product_id}",
        "charge_id": id,
        "subscription_id": None,
        "pricing_type": "one_time",
        "quantity": quantity,
        "currency": "USD",
        "status": status,
        "initial_price": PRICE_CENTS,
        "recurring_price": None,
    }


def standin_customer(
    id: int,
    *,
    first_name: str = "Ada",
    last_name: str = "Testwell",
    email: str = "ada.testwell@example.com",
    phone: str = "",
    shipping: JSON | None = None,
    billing: JSON | None = None,
) -> JSON:
    """Return a customer as GET /orders/{id}/customer answers; addresses default to one in IL."""
    shipping = standin_address() if shipping is None else shipping
    billing = shipping if billing is None else billing
    addresses = [{**shipping, "type": "shipping"}] if shipping else []
    addresses += [{**billing, "type": "billing"}] if billing else []
    return {
        "id": id,
        "first_name": first_name,
        "last_name": last_name,
        "email": email,
        "phone": phone,
        "addresses": addresses,
    }


def standin_address(
    *,
    street: str = "1 Sample Street",
    city: str = "Springfield",
    state: str = "IL",
    region: str = "",
    postal_code: str = "62701",
    country: str = "United States",
) -> JSON:
    """Return an address; pass `shipping={}` to standin_customer for a customer without one."""
    return {
        "street": street,
        "postal_code": postal_code,
        "city": city,
        "state": state,
        "region": region,
        "country": country,
    }


def _iso(moment: datetime | str) -> str:
    """Return ISO-8601 UTC with "Z"; text is taken as it is (tests send odd dates on purpose)."""
    if isinstance(moment, str):
        return moment
    moment = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
    return moment.isoformat().replace("+00:00", "Z")
