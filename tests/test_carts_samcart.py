"""Tests of the pure SamCart parser: fixtures, multi-product forms, rejections and cleaning."""

import dataclasses
import json
import random
import time
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from fulfillment.carts import PARSERS, parse_samcart
from fulfillment.carts import samcart as sc
from fulfillment.carts.base import Address, CartNotification, Customer, LineItem, PayloadError

FIXTURES = Path(__file__).parent / "fixtures" / "samcart"
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
EST = timezone(timedelta(hours=-5))


def fixture_body(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def parse_fixture(name: str) -> CartNotification:
    return parse_samcart(fixture_body(name), FORM if name.endswith(".txt") else JSON)


def order_body(**overrides: object) -> dict:
    """Return a minimal valid Order body as a dict, with top-level keys replaced."""
    body: dict = {
        "type": "Order",
        "products": [{"id": 279813, "price": "24.00", "quantity": 1}],
        "customer": {"first_name": "Ada", "last_name": "Quill", "email": "ada@example.com"},
        "order": {"id": 35400001},
    }
    body.update(overrides)
    return body


def parse_dict(data: object) -> CartNotification:
    return parse_samcart(json.dumps(data).encode(), JSON)


def reject(body: bytes | str, message: str, content_type: str = JSON) -> None:
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    with pytest.raises(PayloadError) as caught:
        parse_samcart(raw, content_type)
    assert str(caught.value) == message


def strings_of(value: object) -> list[str]:
    """Return every string inside a parsed notification."""
    if isinstance(value, str):
        return [value]
    if dataclasses.is_dataclass(value):
        fields = (getattr(value, field.name) for field in dataclasses.fields(value))
        return [text for field in fields for text in strings_of(field)]
    if isinstance(value, tuple):
        return [text for element in value for text in strings_of(element)]
    return []


def assert_storable(notification: CartNotification) -> None:
    """Assert PostgreSQL could store every string: no NUL, no lone surrogate, no edge spaces."""
    for text in strings_of(notification):
        text.encode("utf-8")
        assert "\x00" not in text
        assert text == text.strip()


# Every fixture, with its key fields


@dataclasses.dataclass(frozen=True)
class Expected:
    event_type: str
    order_id: str
    created_at: datetime | None
    items: tuple[tuple[str, int], ...]
    shipping: Address
    customer: tuple[str, str, str]


def us(
    street: str, city: str, state: str, postal_code: str, country: str = "United States"
) -> Address:
    return Address(street, city, state, postal_code, country, "US")


def est(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=EST)


TOBIAS_SHIP = us("17 Orchard Hill Court", "Montpelier", "VT", "05602")
ROSALIND_SHIP = us("4410 Larkspur Lane", "Austin", "TX", "78745")
DANA_SHIP = us("5 Mill Pond Way", "Keene", "NH", "03431")
MARISOL_SHIP = us("31 Harbor View Terrace", "Portland", "ME", "04101")
ZOE_SHIP = Address("ulica Piotrkowska 104", "Łódź", "łódzkie", "90-926", "Poland", "PL")
TOBIAS = ("Tobias", "Lindqvist", "t.lindqvist@example.net")
ROSALIND = ("Rosalind", "Okafor", "rosalind.okafor@example.com")
DANA = ("Dana", "Whitcombe", "dana.whitcombe@example.org")
MARISOL = ("Marisol", "Vantongeren", "marisol.v@example.org")
ZOE = ("Zoë", "Ångström", "zoe.angstrom@example.net")
NOBODY = ("", "", "")
ONE_ALMANAC = (("279813", 1),)
THREE = (("279813", 1), ("294010", 1), ("298020", 1))
TWO = (("279813", 1), ("294010", 1))

EXPECTED = {
    "cancel.json": Expected(
        "Cancel", "35102288", datetime(2025, 8, 12, 15, 30, tzinfo=UTC),
        (("301477", 1),), DANA_SHIP, DANA,
    ),
    "order_legacy_comma_ids.json": Expected(
        "Order", "35211903", None, THREE, TOBIAS_SHIP, TOBIAS
    ),
    "order_legacy_product_object.json": Expected(
        "Order", "35211875", None, ONE_ALMANAC, ROSALIND_SHIP, ROSALIND
    ),
    "order_per_item_part1.json": Expected(
        "Order", "35211950", est(2025, 11, 5, 7, 41, 9), ONE_ALMANAC, TOBIAS_SHIP, TOBIAS
    ),
    "order_per_item_part2.json": Expected(
        "Order", "35211950", est(2025, 11, 5, 7, 41, 9), (("294010", 1),), TOBIAS_SHIP, TOBIAS
    ),
    "order_products_array.json": Expected(
        "Order", "35211874", datetime(2025, 11, 3, 15, 14, 27, tzinfo=UTC),
        ONE_ALMANAC, ROSALIND_SHIP, ROSALIND,
    ),
    "order_three_products.json": Expected(
        "Order", "35211902", est(2025, 11, 4, 18, 2, 11),
        (("279813", 2), ("294010", 1), ("298020", 1)), TOBIAS_SHIP, TOBIAS,
    ),
    "order_without_shipping.json": Expected(
        "Order", "35212044", datetime(2025, 11, 6, 22, 22, 48, tzinfo=UTC),
        ONE_ALMANAC, Address(), ("Greta", "Halvorsen", "greta.halvorsen@example.com"),
    ),
    "refund.json": Expected(
        "Refund", "35211874", datetime(2025, 11, 3, 15, 14, 27, tzinfo=UTC),
        ONE_ALMANAC, ROSALIND_SHIP, ROSALIND,
    ),
    "order_ids_as_strings.json": Expected(
        "Order", "35300001", est(2025, 11, 10, 10, 15), TWO, MARISOL_SHIP, MARISOL
    ),
    "order_quantity_as_string.json": Expected(
        "Order", "35300002", est(2025, 11, 10, 10, 15), (("279813", 3),), MARISOL_SHIP, MARISOL
    ),
    "order_price_as_number.json": Expected(
        "Order", "35300003", est(2025, 11, 10, 10, 15), TWO, MARISOL_SHIP, MARISOL
    ),
    "order_unicode_escapes.json": Expected(
        "Order", "35300004", datetime(2025, 11, 11, 15, 5, tzinfo=UTC), ONE_ALMANAC, ZOE_SHIP, ZOE
    ),
    "order_unicode_raw.json": Expected(
        "Order", "35300005", datetime(2025, 11, 11, 15, 5, tzinfo=UTC), ONE_ALMANAC, ZOE_SHIP, ZOE
    ),
    "order_empty_containers.json": Expected(
        "Order", "35300006", None, ONE_ALMANAC, Address(), NOBODY
    ),
    "order_legacy_comma_ids_quantities.json": Expected(
        "Order", "35300007", None, (("279813", 2), ("294010", 1), ("298020", 1)),
        us("9 Cedar Hollow Road", "Hanover", "NH", "03755"),
        ("Ignatius", "Brandvold", "ignatius.brandvold@example.com"),
    ),
    "order_canada.json": Expected(
        "Order", "35300008", est(2025, 11, 12, 8, 30), (("298020", 1),),
        Address("4520 rue Saint-Denis, app. 3", "Montréal", "QC", "H2J 2L3", "Canada", "CA"),
        ("Amélie", "Tremblay-Okonkwo", "amelie.tremblay@example.org"),
    ),
    "order_uk.json": Expected(
        "Order", "35300009", datetime(2025, 11, 12, 14, 45, 10, tzinfo=UTC), (("279813", 2),),
        Address("Flat 2, 14 Albion Crescent", "Bristol", "", "BS8 4AB", "United Kingdom", "GB"),
        ("Nigel", "Pennyworth-Hale", "nigel.ph@example.net"),
    ),
    "partial_refund.json": Expected(
        "PartialRefund", "35211902", est(2025, 11, 4, 18, 2, 11), ONE_ALMANAC, TOBIAS_SHIP, TOBIAS
    ),
    "recurring_payment_succeeded.json": Expected(
        "RecurringPaymentSucceeded", "35300014", est(2025, 11, 12, 11, 30),
        (("301477", 1),), DANA_SHIP, DANA,
    ),
    "order_duplicate_product_ids.json": Expected(
        "Order", "35300015", est(2025, 11, 10, 10, 15), (("279813", 3),),
        us("77 Birch Lane", "Stowe", "VT", "5672", country="USA"),
        ("Halvard", "Oyelaran", "halvard.o@example.com"),
    ),
    "order_customer_empty_list.json": Expected(
        "Order", "35300016", datetime(2025, 11, 14, 10, 0, tzinfo=UTC), (("294010", 1),),
        Address(), NOBODY,
    ),
    "order_form_encoded.txt": Expected(
        "Order", "35300020", datetime(2025, 11, 15, 19, 0, tzinfo=UTC),
        (("279813", 2), ("294010", 1)),
        us("2200 Larimer Street, Unit 5", "Denver", "CO", "80205"),
        ("Beatrix", "Nakashima-Ruiz", "beatrix.nr@example.com"),
    ),
    "order_legacy_form_encoded.txt": Expected(
        "Order", "35300021", None, ONE_ALMANAC,
        Address("Friedrichstraße 12", "Berlin", "", "10117", "Deutschland", "DE"),
        ("Oskar", "Feldmann", "oskar.feldmann@example.org"),
    ),
}  # fmt: skip

NOT_NOTIFY = [
    "not_notify_order_summary.json",
    "not_notify_event_envelope.json",
    "not_notify_rest_api_order.json",
]


def test_every_fixture_file_is_covered() -> None:
    names = {path.name for path in FIXTURES.iterdir()}
    assert names == set(EXPECTED) | set(NOT_NOTIFY)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_parses_to_expected_fields(name: str) -> None:
    expected = EXPECTED[name]
    notification = parse_fixture(name)
    assert notification.event_type == expected.event_type
    assert notification.order_id == expected.order_id
    assert notification.created_at == expected.created_at
    if expected.created_at is not None:
        assert notification.created_at.utcoffset() == timedelta(0)
    assert [(item.product_id, item.quantity) for item in notification.items] == list(expected.items)
    assert notification.shipping == expected.shipping
    person = notification.customer
    assert (person.first_name, person.last_name, person.email) == expected.customer
    assert_storable(notification)


@pytest.mark.parametrize("name", NOT_NOTIFY)
def test_not_notify_bodies_are_rejected(name: str) -> None:
    reject(fixture_body(name), sc.ERR_NO_TYPE)


def test_sample_details() -> None:
    order = parse_fixture("order_three_products.json")
    assert order.is_order
    assert order.product_ids == ("279813", "294010", "298020")
    assert order.items[0] == LineItem(
        "279813", 2, Decimal("48.00"), "The Lighthouse Keeper's Almanac (Paperback)"
    )
    assert order.billing == Address(
        "88 Quarry Road", "Burlington", "VT", "05401", "United States", "US"
    )
    assert order.customer.phone == ""
    assert order.customer.full_name == "Tobias Lindqvist"
    assert order.shipping.is_complete()
    assert not parse_fixture("refund.json").is_order
    assert parse_fixture("order_products_array.json").customer.phone == "+1 512 555 0142"


def test_order_without_shipping_has_empty_shipping_and_complete_billing() -> None:
    order = parse_fixture("order_without_shipping.json")
    assert order.shipping.is_empty()
    assert not order.shipping.is_complete()
    assert order.billing.is_complete()
    assert order.billing.city == "Boise"


def test_prices_as_numbers_and_strings_become_cents() -> None:
    order = parse_fixture("order_price_as_number.json")
    assert [item.price for item in order.items] == [Decimal("24.00"), Decimal("9.50")]
    assert parse_fixture("order_ids_as_strings.json").items[1].price == Decimal("9.00")


def test_empty_containers_do_not_break_anything() -> None:
    order = parse_fixture("order_empty_containers.json")
    assert order.customer == Customer()
    assert order.billing == Address()
    assert order.shipping.is_empty()
    assert order.items == (LineItem("279813", 1, Decimal("24.00"), order.items[0].name),)


def test_wrong_types_become_strings() -> None:
    order = parse_fixture("order_duplicate_product_ids.json")
    assert order.customer.phone == "8025550144"
    assert order.billing.postal_code == "5672"
    assert order.shipping.is_complete()


def test_unicode_escapes_and_raw_utf8_agree() -> None:
    escaped = parse_fixture("order_unicode_escapes.json")
    raw = parse_fixture("order_unicode_raw.json")
    assert dataclasses.replace(escaped, order_id="") == dataclasses.replace(raw, order_id="")
    assert escaped.customer.full_name == "Zoë Ångström"
    assert escaped.items[0].name == "Almanach latarnika — wydanie polskie"


def test_registry_names_the_samcart_parser() -> None:
    assert PARSERS["samcart"] is parse_samcart


# The three multi-product forms


def test_three_multi_product_forms_name_the_same_products() -> None:
    per_item = [parse_fixture(f"order_per_item_part{part}.json") for part in (1, 2)]
    assert {notification.order_id for notification in per_item} == {"35211950"}
    assert [n.product_ids for n in per_item] == [("279813",), ("294010",)]
    array = parse_fixture("order_three_products.json")
    comma = parse_fixture("order_legacy_comma_ids.json")
    assert array.product_ids == comma.product_ids == ("279813", "294010", "298020")


def test_comma_lists_pair_ids_prices_and_quantities() -> None:
    order = parse_fixture("order_legacy_comma_ids_quantities.json")
    assert order.items == (
        LineItem("279813", 2, Decimal("48.00"), "The Lighthouse Keeper's Almanac (Paperback)"),
        LineItem("294010", 1, Decimal("9.00"), ""),
        LineItem("298020", 1, Decimal("15.00"), ""),
    )


def test_one_quantity_applies_to_every_comma_separated_id() -> None:
    order = parse_dict(order_body(products=None, product={"id": "11,22", "quantity": 3}))
    assert [(item.product_id, item.quantity) for item in order.items] == [("11", 3), ("22", 3)]


def test_prices_that_do_not_pair_with_ids_are_dropped() -> None:
    order = parse_dict(order_body(products=None, product={"id": "11,22", "price": "5.00"}))
    assert [item.price for item in order.items] == [None, None]


def test_quantities_that_do_not_pair_with_ids_are_rejected() -> None:
    body = order_body(products=None, product={"id": "11,22,33", "quantity": "1,2"})
    reject(json.dumps(body), sc.ERR_QUANTITY_LIST)


def test_empty_parts_of_comma_lists_are_skipped() -> None:
    order = parse_dict(order_body(products=None, product={"id": "11,,22,", "price": "1,2,3,4"}))
    assert [(item.product_id, item.price) for item in order.items] == [
        ("11", Decimal("1.00")),
        ("22", Decimal("3.00")),
    ]


@pytest.mark.parametrize("product_id", [279813, "279813", " 279813 ", 279813.0, 2.79813e5])
def test_int_string_and_float_ids_give_the_same_line(product_id: object) -> None:
    order = parse_dict(order_body(products=[{"id": product_id, "quantity": 2}]))
    assert order.items == (LineItem("279813", 2, None),)


def test_int_and_string_order_ids_are_the_same() -> None:
    as_int = parse_dict(order_body(order={"id": 35400001}))
    as_text = parse_dict(order_body(order={"id": " 35400001 "}))
    assert as_int == as_text
    assert as_int.order_id == "35400001"


def test_duplicate_ids_merge_into_one_line_in_first_seen_order() -> None:
    products = [
        {"id": 1, "quantity": 1},
        {"id": 2, "quantity": 4, "name": "Two"},
        {"id": "1", "quantity": "2", "price": "3.00", "name": "One"},
    ]
    order = parse_dict(order_body(products=products))
    assert order.items == (
        LineItem("1", 3, Decimal("3.00"), "One"),
        LineItem("2", 4, None, "Two"),
    )


def test_merged_quantity_over_the_limit_is_rejected() -> None:
    products = [{"id": 7, "quantity": 6000}, {"id": 7, "quantity": 6000}]
    reject(json.dumps(order_body(products=products)), sc.ERR_BAD_QUANTITY.format(product_id="7"))


def test_single_product_object_in_products_is_accepted() -> None:
    order = parse_dict(order_body(products={"id": 5, "quantity": 2}))
    assert order.items == (LineItem("5", 2, None),)


def test_legacy_product_is_used_when_products_has_no_objects() -> None:
    for products in ([], {}, None, [None, "x", 3, {}]):
        order = parse_dict(order_body(products=products, product={"id": 9}))
        assert order.product_ids == ("9",)


def test_products_win_over_legacy_product() -> None:
    order = parse_dict(order_body(products=[{"id": 1}], product={"id": 2}))
    assert order.product_ids == ("1",)


@pytest.mark.parametrize("product_id", [None, "", "   ", [], {}, True, [279813], {"id": 1}])
def test_products_without_a_usable_id_are_skipped(product_id: object) -> None:
    order = parse_dict(order_body(products=[{"id": product_id}, {"id": 42}]))
    assert order.product_ids == ("42",)


def test_non_integral_float_id_is_kept_as_written() -> None:
    assert parse_dict(order_body(products=[{"id": 2798.13}])).product_ids == ("2798.13",)


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [(None, 1), ("", 1), (" ", 1), ([], 1), ({}, 1), (2, 2), (" 2 ", 2), ("2", 2), (2.0, 2),
     ("3.00", 3), (10_000, 10_000)],
)  # fmt: skip
def test_quantity_values(quantity: object, expected: int) -> None:
    order = parse_dict(order_body(products=[{"id": 1, "quantity": quantity}]))
    assert order.items[0].quantity == expected


def test_missing_quantity_key_means_one() -> None:
    assert parse_dict(order_body(products=[{"id": 1}])).items[0].quantity == 1


@pytest.mark.parametrize(
    "quantity",
    [0, -1, "two", 10**30, 10_001, 2.5, "2.5", True, False, [1], {"n": 1}, "NaN", "Infinity",
     "1e999999999", "-0", "1" * 40],
)  # fmt: skip
def test_bad_quantities_are_rejected_naming_the_product(quantity: object) -> None:
    body = json.dumps(order_body(products=[{"id": 279813, "quantity": quantity}]))
    reject(body, sc.ERR_BAD_QUANTITY.format(product_id="279813"))


def test_bad_quantity_written_as_raw_json_numbers_is_rejected() -> None:
    for number in ("1e999999999", "1E+400", "0.5", "-3"):
        body = '{"type":"Order","order":{"id":1},"products":[{"id":8,"quantity":' + number + "}]}"
        reject(body, sc.ERR_BAD_QUANTITY.format(product_id="8"))


@pytest.mark.parametrize(
    ("price", "expected"),
    [("24.00", Decimal("24.00")), (24, Decimal("24.00")), (9.5, Decimal("9.50")),
     (" 7 ", Decimal("7.00")), ("24.005", Decimal("24.01")), ("0", Decimal("0.00")),
     (None, None), ("", None), ("abc", None), ("$24.00", None), ("24,00", None), (-1, None),
     ("NaN", None), ("Infinity", None), (10**12, None), (10**400, None), (True, None),
     ([], None), ({"amount": 1}, None), ("1" * 40, None), ("1." + "0" * 40, None),
     ("1e999999999", None)],
)  # fmt: skip
def test_prices_are_cents_or_none_and_never_an_error(price: object, expected: object) -> None:
    order = parse_dict(order_body(products=[{"id": 1, "price": price}]))
    assert order.items[0].price == expected


def test_price_with_a_huge_raw_json_exponent_is_none() -> None:
    body = '{"type":"Order","order":{"id":1},"products":[{"id":8,"price":1e999999999}]}'
    assert parse_samcart(body.encode(), JSON).items[0].price is None


# Rejections

DEEP_100 = '{"type": "Order", "x": ' + "[" * 100 + "]" * 100 + "}"
DEEP_100000 = "[" * 100_000 + "]" * 100_000
DEEP_OBJECTS = '{"a":' * 100_000 + "1" + "}" * 100_000


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", sc.ERR_EMPTY),
        ("   \r\n\t ", sc.ERR_EMPTY),
        ("\ufeff", sc.ERR_EMPTY),
        (b"\xff\xfe{}", sc.ERR_NOT_UTF8),
        (b'{"type": "Order\xc3"}', sc.ERR_NOT_UTF8),
        (b'{"type": "\xed\xa0\x80"}', sc.ERR_NOT_UTF8),
        ('{"type": "Order", "total": NaN}', sc.ERR_NON_FINITE),
        ('{"type": "Order", "total": Infinity}', sc.ERR_NON_FINITE),
        ('{"type": "Order", "total": -Infinity}', sc.ERR_NON_FINITE),
        (DEEP_100, sc.ERR_TOO_DEEP),
        (DEEP_100000, sc.ERR_TOO_DEEP),
        (DEEP_OBJECTS, sc.ERR_TOO_DEEP),
        ('{"type": "Order", "n": ' + "9" * 5000 + "}", sc.ERR_BAD_NUMBER),
        ('{"type": "Order", "n": 1e99999999999999999999}', sc.ERR_BAD_NUMBER),
        ("[]", sc.ERR_NOT_OBJECT),
        ('[{"type": "Order"}]', sc.ERR_NOT_OBJECT),
        ("42", sc.ERR_NOT_OBJECT),
        ('"Order"', sc.ERR_NOT_OBJECT),
        ("null", sc.ERR_NOT_OBJECT),
        ("true", sc.ERR_NOT_OBJECT),
        ("{", sc.ERR_NOT_JSON),
        ('{"type": "Order",}', sc.ERR_NOT_JSON),
        ("hello", sc.ERR_NOT_JSON),
        ("<xml/>", sc.ERR_NOT_JSON),
        ("{}", sc.ERR_NO_TYPE),
        ('{"type": null}', sc.ERR_NO_TYPE),
        ('{"type": ""}', sc.ERR_NO_TYPE),
        ('{"type": "  \\u0000 "}', sc.ERR_NO_TYPE),
        ('{"type": 1}', sc.ERR_NO_TYPE),
        ('{"type": ["Order"]}', sc.ERR_NO_TYPE),
        ('{"type": {"name": "Order"}}', sc.ERR_NO_TYPE),
        ('{"Type": "Order", "order": {"id": 1}, "products": [{"id": 1}]}', sc.ERR_NO_TYPE),
    ],
)
def test_unusable_bodies_are_rejected(body: bytes | str, message: str) -> None:
    reject(body, message)


def test_nesting_is_allowed_up_to_the_limit() -> None:
    def nested(depth: int) -> str:
        inner = depth - 1  # the top-level object is the first level
        return '{"type": "Cancel", "x": ' + "[" * inner + "]" * inner + "}"

    assert parse_samcart(nested(sc.MAX_DEPTH).encode(), JSON).event_type == "Cancel"
    reject(nested(sc.MAX_DEPTH + 1), sc.ERR_TOO_DEEP)


@pytest.mark.parametrize("order", [None, [], {}, {"id": None}, {"id": ""}, {"id": " "},
                                   {"id": []}, {"id": {}}, {"id": True}, "35400001"])  # fmt: skip
def test_order_without_order_id_is_rejected(order: object) -> None:
    reject(json.dumps(order_body(order=order)), sc.ERR_NO_ORDER_ID)


@pytest.mark.parametrize(
    "overrides",
    [
        {"products": []},
        {"products": None},
        {"products": [{"name": "No id"}]},
        {"products": [{"id": None}, {"id": ""}, {"id": []}]},
        {"products": "279813"},
        {"products": [], "product": {"id": ""}},
        {"products": [], "product": {"id": ", ,"}},
    ],
)
def test_order_without_any_product_id_is_rejected(overrides: dict) -> None:
    reject(json.dumps(order_body(**overrides)), sc.ERR_NO_PRODUCT)


def test_order_type_is_case_insensitive() -> None:
    for event_type in ("order", "ORDER", " Order "):
        reject(json.dumps(order_body(type=event_type, products=[])), sc.ERR_NO_PRODUCT)
        assert parse_dict(order_body(type=event_type)).is_order


def test_other_types_need_no_order_id_or_products() -> None:
    notification = parse_dict({"type": "SubscriptionDelinquent", "customer": [], "order": []})
    assert notification == CartNotification(
        event_type="SubscriptionDelinquent",
        order_id="",
        created_at=None,
        customer=Customer(),
        shipping=Address(),
        billing=Address(),
        items=(),
    )
    assert not notification.is_order
    assert notification.product_ids == ()


def test_unknown_type_is_kept_as_received() -> None:
    assert parse_dict({"type": "  Orders\n"}).event_type == "Orders"
    assert not parse_dict({"type": "Orders"}).is_order


@pytest.mark.parametrize("too_long", ["9" * 65, 10**64, 1e70, "x" * 1000])
def test_too_long_product_id_is_rejected(too_long: object) -> None:
    reject(json.dumps(order_body(products=[{"id": too_long}])), sc.ERR_PRODUCT_ID_TOO_LONG)


def test_too_long_product_id_with_huge_exponent_is_rejected() -> None:
    body = '{"type":"Order","order":{"id":1},"products":[{"id":1e999999999}]}'
    reject(body, sc.ERR_PRODUCT_ID_TOO_LONG)


@pytest.mark.parametrize("too_long", ["9" * 65, 10**64])
def test_too_long_order_id_is_rejected(too_long: object) -> None:
    reject(json.dumps(order_body(order={"id": too_long})), sc.ERR_ORDER_ID_TOO_LONG)
    reject(json.dumps({"type": "Refund", "order": {"id": too_long}}), sc.ERR_ORDER_ID_TOO_LONG)


def test_ids_of_exactly_64_characters_are_accepted() -> None:
    order = parse_dict(order_body(order={"id": "o" * 64}, products=[{"id": "p" * 64}]))
    assert (order.order_id, order.product_ids) == ("o" * 64, ("p" * 64,))


def test_error_messages_are_short_and_plain() -> None:
    messages = [value for name, value in vars(sc).items() if name.startswith("ERR_")]
    assert len(messages) >= 15
    for message in messages:
        shown = message.format(product_id="p" * sc.MAX_ID_LENGTH)
        assert len(shown) <= 160
        assert shown.endswith(".")


# Cleaning


def test_nul_controls_and_lone_surrogates_are_removed() -> None:
    body = (
        '{"type": "Or\\u0000der", "order": {"id": "35\\u0000400001", "shipping_city": '
        '"Bur\\ud800lington\\u0007", "shipping_zip": "05401\\udfff"}, "products": [{"id": '
        '"27\\u00009813", "name": "Alma\\u001bnac\\u007f\\u0085"}], "customer": {"first_name": '
        '"\\ud83d\\ude00Zo\\u00eb\\u0000", "email": "zoe\\u0000@example.com"}}'
    )
    order = parse_samcart(body.encode(), JSON)
    assert order.event_type == "Order"
    assert order.order_id == "35400001"
    assert order.product_ids == ("279813",)
    assert order.items[0].name == "Almanac"
    assert order.shipping.city == "Burlington"
    assert order.shipping.postal_code == "05401"
    assert order.customer.first_name == "\U0001f600Zoë"
    assert order.customer.email == "zoe@example.com"
    assert_storable(order)


def test_white_space_is_collapsed_and_stripped() -> None:
    order = parse_dict(
        order_body(
            order={"id": 1, "shipping_address": "  12 Main St\r\n\tApt 4  ", "shipping_city": "\n"}
        )
    )
    assert order.shipping.street == "12 Main St Apt 4"
    assert order.shipping.city == ""


@pytest.mark.parametrize(
    ("place", "key", "limit"),
    [("customer", "first_name", 100), ("customer", "last_name", 100), ("customer", "email", 254),
     ("customer", "phone_number", 50), ("order", "shipping_address", 255),
     ("order", "shipping_city", 100), ("order", "shipping_state", 100),
     ("order", "shipping_zip", 32), ("order", "shipping_country", 100),
     ("customer", "billing_address", 255), ("customer", "billing_zip", 32)],
)  # fmt: skip
def test_long_strings_are_truncated(place: str, key: str, limit: int) -> None:
    body = order_body()
    body[place] = {"id": 1, key: "a" * (limit - 1) + " " + "b" * 5000}
    order = parse_dict(body)
    values = strings_of(order)
    assert "a" * (limit - 1) in values
    assert all(len(value) <= limit for value in values)


def test_long_product_name_and_event_type_are_truncated() -> None:
    order = parse_dict(order_body(products=[{"id": 1, "name": "n" * 1000}]))
    assert order.items[0].name == "n" * 255
    assert parse_dict({"type": "T" * 1000}).event_type == "T" * 64


@pytest.mark.parametrize(
    ("value", "expected"),
    [(5401, "5401"), (5401.5, "5401.5"), (True, ""), ([], ""), ({}, ""), (["x"], ""),
     ({"zip": "05401"}, ""), (None, "")],
)  # fmt: skip
def test_values_of_the_wrong_type_become_strings_or_nothing(value: object, expected: str) -> None:
    order = parse_dict(order_body(customer={"billing_zip": value, "phone_number": value}))
    assert order.billing.postal_code == expected
    assert order.customer.phone == expected


# Dates


@pytest.mark.parametrize(
    ("value", "expected"),
    [("2025-11-05T07:41:09-05:00", datetime(2025, 11, 5, 12, 41, 9, tzinfo=UTC)),
     ("2025-11-05T12:41:09Z", datetime(2025, 11, 5, 12, 41, 9, tzinfo=UTC)),
     ("2025-11-05T12:41:09.250+00:00", datetime(2025, 11, 5, 12, 41, 9, 250000, tzinfo=UTC)),
     ("2025-11-05 12:41:09", datetime(2025, 11, 5, 12, 41, 9, tzinfo=UTC)),
     ("2025-11-05", datetime(2025, 11, 5, tzinfo=UTC)),
     ("yesterday", None), ("", None), (None, None), (1762346469, None), ([], None),
     ("2025-13-45T00:00:00", None), ("0001-01-01T00:00:00+05:00", None),
     ("9999-12-31T23:59:59-05:00", None), ("2025-11-05T07:41:09\ud800", None),
     ("2025-11-05T07:41:09" + " " * 100, None)],
)  # fmt: skip
def test_created_at_is_aware_utc_or_none(value: object, expected: datetime | None) -> None:
    created_at = parse_dict(order_body(order={"id": 1, "created_at": value})).created_at
    assert created_at == expected
    if created_at is not None:
        assert created_at.tzinfo is not None


def test_naive_created_at_is_utc_whatever_the_server_time_zone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TZ", "America/Denver")
    time.tzset()
    try:
        order = parse_dict(order_body(order={"id": 1, "created_at": "2025-11-05 12:41:09"}))
    finally:
        monkeypatch.undo()
        time.tzset()
    assert order.created_at == datetime(2025, 11, 5, 12, 41, 9, tzinfo=UTC)


# Content types and form-encoded bodies


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "APPLICATION/JSON", "", "text/plain",
     FORM, "application/x-www-form-urlencoded; charset=UTF-8"],
)  # fmt: skip
def test_json_body_is_read_whatever_the_content_type(content_type: str) -> None:
    order = parse_samcart(fixture_body("order_products_array.json"), content_type)
    assert order.product_ids == ("279813",)


def test_json_body_with_byte_order_mark_is_read() -> None:
    order = parse_samcart(b"\xef\xbb\xbf" + fixture_body("order_uk.json"), JSON)
    assert order.shipping.country_code == "GB"


@pytest.mark.parametrize(
    "content_type",
    [FORM, "application/x-www-form-urlencoded; charset=UTF-8", "Application/X-WWW-Form-Urlencoded",
     "application/json", "", "text/plain"],
)  # fmt: skip
def test_form_body_is_read_with_form_or_other_content_types(content_type: str) -> None:
    order = parse_samcart(fixture_body("order_form_encoded.txt"), content_type)
    assert order == parse_fixture("order_form_encoded.txt")


def test_form_body_details() -> None:
    order = parse_fixture("order_form_encoded.txt")
    assert order.items == (
        LineItem("279813", 2, Decimal("24.00"), "The Lighthouse Keeper's Almanac (Paperback)"),
        LineItem("294010", 1, Decimal("9.00"), "Companion Workbook (Print)"),
    )
    assert order.customer == Customer(
        "Beatrix", "Nakashima-Ruiz", "beatrix.nr@example.com", "+1 303 555 0166"
    )
    assert order.billing == us("2200 Larimer Street", "Denver", "CO", "80205")


def form(text: str) -> CartNotification:
    return parse_samcart(text.encode(), FORM)


def test_form_lists_follow_their_indexes() -> None:
    order = form("type=Order&order[id]=1&products[10][id]=C&products[2][id]=B&products[0][id]=A")
    assert order.product_ids == ("A", "B", "C")


def test_form_empty_brackets_append() -> None:
    order = form("type=Order&order[id]=1&products[][id]=A&products[][id]=B&products[][id]=A")
    assert order.items == (LineItem("A", 2, None), LineItem("B", 1, None))


def test_form_percent_encoded_brackets_and_repeated_keys() -> None:
    order = form("type=Refund&type=Order&order%5Bid%5D=7&product%5Bid%5D=279813%2C294010")
    assert (order.event_type, order.order_id) == ("Order", "7")
    assert order.product_ids == ("279813", "294010")


def test_form_conflicting_shapes_do_not_break() -> None:
    text = (
        "type=Order&order=x&order[id]=5&customer[first_name]=A&customer=B"
        "&products[0]=1&products[0][id]=9"
    )
    order = form(text)
    assert (order.order_id, order.customer, order.product_ids) == ("5", Customer(), ("9",))


@pytest.mark.parametrize(
    ("text", "message"),
    [("type=Order&order[id]=1", sc.ERR_NO_PRODUCT),
     ("type=Order&products[0][id]=1", sc.ERR_NO_ORDER_ID),
     ("order[id]=1&products[0][id]=1", sc.ERR_NO_TYPE),
     ("type[]=Order&order[id]=1&products[0][id]=1", sc.ERR_NO_TYPE),
     ("type=Order&order[id]=1&products[0][id]=1&products[0][quantity]=lots",
      sc.ERR_BAD_QUANTITY.format(product_id="1")),
     ("type=Order&a" + "[b]" * 40 + "=1", sc.ERR_TOO_DEEP),
     ("type=Order&x=%FF", sc.ERR_NOT_UTF8),
     ("&".join(["type=Order"] * 2000), sc.ERR_TOO_MANY_FIELDS),
     ("0=a&1=b", sc.ERR_NO_TYPE),
     ("[type]=Order&[order][id]=1&[products][0][id]=1", sc.ERR_NO_TYPE),
     ("=&&=", sc.ERR_NO_TYPE)],
)  # fmt: skip
def test_unusable_form_bodies_are_rejected(text: str, message: str) -> None:
    reject(text, message, FORM)


def test_legacy_form_body_details() -> None:
    order = parse_fixture("order_legacy_form_encoded.txt")
    assert order.items == (
        LineItem("279813", 1, Decimal("24.00"), "The Lighthouse Keeper's Almanac (Paperback)"),
    )
    assert order.billing == Address("Friedrichstraße 12", "Berlin", "", "10117", "Germany", "DE")
    assert order.customer.phone == ""


# The dataclasses


def test_address_completeness() -> None:
    full = us("1 Main St", "Keene", "NH", "03431")
    assert full.is_complete()
    assert not full.is_empty()
    assert not dataclasses.replace(full, country_code="").is_complete()
    assert not dataclasses.replace(full, postal_code="").is_complete()
    assert dataclasses.replace(full, state="").is_complete()
    assert Address().is_empty()
    assert not Address(state="NH").is_empty()


def test_customer_full_name() -> None:
    assert Customer("Ada", "Quill").full_name == "Ada Quill"
    assert Customer(last_name="Quill").full_name == "Quill"
    assert Customer().full_name == ""


def test_notification_is_frozen() -> None:
    order = parse_fixture("order_uk.json")
    with pytest.raises(dataclasses.FrozenInstanceError):
        order.order_id = "other"  # type: ignore[misc]


# Only PayloadError or a result, whatever comes in

NASTY = [
    "null", "true", "[]", "{}", '""', '"  "', "0", "-1", "1.5", "-0", "1e400", "1e999999999",
    "1" * 4000, '"\\u0000"', '"\\ud800"', '"\\udfff x"', '"' + "z" * 3000 + '"', '"1,2,3"',
    '"2,x,"', '[{"id": 1}]', '{"id": "1"}', '"Order"', '"2025-11-05T07:41:09-05:00"',
    '"0001-01-01T00:00:00+14:00"', "[" * 40 + "]" * 40,
]  # fmt: skip


def leaf_paths(value: object, path: tuple = ()) -> list[tuple]:
    if isinstance(value, dict):
        return [p for key, child in value.items() for p in leaf_paths(child, (*path, key))]
    if isinstance(value, list):
        return [p for index, child in enumerate(value) for p in leaf_paths(child, (*path, index))]
    return [path]


def with_fragment(data: object, path: tuple, fragment: str) -> bytes:
    """Return data as JSON with the value at path replaced by a raw JSON fragment."""
    copy = json.loads(json.dumps(data))
    node = copy
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = "@@FRAGMENT@@"
    return json.dumps(copy).replace('"@@FRAGMENT@@"', fragment).encode()


def parse_or_reject(body: bytes, content_type: str = JSON) -> None:
    try:
        notification = parse_samcart(body, content_type)
    except PayloadError as error:
        assert str(error)
    else:
        assert_storable(notification)
        assert all(1 <= item.quantity <= sc.MAX_QUANTITY for item in notification.items)


def test_every_field_of_every_fixture_survives_nasty_values() -> None:
    rng = random.Random(20251105)
    for name in sorted(EXPECTED):
        if name.endswith(".txt"):
            continue
        data = json.loads(fixture_body(name))
        paths = leaf_paths(data) + [(key,) for key in data]
        for path in paths:
            if path:
                parse_or_reject(with_fragment(data, path, rng.choice(NASTY)))


def test_random_bytes_give_only_payload_errors() -> None:
    rng = random.Random(4242)
    alphabet = b'{}[]:,"\\ 0123456789.eE+-truefalsnul=&%type[id]Order\x00\xff\xc3'
    samples = [fixture_body(name) for name in sorted(EXPECTED)]
    for _ in range(300):
        length = rng.randint(0, 120)
        parse_or_reject(bytes(rng.getrandbits(8) for _ in range(length)), rng.choice([JSON, FORM]))
        parse_or_reject(
            bytes(rng.choice(alphabet) for _ in range(length)), rng.choice([JSON, FORM])
        )
        mutated = bytearray(rng.choice(samples))
        for _ in range(rng.randint(1, 8)):
            mutated[rng.randrange(len(mutated))] = rng.choice(alphabet)
        parse_or_reject(bytes(mutated[: rng.randint(0, len(mutated))]))
        parse_or_reject(bytes(mutated), rng.choice([JSON, FORM, ""]))
