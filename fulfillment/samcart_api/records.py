"""The orders and customers SamCart's API sends, turned into small typed records.

Pure: no I/O, no ORM. Text is cleaned and the country normalised by the same functions the
Notify URL parser uses, so an address reads the same whichever way it reached us.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from fulfillment.carts.base import Address

# One cleaning rule and one time rule for both SamCart sources (STYLE 13): the Notify parser's.
from fulfillment.carts.samcart import LIMITS, MAX_ID_LENGTH, clean_text, order_time
from fulfillment.countries import country_code
from fulfillment.samcart_api.errors import ERR_ORDER, ERR_SHAPE, BadResponse

# A quantity must fit a database integer; whether it is sensible is the check's business.
MAX_API_QUANTITY = 2**31 - 1
_WHOLE = re.compile(r"[0-9]{1,12}(?:\.0*)?")
_FLAGS = {"true": True, "1": True, "false": False, "0": False, "": False}


@dataclass(frozen=True)
class ApiCartItem:
    """One line of a SamCart order: what the check compares. `status` is lower case."""

    id: str
    product_id: str
    quantity: int
    status: str
    product_name: str


@dataclass(frozen=True)
class ApiOrder:
    """One SamCart order; ids are text, as the Notify URL's are."""

    id: str
    customer_id: str
    test_mode: bool
    order_date: datetime | None
    items: tuple[ApiCartItem, ...]


@dataclass(frozen=True)
class ApiCustomer:
    """The buyer of an order with the shipping and billing addresses SamCart keeps."""

    id: str
    first_name: str
    last_name: str
    email: str
    phone: str
    shipping: Address
    billing: Address


class _Unusable(ValueError):
    """A field that cannot be read; the caller names the order it belongs to."""


def page_from_json(data: object, what: str) -> tuple[list[ApiOrder], str | None]:
    """Return the orders of one listing page and its `pagination.next` (None on the last)."""
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise BadResponse(ERR_SHAPE.format(what=what, detail='no "data" list'))
    pagination = data.get("pagination") or {}
    following = pagination.get("next") if isinstance(pagination, dict) else None
    if not isinstance(pagination, dict) or not isinstance(following, str | None):
        raise BadResponse(ERR_SHAPE.format(what=what, detail='"pagination.next" is no URL'))
    return [order_from_json(order) for order in data["data"]], following or None


def order_from_json(data: object) -> ApiOrder:
    """Build an order; raise BadResponse naming the order when a field is unusable."""
    if not isinstance(data, dict):
        raise BadResponse(ERR_ORDER.format(order_id="(no id)", detail="it is not a JSON object"))
    try:
        return ApiOrder(
            id=_id(data.get("id"), "its id"),
            customer_id=_id(data.get("customer_id"), "", required=False),
            test_mode=_flag(data.get("test_mode")),
            order_date=order_time(data.get("order_date")),
            items=_items(data.get("cart_items")),
        )
    except _Unusable as error:
        name = clean_text(data.get("id"), MAX_ID_LENGTH) or "(no id)"
        raise BadResponse(ERR_ORDER.format(order_id=name, detail=error)) from None


def customer_from_json(data: object, what: str) -> ApiCustomer:
    """Build a customer; addresses that are absent or not objects count as empty."""
    if not isinstance(data, dict):
        raise BadResponse(ERR_SHAPE.format(what=what, detail="not a JSON object"))
    if "id" not in data and isinstance(data.get("data"), dict):
        data = data["data"]  # tolerate the listing's envelope around one record
    found: dict[str, dict[str, object]] = {}
    for entry in _entries(data.get("addresses")):
        kind = clean_text(entry.get("type"), 16).casefold()
        found.setdefault(kind, entry)
    return ApiCustomer(
        id=clean_text(data.get("id"), MAX_ID_LENGTH),
        first_name=clean_text(data.get("first_name"), LIMITS["name"]),
        last_name=clean_text(data.get("last_name"), LIMITS["name"]),
        email=clean_text(data.get("email"), LIMITS["email"]),
        phone=clean_text(data.get("phone"), LIMITS["phone"]),
        shipping=_address(found.get("shipping", {})),
        billing=_address(found.get("billing", {})),
    )


def _entries(value: object) -> list[dict[str, object]]:
    """Return the objects of a list (or of PHP's keyed array, which arrives as an object)."""
    values = list(value.values()) if isinstance(value, dict) else value
    return [v for v in values if isinstance(v, dict)] if isinstance(values, list) else []


def _address(data: dict[str, object]) -> Address:
    """Build an address; `region` stands in for `state` outside the US."""
    country = clean_text(data.get("country"), LIMITS["country"])
    return Address(
        street=clean_text(data.get("street"), LIMITS["street"]),
        city=clean_text(data.get("city"), LIMITS["city"]),
        state=clean_text(data.get("state") or data.get("region"), LIMITS["state"]),
        postal_code=clean_text(data.get("postal_code"), LIMITS["postal_code"]),
        country=country,
        country_code=country_code(country),
    )


def _items(value: object) -> tuple[ApiCartItem, ...]:
    """Return the cart items; none sent ([], {}, null) is an order without items."""
    if value in (None, [], {}):
        return ()
    if not isinstance(value, list):
        raise _Unusable('"cart_items" is not a list')
    return tuple(_item(item) for item in value)


def _item(data: object) -> ApiCartItem:
    """Build one cart item; a missing quantity means 1, as on the Notify URL."""
    if not isinstance(data, dict):
        raise _Unusable("a cart item is not a JSON object")
    product_id = _id(data.get("product_id"), "a cart item's product id")
    status = clean_text(data.get("status"), 32).casefold()
    if not status:
        raise _Unusable(f"the cart item of product {product_id} has no status")
    return ApiCartItem(
        id=_id(data.get("id"), "", required=False),
        product_id=product_id,
        quantity=_quantity(data.get("quantity"), product_id),
        status=status,
        product_name=clean_text(data.get("product_name"), LIMITS["product_name"]),
    )


def _id(value: object, name: str, *, required: bool = True) -> str:
    """Return an id as text: 279813, "279813" and 279813.0 all give "279813"."""
    if isinstance(value, Decimal) and value.is_finite() and value.adjusted() < MAX_ID_LENGTH:
        value = int(value) if value == value.to_integral_value() else value
    text = clean_text(value, MAX_ID_LENGTH + 1)
    if len(text) > MAX_ID_LENGTH or (required and not text):
        raise _Unusable(f"{name} is missing or longer than {MAX_ID_LENGTH} characters")
    return text


def _quantity(value: object, product_id: str) -> int:
    """Return a whole number of copies, 0 or more; missing means 1."""
    if value is None or value == "":
        return 1
    if isinstance(value, str) and _WHOLE.fullmatch(value.strip()):
        value = Decimal(value.strip())
    if isinstance(value, Decimal) and value.is_finite() and value.adjusted() < 12:
        value = int(value) if value == value.to_integral_value() else value
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_API_QUANTITY:
        raise _Unusable(f"the quantity of product {product_id} is not a whole number")
    return value


def _flag(value: object) -> bool:
    """Return test_mode; absent means a live order, and 0/1 or "true"/"false" are accepted."""
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().casefold() in _FLAGS:
        return _FLAGS[value.strip().casefold()]
    raise _Unusable('"test_mode" is neither true nor false')
