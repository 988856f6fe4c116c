"""The SamCart API client (SPEC §17) against the stand-in, over real HTTP.

`sleep` is a list that records the waits instead of sleeping: the client's own code runs as in
production, only the clock is spared.
"""

from __future__ import annotations

import time
import traceback
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
from urllib.parse import parse_qs

import pytest

from fulfillment.samcart_api import (
    ApiCartItem,
    ApiUnavailable,
    BadResponse,
    KeyRefused,
    SamcartApiError,
    SamcartClient,
)
from fulfillment.samcart_api.standin import StandinServer
from fulfillment.samcart_api.standin_data import (
    standin_address,
    standin_customer,
    standin_data,
    standin_order,
)
from tests.smtp import free_port

KEY = "sk_live_Zq8wSecret4711"
START = datetime(2025, 3, 1, tzinfo=UTC)
END = datetime(2025, 3, 31, 23, 59, 59, tzinfo=UTC)
DAY = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


class Sleeps(list):
    """Record the seconds the client asks to wait."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def orders(count: int, *, start: int = 1) -> list[dict]:
    return [
        standin_order(n, 279813, order_date=DAY + timedelta(minutes=n))
        for n in range(start, start + count)
    ]


@pytest.fixture
def standin():
    with StandinServer(standin_data(api_key=KEY, orders=orders(7))) as server:
        yield server


@pytest.fixture
def other():
    """A second server on another port: a foreign host as far as the client is concerned."""
    with StandinServer(standin_data(api_key=KEY, orders=orders(1))) as server:
        yield server


def client_for(server: StandinServer, **options) -> tuple[SamcartClient, Sleeps]:
    sleeps = Sleeps()
    base_url = options.pop("base_url", server.base_url)
    options.setdefault("api_key", KEY)
    return SamcartClient(base_url=base_url, sleep=sleeps, **options), sleeps


def pages_of(client: SamcartClient, **window) -> list[list[str]]:
    window = {"created_min": START, "created_max": END, **window}
    return [[order.id for order in page] for page in client.order_pages(**window)]


def statuses(server: StandinServer) -> list[int]:
    return [request["status"] for request in server.requests]


def test_pages_follow_next_across_three_pages(standin):
    client, sleeps = client_for(standin)

    pages = pages_of(client, limit=3)

    assert pages == [["1", "2", "3"], ["4", "5", "6"], ["7"]]
    queries = [parse_qs(request["query"]) for request in standin.requests]
    assert queries[0] == {
        "created_at_min": ["2025-03-01T00:00:00Z"],
        "created_at_max": ["2025-03-31T23:59:59Z"],
        "limit": ["3"],
    }
    assert [(q["offset"], q["dir"]) for q in queries[1:]] == [(["3"], ["next"]), (["6"], ["next"])]
    assert sleeps == []


def test_an_order_keeps_what_the_check_needs(standin):
    standin.set_data(
        standin_data(
            api_key=KEY,
            orders=[
                standin_order(9, [279813, 294010], quantity=2, status="refunded", order_date=DAY)
            ],
        )
    )
    client, _ = client_for(standin)

    [[order]] = list(client.order_pages(created_min=START, created_max=END))

    assert (order.id, order.customer_id, order.test_mode, order.order_date) == (
        "9",
        "500009",
        False,
        DAY,
    )
    assert order.items == (
        ApiCartItem(
            id="901",
            product_id="279813",
            quantity=2,
            status="refunded",
            product_name="Product 279813",
        ),
        ApiCartItem(
            id="902",
            product_id="294010",
            quantity=2,
            status="refunded",
            product_name="Product 294010",
        ),
    )


@pytest.mark.parametrize(
    ("count", "lazy_next", "sizes"),
    [
        (100, False, [100]),
        (200, False, [100, 100]),
        # A SamCart that links every full page to the next one: the last page is empty.
        (100, True, [100, 0]),
        (200, True, [100, 100, 0]),
    ],
)
def test_a_page_boundary_exactly_at_the_limit(standin, count, lazy_next, sizes):
    standin.set_data(standin_data(api_key=KEY, orders=orders(count)))
    standin.control({"lazy_next": lazy_next})
    client, _ = client_for(standin)

    pages = pages_of(client, limit=100)

    assert [len(page) for page in pages] == sizes
    assert [order_id for page in pages for order_id in page] == [
        str(n) for n in range(1, count + 1)
    ]
    assert len(standin.requests) == len(sizes)


def test_an_empty_window_gives_one_empty_page(standin):
    client, _ = client_for(standin)

    pages = pages_of(
        client, created_min=DAY - timedelta(days=2), created_max=DAY - timedelta(days=1)
    )

    assert pages == [[]]
    assert statuses(standin) == [200]


def test_the_window_goes_out_in_utc_with_z_and_test_orders_are_not_filtered_out(standin):
    standin.set_data(
        standin_data(api_key=KEY, orders=[standin_order(1, 279813, test_mode=True, order_date=DAY)])
    )
    client, _ = client_for(standin)
    plus_two = timezone(timedelta(hours=2))

    [[order]] = list(
        client.order_pages(
            created_min=datetime(2025, 3, 10, 9, 0, 0, 250_000, tzinfo=plus_two),
            created_max=datetime(2025, 3, 10, 14, 30, 5, 1, tzinfo=plus_two),
        )
    )

    assert order.test_mode is True
    query = parse_qs(standin.requests[0]["query"])
    assert "test_mode" not in query
    # The start rounds down and the end up: the window is never narrower than asked.
    assert query["created_at_min"] == ["2025-03-10T07:00:00Z"]
    assert query["created_at_max"] == ["2025-03-10T12:30:06Z"]


def test_429_waits_the_seconds_of_retry_after(standin):
    standin.fail({"status": 429, "retry_after": "3", "times": 2})
    client, sleeps = client_for(standin)

    assert pages_of(client, limit=100) == [["1", "2", "3", "4", "5", "6", "7"]]
    assert sleeps == [3.0, 3.0]
    assert statuses(standin) == [429, 429, 200]


def test_429_retry_after_as_a_date_and_a_cap_on_long_waits(standin):
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    standin.fail({"status": 429, "retry_after": soon}, {"status": 429, "retry_after": "86400"})
    client, sleeps = client_for(standin)

    assert len(pages_of(client)[0]) == 7
    assert 25 <= sleeps[0] <= 30
    assert sleeps[1] == 120.0


def test_429_without_retry_after_backs_off_doubling_then_gives_up(standin):
    standin.fail({"status": 429, "times": 5})
    client, sleeps = client_for(standin)

    with pytest.raises(ApiUnavailable) as raised:
        pages_of(client)

    assert sleeps == [1.0, 2.0, 4.0, 8.0]
    assert statuses(standin) == [429] * 5
    assert "5 tries" in str(raised.value)
    assert "429" in str(raised.value)


@pytest.mark.parametrize("status", [504, 500, 503])
def test_5xx_is_retried_then_succeeds(standin, status):
    standin.fail({"status": status, "times": 2})
    client, sleeps = client_for(standin)

    assert len(pages_of(client)[0]) == 7
    assert sleeps == [1.0, 2.0]
    assert statuses(standin) == [status, status, 200]


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_key_stops_at_once(standin, status):
    standin.fail({"status": status, "times": 3})
    client, sleeps = client_for(standin)

    with pytest.raises(KeyRefused):
        pages_of(client)

    assert statuses(standin) == [status]
    assert sleeps == []


def test_a_wrong_key_is_refused_by_the_server_without_retry(standin):
    client, sleeps = client_for(standin, api_key="sk_live_wrong")

    with pytest.raises(KeyRefused) as raised:
        client.customer(order_id="1")

    assert "refused the API key" in str(raised.value)
    assert statuses(standin) == [401]
    assert sleeps == []


def test_a_read_timeout_is_retried(standin):
    standin.fail({"delay": 2})
    client, sleeps = client_for(standin, timeout=0.5)
    began = time.monotonic()

    assert len(pages_of(client)[0]) == 7

    assert time.monotonic() - began < 1.9  # it did not wait for the slow answer
    assert sleeps == [1.0]


def test_timeouts_on_every_try_make_the_api_unavailable(standin):
    standin.fail({"delay": 1, "times": 3})
    client, sleeps = client_for(standin, timeout=0.3, tries=3)

    with pytest.raises(ApiUnavailable) as raised:
        pages_of(client)

    assert sleeps == [1.0, 2.0]
    assert "no answer in time" in str(raised.value)


def test_no_server_at_all_is_unavailable_after_the_tries(standin):
    client, sleeps = client_for(standin, base_url=f"http://127.0.0.1:{free_port()}/v1", tries=3)

    with pytest.raises(ApiUnavailable) as raised:
        client.customer(order_id="1")

    assert sleeps == [1.0, 2.0]
    assert "could not connect" in str(raised.value)


def test_the_customer_comes_with_both_addresses_and_country_codes(standin):
    germany = standin_address(
        street="Hauptstraße 5",
        city="München",
        state="",
        region="Bayern",
        postal_code="80331",
        country="Deutschland",
    )
    standin.set_data(
        standin_data(
            api_key=KEY,
            orders=[standin_order(1, 279813), standin_order(2, 279813)],
            customers=[
                standin_customer(
                    500001,
                    first_name="Grace",
                    last_name="Hopper",
                    email="grace@example.com",
                    phone="+1 555 0100",
                    billing=germany,
                ),
                standin_customer(500002, shipping={}),
            ],
        )
    )
    client, _ = client_for(standin)

    customer = client.customer(order_id="1")
    without = client.customer(order_id="2")

    assert (customer.id, customer.first_name, customer.last_name) == ("500001", "Grace", "Hopper")
    assert (customer.email, customer.phone) == ("grace@example.com", "+1 555 0100")
    shipping, billing = customer.shipping, customer.billing
    assert (shipping.street, shipping.city, shipping.state) == (
        "1 Sample Street",
        "Springfield",
        "IL",
    )
    assert (shipping.postal_code, shipping.country, shipping.country_code) == (
        "62701",
        "United States",
        "US",
    )
    assert shipping.is_complete()
    assert (billing.city, billing.state, billing.country_code) == ("München", "Bayern", "DE")
    assert without.shipping.is_empty() and without.billing.is_empty()


def test_an_unknown_order_is_an_error_with_its_status_and_no_retry(standin):
    client, sleeps = client_for(standin)

    with pytest.raises(SamcartApiError) as raised:
        client.customer(order_id="999")

    assert not isinstance(raised.value, KeyRefused | ApiUnavailable | BadResponse)
    assert "HTTP 404" in str(raised.value)
    assert statuses(standin) == [404]
    assert sleeps == []


@pytest.mark.parametrize(
    "body",
    [
        "<html>Bad gateway</html>",
        '{"data": [NaN], "pagination": {}}',
        '{"data": "none"}',
        '{"data": [], "pagination": {"next": 5}}',
        "[1, 2]",
        b"\xff\xfe{".decode("latin-1"),
    ],
)
def test_an_answer_that_is_not_the_documented_json_is_a_bad_response(standin, body):
    standin.fail({"status": 200, "body": body})
    client, sleeps = client_for(standin)

    with pytest.raises(BadResponse):
        pages_of(client)

    assert sleeps == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("quantity", "two"),
        ("quantity", -1),
        ("product_id", None),
        ("status", ""),
        ("product_id", []),
    ],
)
def test_a_malformed_item_is_a_bad_response_naming_the_order(standin, field, value):
    order = standin_order(4242, 279813, order_date=DAY)
    order["cart_items"][0][field] = value
    standin.set_data(standin_data(api_key=KEY, orders=[order]))
    client, _ = client_for(standin)

    with pytest.raises(BadResponse) as raised:
        pages_of(client)

    assert "Order 4242" in str(raised.value)


def test_ids_quantities_and_flags_may_come_as_text_or_numbers(standin):
    order = standin_order(77, "279813", order_date=DAY)
    order.update(id="77", customer_id="500077", test_mode="false", total="24.00")
    order["cart_items"][0].update(quantity="3", id="7701")
    second = standin_order(78, 294010, order_date=DAY)
    second.update(test_mode=1)
    second["cart_items"][0].update(product_id=294010.0, quantity=2.0, status="Charged")
    standin.set_data(standin_data(api_key=KEY, orders=[order, second]))
    client, _ = client_for(standin)

    [[first, other]] = list(client.order_pages(created_min=START, created_max=END))

    assert (first.id, first.customer_id, first.test_mode) == ("77", "500077", False)
    assert (first.items[0].id, first.items[0].product_id, first.items[0].quantity) == (
        "7701",
        "279813",
        3,
    )
    assert other.test_mode is True
    assert (other.items[0].product_id, other.items[0].quantity) == ("294010", 2)
    assert other.items[0].status == "charged"


def test_a_next_page_on_another_host_is_refused(standin, other):
    foreign = f"{other.base_url}/orders?offset=1&dir=next"
    standin.fail({"status": 200, "body": {"data": [], "pagination": {"next": foreign}}})
    client, _ = client_for(standin)

    with pytest.raises(BadResponse) as raised:
        pages_of(client)

    assert "another address" in str(raised.value)
    assert other.requests == []  # the key never went there


def test_a_redirect_is_not_followed(standin, other):
    standin.fail({"status": 302, "headers": {"Location": f"{other.base_url}/orders"}})
    client, _ = client_for(standin)

    with pytest.raises(SamcartApiError) as raised:
        pages_of(client)

    assert "redirect" in str(raised.value)
    assert other.requests == []


def test_a_listing_that_loops_back_stops(standin):
    again = f"{standin.base_url}/orders?offset=1&dir=next"
    page = {"data": [standin_order(1, 279813, order_date=DAY)], "pagination": {"next": again}}
    standin.fail({"status": 200, "body": page, "times": 3})
    client, _ = client_for(standin)

    assert pages_of(client) == [["1"], ["1"]]
    assert len(standin.requests) == 2


@pytest.mark.parametrize(
    "make_it_fail",
    [
        lambda s: s.fail({"status": 401}),
        lambda s: s.fail({"status": 429, "times": 2}),
        lambda s: s.fail({"status": 504, "times": 2}),
        lambda s: s.fail({"delay": 1, "times": 2}),
        lambda s: s.fail({"status": 200, "body": "not json"}),
        lambda s: s.fail({"status": 404}),
        lambda s: s.fail({"status": 200, "body": {"data": [{"id": 5, "cart_items": "x"}]}}),
        lambda s: s.fail(
            {"status": 200, "body": {"data": [], "pagination": {"next": "http://evil.example/"}}}
        ),
    ],
)
def test_the_key_never_appears_in_an_error(standin, make_it_fail):
    make_it_fail(standin)
    client, _ = client_for(standin, timeout=0.3, tries=2)

    with pytest.raises(SamcartApiError) as raised:
        pages_of(client)

    text = "".join(traceback.format_exception(raised.value)) + repr(raised.value)
    assert KEY not in text
    assert str(raised.value)


@pytest.mark.parametrize("key", [f"{KEY}\n", f"{KEY} x", ""])
def test_a_key_no_header_can_carry_is_refused_without_sending_it(standin, key):
    client, _ = client_for(standin, api_key=key)

    with pytest.raises(KeyRefused) as raised:
        pages_of(client)

    assert KEY not in "".join(traceback.format_exception(raised.value))
    assert standin.requests == []


def test_hostile_customer_text_is_cleaned_and_capped_as_on_the_notify_url(standin):
    hostile = standin_address(street="1 Main\x00 St\u202e" + "x" * 1000, country="\ud800Canada")
    standin.set_data(
        standin_data(
            api_key=KEY,
            orders=[standin_order(1, 279813)],
            customers=[standin_customer(500001, first_name="Ada\x07\x00", shipping=hostile)],
        )
    )
    client, _ = client_for(standin)

    customer = client.customer(order_id="1")

    assert customer.first_name == "Ada"
    assert customer.shipping.street.startswith("1 Main St")
    assert "\x00" not in customer.shipping.street
    assert len(customer.shipping.street) == 255
    assert (customer.shipping.country, customer.shipping.country_code) == ("Canada", "CA")


@pytest.mark.parametrize("limit", [0, 101])
def test_a_limit_the_api_refuses_is_a_programming_error(standin, limit):
    client, _ = client_for(standin)

    with pytest.raises(ValueError, match="limit"):
        pages_of(client, limit=limit)

    assert standin.requests == []


def test_an_answer_larger_than_the_limit_is_refused_unread(standin):
    orders = [standin_order(n, 279813, order_date=DAY) for n in range(1, 21)]
    standin.set_data(standin_data(api_key=KEY, orders=orders))
    small, _ = client_for(standin, max_bytes=2_000)
    with pytest.raises(BadResponse, match="more than 2000 bytes"):
        pages_of(small)
    roomy, _ = client_for(standin, max_bytes=200_000)
    assert pages_of(roomy) == [[str(n) for n in range(1, 21)]]
