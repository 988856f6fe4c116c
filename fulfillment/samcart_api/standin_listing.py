"""What the SamCart stand-in answers for its data: the filtered, paginated order listing,
one order, an order's customer. Pure functions over the data document (no HTTP here).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

JSON = dict[str, Any]
MAX_LIMIT = 100
DEFAULT_LIMIT = 100
_DIGITS = re.compile(r"[0-9]{1,30}")
_FLAGS = {"true": True, "1": True, "false": False, "0": False}
FILTERS = ("created_at_min", "created_at_max", "test_mode", "limit")


def order_listing(
    data: JSON, query: dict[str, str], *, base_url: str, lazy_next: bool
) -> tuple[int, JSON]:
    """Return (status, body) for GET /orders: filtered on order_date and test_mode, by id.

    Both dates are inclusive. `offset` is the id of the record before (`dir=next`) or after
    (`dir=prev`) the page. A bad parameter is a 400 with a message, as an API answers it.
    """
    try:
        low = _moment(query.get("created_at_min"), "created_at_min")
        high = _moment(query.get("created_at_max"), "created_at_max")
        test_mode = _flag(query.get("test_mode"))
        limit = _limit(query.get("limit"))
        backwards = _direction(query.get("dir"))
    except ValueError as error:
        return 400, {"message": str(error)}
    orders = sorted((o for o in data["orders"] if _wanted(o, low, high, test_mode)), key=_order_key)
    offset = query.get("offset")
    if offset:
        mark = id_key(offset)
        before = [o for o in orders if _order_key(o) < mark]
        after = [o for o in orders if _order_key(o) > mark]
    else:
        before, after = [], orders
    page = before[-limit:] if backwards and offset else after[:limit]
    more = bool(after) if backwards and offset else len(after) > limit
    earlier = len(before) > limit if backwards and offset else bool(offset)
    link = {key: query[key] for key in FILTERS if key in query}

    def url(record: JSON, direction: str) -> str:
        offset = {"offset": str(record.get("id")), "dir": direction}
        return f"{base_url}/orders?{urlencode({**link, **offset})}"

    full = len(page) == limit
    pagination = {
        "next": url(page[-1], "next") if page and (more or (lazy_next and full)) else None,
        "prev": url(page[0], "prev") if page and earlier else None,
    }
    return 200, {"data": page, "pagination": pagination}


def find_order(data: JSON, order_id: str) -> JSON | None:
    """Return the order with this id (compared as text), or None."""
    return next((o for o in data["orders"] if str(o.get("id")) == order_id), None)


def find_customer(data: JSON, order_id: str) -> JSON | None:
    """Return the customer of the order with this id, or None when either is unknown."""
    order = find_order(data, order_id)
    if order is None:
        return None
    return data["customers"].get(str(order.get("customer_id")))


def id_key(value: object) -> tuple[int, int, str]:
    """Sort ids as numbers when they are, after them the others as text."""
    text = str(value).strip()
    return (0, int(text), "") if _DIGITS.fullmatch(text) else (1, 0, text)


def _order_key(order: JSON) -> tuple[int, int, str]:
    return id_key(order.get("id"))


def _wanted(order: JSON, low: datetime | None, high: datetime | None, mode: bool | None) -> bool:
    """Return whether an order is in the window and of the test mode asked for."""
    if mode is not None and bool(order.get("test_mode")) != mode:
        return False
    if low is None and high is None:
        return True
    try:
        when = _moment(order.get("order_date"), "order_date")
    except ValueError:
        return False
    return when is not None and (low is None or when >= low) and (high is None or when <= high)


def _moment(value: object, name: str) -> datetime | None:
    """Return an ISO-8601 time as aware UTC (naive means UTC); None when absent."""
    if value is None or value == "":
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{name} is not an ISO-8601 date and time.") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def _flag(value: str | None) -> bool | None:
    if value is None:
        return None
    if value.casefold() not in _FLAGS:
        raise ValueError("test_mode must be true or false.")
    return _FLAGS[value.casefold()]


def _limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_LIMIT
    if not _DIGITS.fullmatch(value) or not 1 <= int(value) <= MAX_LIMIT:
        raise ValueError(f"limit must be a whole number from 1 to {MAX_LIMIT}.")
    return int(value)


def _direction(value: str | None) -> bool:
    """Return whether the page goes backwards (dir=prev)."""
    if value not in (None, "next", "prev"):
        raise ValueError("dir must be next or prev.")
    return value == "prev"
