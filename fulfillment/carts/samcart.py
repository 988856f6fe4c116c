"""Turn the body of a SamCart Notify URL request into a CartNotification.

Pure: no ORM, no I/O. Every way a body can be unusable ends in PayloadError, never in another
exception, because the Notify URL view answers PayloadError with 400 and anything else with 500.
"""

import dataclasses
import json
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import parse_qsl

from fulfillment.carts.base import Address, CartNotification, Customer, LineItem, PayloadError
from fulfillment.countries import country_code
from fulfillment.limits import MAX_QUANTITY

MAX_DEPTH = 32
MAX_ID_LENGTH = 64
MAX_FORM_FIELDS = 1_000
# Prices are informational; a bound keeps absurd values out of DecimalFields.
MAX_PRICE = Decimal(1_000_000_000)
CENT = Decimal("0.01")

ERR_EMPTY = "The body is empty; SamCart sends each notification as a JSON object."
ERR_NOT_UTF8 = "The body is not valid UTF-8 text."
ERR_NOT_JSON = "The body is not valid JSON."
ERR_NON_FINITE = "The body contains NaN or Infinity, which JSON does not allow."
ERR_BAD_NUMBER = "The body contains a number too large to read."
ERR_TOO_DEEP = f"The body is nested more than {MAX_DEPTH} levels deep."
ERR_NOT_OBJECT = "The body is not a JSON object."
ERR_TOO_MANY_FIELDS = f"The form-encoded body has more than {MAX_FORM_FIELDS} fields."
ERR_NO_TYPE = 'The body has no "type" field; this does not look like a SamCart notification.'
ERR_NO_ORDER_ID = 'The Order has no order id ("order.id").'
ERR_NO_PRODUCT = 'The Order has no product id ("products[].id" or "product.id").'
ERR_ORDER_ID_TOO_LONG = f"The order id is longer than {MAX_ID_LENGTH} characters."
ERR_PRODUCT_ID_TOO_LONG = f"A product id is longer than {MAX_ID_LENGTH} characters."
ERR_BAD_QUANTITY = (
    f"The quantity of product {{product_id}} is not a whole number from 1 to {MAX_QUANTITY}."
)
ERR_QUANTITY_LIST = "The product quantities do not pair up with the comma-separated product ids."

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"

JSONObject = dict[str, object]

# C0 and C1 controls other than white space, DEL, and lone surrogates: PostgreSQL rejects NUL
# and surrogates, and the rest is never meant as text.
_UNSAFE = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_FORM_LIKE = re.compile(r"\s*[\w%.+-]+(?:\[[^\[\]=&]*\])*=")
_FORM_KEY = re.compile(r"([^\[\]]+)((?:\[[^\[\]]*\])*)")
_FORM_SEGMENT = re.compile(r"\[([^\[\]]*)\]")
_FORM_INDEX = re.compile(r"[0-9]{1,9}")

LIMITS = {
    "name": 100,
    "email": 254,
    "phone": 50,
    "street": 255,
    "city": 100,
    "state": 100,
    "country": 100,
    "postal_code": 32,
    "product_name": 255,
    "event_type": 64,
}


def parse_samcart(body: bytes, content_type: str) -> CartNotification:
    """Parse a SamCart notification body; raise PayloadError when it is not one we can use."""
    text = _decode(body)
    return _notification(_load(text, content_type))


def _decode(body: bytes) -> str:
    """Return the body as text without a byte order mark; reject bad UTF-8 and empty bodies."""
    try:
        text = str(body, "utf-8")
    except UnicodeDecodeError as error:
        raise PayloadError(ERR_NOT_UTF8) from error
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise PayloadError(ERR_EMPTY)
    return text


def _load(text: str, content_type: str) -> object:
    """Read JSON or form-encoded text; a body plainly of the other kind wins over the header."""
    is_form = FORM_CONTENT_TYPE in (content_type or "").casefold()
    looks_like_json = text.lstrip()[:1] in ("{", "[")
    if is_form and not looks_like_json:
        return _load_form(text.strip())
    try:
        return _load_json(text)
    except PayloadError:
        if is_form or (not looks_like_json and _FORM_LIKE.match(text)):
            return _load_form(text.strip())
        raise


def _reject_constant(_name: str) -> object:
    """Refuse NaN, Infinity and -Infinity, which Python's json accepts by default."""
    raise PayloadError(ERR_NON_FINITE)


def _load_json(text: str) -> object:
    """Parse JSON with Decimal floats, turning every failure into PayloadError."""
    try:
        return json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
    except PayloadError:
        raise
    except RecursionError as error:
        raise PayloadError(ERR_TOO_DEEP) from error
    except json.JSONDecodeError as error:
        raise PayloadError(ERR_NOT_JSON) from error
    except (ValueError, ArithmeticError) as error:
        # Python's int digit limit raises ValueError; huge exponents raise InvalidOperation.
        raise PayloadError(ERR_BAD_NUMBER) from error


def _load_form(text: str) -> object:
    """Parse a form-encoded body whose bracketed keys build nested objects and lists."""
    try:
        pairs = parse_qsl(
            text, keep_blank_values=True, errors="strict", max_num_fields=MAX_FORM_FIELDS
        )
    except UnicodeDecodeError as error:
        raise PayloadError(ERR_NOT_UTF8) from error
    except ValueError as error:
        raise PayloadError(ERR_TOO_MANY_FIELDS) from error
    root: dict[str, object] = {}
    for key, value in pairs:
        match = _FORM_KEY.fullmatch(key)
        if not match:
            continue  # no name before the brackets, as PHP ignores it
        path = [match[1], *_FORM_SEGMENT.findall(match[2])]
        if len(path) > MAX_DEPTH:
            raise PayloadError(ERR_TOO_DEEP)
        _form_assign(root, path, value)
    # The top level stays an object even when its keys look like indexes.
    return {key: _form_lists(value) for key, value in root.items()}


def _form_assign(root: dict[str, object], path: list[str], value: str) -> None:
    """Store one form value at its bracket path; a later scalar or object replaces an earlier."""
    node = root
    for segment in path[:-1]:
        key = _form_key(node, segment)
        child = node.get(key)
        if not isinstance(child, dict):
            child = node[key] = {}
        node = child
    node[_form_key(node, path[-1])] = value


def _form_key(node: dict[str, object], segment: str) -> str:
    """Return the key for a segment; "[]" appends after the highest index, as PHP does."""
    if segment:
        return segment
    indexes = [int(key) for key in node if _FORM_INDEX.fullmatch(key)]
    return str(max(indexes, default=-1) + 1)


def _form_lists(node: object) -> object:
    """Turn objects whose keys are all indexes into lists ordered by index."""
    if not isinstance(node, dict):
        return node
    converted = {key: _form_lists(value) for key, value in node.items()}
    if converted and all(_FORM_INDEX.fullmatch(key) for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted


def _too_deep(data: object) -> bool:
    """Return whether containers nest deeper than MAX_DEPTH, without recursing."""
    stack = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        for child in children:
            if isinstance(child, (dict, list)):
                if depth + 1 > MAX_DEPTH:
                    return True
                stack.append((child, depth + 1))
    return False


def _notification(data: object) -> CartNotification:
    """Build the notification from parsed data, enforcing what an Order needs."""
    if not isinstance(data, dict):
        raise PayloadError(ERR_NOT_OBJECT)
    if _too_deep(data):
        raise PayloadError(ERR_TOO_DEEP)
    event_type = _event_type(data.get("type"))
    order = _mapping(data.get("order"))
    customer = _mapping(data.get("customer"))
    order_id = _identifier(order.get("id"), ERR_ORDER_ID_TOO_LONG)
    items = _items(data)
    if event_type.casefold() == "order":
        if not order_id:
            raise PayloadError(ERR_NO_ORDER_ID)
        if not items:
            raise PayloadError(ERR_NO_PRODUCT)
    return CartNotification(
        event_type=event_type,
        order_id=order_id,
        created_at=order_time(order.get("created_at")),
        customer=_customer(customer),
        shipping=_address(order, "shipping_"),
        billing=_address(customer, "billing_"),
        items=items,
    )


def _mapping(value: object) -> JSONObject:
    """Return value if it is an object; PHP's [] and everything else count as empty."""
    return value if isinstance(value, dict) else {}


def _event_type(value: object) -> str:
    """Return the cleaned "type", which every SamCart notification has."""
    event_type = _clean(value, LIMITS["event_type"]) if isinstance(value, str) else ""
    if not event_type:
        raise PayloadError(ERR_NO_TYPE)
    return event_type


def _customer(customer: JSONObject) -> Customer:
    """Build the customer from SamCart's customer object."""
    return Customer(
        first_name=clean_text(customer.get("first_name"), LIMITS["name"]),
        last_name=clean_text(customer.get("last_name"), LIMITS["name"]),
        email=clean_text(customer.get("email"), LIMITS["email"]),
        phone=clean_text(customer.get("phone_number"), LIMITS["phone"]),
    )


def _address(source: JSONObject, prefix: str) -> Address:
    """Build an address from SamCart's flat <prefix>address/city/state/zip/country strings."""
    country = clean_text(source.get(f"{prefix}country"), LIMITS["country"])
    return Address(
        street=clean_text(source.get(f"{prefix}address"), LIMITS["street"]),
        city=clean_text(source.get(f"{prefix}city"), LIMITS["city"]),
        state=clean_text(source.get(f"{prefix}state"), LIMITS["state"]),
        postal_code=clean_text(source.get(f"{prefix}zip"), LIMITS["postal_code"]),
        country=country,
        country_code=country_code(country),
    )


def order_time(value: object) -> datetime | None:
    """Return the order time in UTC; a time without offset is taken as UTC."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        # Converting now keeps times near datetime.min/max from overflowing in the database.
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _items(data: JSONObject) -> tuple[LineItem, ...]:
    """Return one line per product id, merging repeats, in order of first appearance."""
    merged: dict[str, LineItem] = {}
    for product in _product_objects(data):
        for item in _expand(product):
            earlier = merged.get(item.product_id)
            merged[item.product_id] = item if earlier is None else _merge(earlier, item)
    return tuple(merged.values())


def _product_objects(data: JSONObject) -> list[JSONObject]:
    """Return the product objects of "products", or of the older "product" when there are none."""
    for key in ("products", "product"):
        value = data.get(key)
        candidates = [value] if isinstance(value, dict) else value
        if isinstance(candidates, list):
            objects = [item for item in candidates if isinstance(item, dict) and item]
            if objects:
                return objects
    return []


def _expand(product: JSONObject) -> Iterable[LineItem]:
    """Yield the lines of one product object, pairing comma-separated ids, prices, quantities."""
    ids = _split(product.get("id"))
    several = len(ids) > 1
    prices = _split(product.get("price")) if several else [product.get("price")]
    quantities = _split(product.get("quantity")) if several else [product.get("quantity")]
    if len(quantities) not in (1, len(ids)):
        raise PayloadError(ERR_QUANTITY_LIST)
    # Comma-list bodies carry the first product's name only; names may hold commas themselves.
    name = clean_text(product.get("name"), LIMITS["product_name"])
    for position, raw_id in enumerate(ids):
        product_id = _identifier(raw_id, ERR_PRODUCT_ID_TOO_LONG)
        if not product_id:
            continue
        yield LineItem(
            product_id=product_id,
            quantity=_quantity(quantities[position if len(quantities) > 1 else 0], product_id),
            price=_price(prices[position]) if len(prices) == len(ids) else None,
            name=name if position == 0 else "",
        )


def _split(value: object) -> Sequence[object]:
    """Split a comma-separated string into its parts; any other value is one part."""
    if isinstance(value, str) and "," in value:
        return value.split(",")
    return [value]


def _merge(earlier: LineItem, later: LineItem) -> LineItem:
    """Combine two lines for the same product id into one with the quantities added up."""
    quantity = earlier.quantity + later.quantity
    if quantity > MAX_QUANTITY:
        raise PayloadError(ERR_BAD_QUANTITY.format(product_id=earlier.product_id))
    return dataclasses.replace(
        earlier,
        quantity=quantity,
        price=earlier.price if earlier.price is not None else later.price,
        name=earlier.name or later.name,
    )


def _identifier(value: object, too_long: str) -> str:
    """Return an id as text: 279813, 279813.0 and " 279813 " all give "279813"."""
    if isinstance(value, Decimal) and value.is_finite() and value.adjusted() >= MAX_ID_LENGTH:
        # Too long anyway, and int() of 1e999999999 would exhaust memory.
        raise PayloadError(too_long)
    text = _identifier_text(value)
    if len(text) > MAX_ID_LENGTH:
        raise PayloadError(too_long)
    return text


def _identifier_text(value: object) -> str:
    """Return the text of an int, Decimal or string id; other types carry no id."""
    if isinstance(value, str):
        return _clean(value)
    if isinstance(value, bool):
        return ""
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal) and value.is_finite():
        return str(int(value)) if value == value.to_integral_value() else str(value)
    return ""


def _quantity(value: object, product_id: str) -> int:
    """Return a quantity from 1 to MAX_QUANTITY; missing means 1, anything unusable is an error."""
    if _is_missing(value):
        return 1
    number = _decimal(value)
    if number is None or number != number.to_integral_value() or not 1 <= number <= MAX_QUANTITY:
        raise PayloadError(ERR_BAD_QUANTITY.format(product_id=product_id))
    return int(number)


def _is_missing(value: object) -> bool:
    """Return whether a value means "not sent": null, "", [] or {}."""
    if isinstance(value, str):
        return not value.strip()
    return value is None or (isinstance(value, (list, dict)) and not value)


def _price(value: object) -> Decimal | None:
    """Return a price rounded to the cent, or None when it is missing or unusable."""
    amount = _decimal(value)
    if amount is None or not 0 <= amount < MAX_PRICE:
        return None
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def _decimal(value: object) -> Decimal | None:
    """Return a finite Decimal from an int, a Decimal or short numeric text, else None."""
    if isinstance(value, str):
        # Long text is no amount; the cap also bounds Decimal's parsing work.
        value = _clean(value) if len(value) <= 32 else None
    if isinstance(value, bool) or not isinstance(value, (int, Decimal, str)):
        return None
    try:
        number = Decimal(value)
    except (ArithmeticError, ValueError):
        return None
    return number if number.is_finite() else None


def clean_text(value: object, limit: int) -> str:
    """Return a value as clean text: numbers become their string form, containers become ""."""
    if isinstance(value, str):
        return _clean(value, limit)
    if isinstance(value, bool):
        return ""
    if isinstance(value, (int, Decimal)):
        # JSON ints have at most 4300 digits, which str() accepts.
        return _clean(str(value), limit)
    return ""


def _clean(text: str, limit: int | None = None) -> str:
    """Remove controls and lone surrogates, collapse white space, and cut to limit characters."""
    words = _UNSAFE.sub("", text).split()
    cleaned = " ".join(words)
    if limit is not None:
        cleaned = cleaned[:limit].rstrip()
    return cleaned
