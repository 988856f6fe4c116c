"""Property test (SPEC §16, issue 8 finding 5): every page that shows stored data renders anything.

Bodies of every kind — random bytes, JSON with lone surrogate escapes, NUL, controls and bidi
overrides in every string, huge numbers, nesting at and past the parser's limit, form bodies
with percent-encoded garbage, 1 MiB of one line, invalid UTF-8 — are stored as notifications
three ways: through the real Notify URL with the right key, with a wrong key (stored cut to
4 KiB), and directly as rows then processed (no size limit). For each one the test renders, as
the publisher's manager and as TrepStar staff: the admin notification page and list, the pages
of the orders it created and the order list, the account page, and the API notification and
order list and detail (JSON and the browsable HTML page). Every page must answer 200 and name
the notification (or its order).

Examples: 150 generated bodies + 70 generated orders with hostile strings + 13 fixed
pathological bodies × 3 ways = 259 stored notifications, about 3,000 page renders.
"""

from __future__ import annotations

import copy
import itertools
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_from_bytes

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fulfillment.models import Notification, Outcome, Publisher
from fulfillment.services.notifications import notification_process
from tests.factories import (
    make_project,
    make_publisher,
    make_publisher_user,
    make_staff_user,
    notify_path,
    sample,
)

pytestmark = pytest.mark.django_db

MIB = 1024 * 1024
WAYS = ("right_key", "wrong_key", "direct")
CONTENT_TYPES = (
    "application/json",
    "application/x-www-form-urlencoded",
    "text/plain",
    "",
    "application/json; charset=latin-1",
)
NASTY = (
    "\ud800",
    "\udfff\ud800",
    "\x00",
    "\u0000\u0001\u001f\u007f\u0085\u009f",
    "\u202eevil\u202c",
    "\u2066\u2067\u2068\u2069\u200e\u200f",
    "<script>alert(1)</script>",
    "{{ 7|add:1 }}{% now 'Y' %}",
    "\ufeff\ufffe\uffff",
    "\U0010ffff\U0001f600",
    "\r\n\t",
    "%00%ED%A0%80%FF",
    "'\"&;--",
)
_addresses = itertools.count(1)


def examples(count: int) -> settings:
    """Hypothesis settings for `count` examples, deterministic, no example database."""
    return settings(
        max_examples=count,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],
    )


# Bodies ------------------------------------------------------------------------------------

hostile_text = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=40),
    st.sampled_from(NASTY),
    st.lists(st.sampled_from(NASTY), min_size=1, max_size=4).map("".join),
)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([10**400, -(10**400), 2**63, 2147483647, 1e308, -0.0])
    | hostile_text
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(hostile_text, children, max_size=4)
    ),
    max_leaves=12,
)


def encode(value: object, draw: st.DrawFn) -> bytes:
    """JSON-encode `value`: ASCII escapes (lone surrogates as \\udXXX) or raw (surrogatepass)."""
    if draw(st.booleans()):
        return json.dumps(value, ensure_ascii=True).encode()
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


@st.composite
def hostile_orders(draw: st.DrawFn) -> bytes:
    """A real Order sample for product 279813 whose every string is hostile."""
    body: dict[str, Any] = copy.deepcopy(json.loads(sample("order_products_array")))
    body["order"]["id"] = draw(st.integers(min_value=1, max_value=10**12))

    def spoil(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: spoil(v) for k, v in node.items()}
        if isinstance(node, list):
            return [spoil(v) for v in node]
        if isinstance(node, str) and node != "Order":
            return draw(hostile_text) if draw(st.booleans()) else node + draw(hostile_text)
        return node

    body["customer"] = spoil(body["customer"])
    for key, value in list(body["order"].items()):
        if key != "id":
            body["order"][key] = spoil(value)
    for product in body["products"]:
        product["name"] = draw(hostile_text)
        product["quantity"] = draw(st.sampled_from([1, 2, "3", 10_000]))
    body[draw(hostile_text)] = draw(json_values)
    # ASCII escapes keep the body valid UTF-8 (\ud800 arrives as the reported escape), so the
    # order is created; raw lone surrogates (invalid UTF-8) are any_body's part.
    return json.dumps(body, ensure_ascii=True).encode()


@st.composite
def form_bodies(draw: st.DrawFn) -> bytes:
    """A form-encoded order whose extra keys and values are percent-encoded garbage."""
    names = st.sampled_from([b"type", b"order[id]", b"customer[first_name]", b"x[][]["])
    pairs = draw(st.lists(st.tuples(names | st.binary(max_size=12), st.binary(max_size=24))))
    parts = [quote_from_bytes(k) + "=" + quote_from_bytes(v) for k, v in pairs[:6]]
    return "&".join(["type=Order", "product[id]=279813", *parts]).encode()


@st.composite
def any_body(draw: st.DrawFn) -> bytes:
    """Random bytes, random JSON, a hostile order, a form body, or deep nesting."""
    kind = draw(st.sampled_from(["bytes", "json", "order", "form", "nesting"]))
    if kind == "bytes":
        return draw(st.binary(max_size=2048))
    if kind == "json":
        return encode(
            {"type": draw(st.sampled_from(["Order", "Refund", ""])), "x": draw(json_values)}, draw
        )
    if kind == "order":
        return draw(hostile_orders())
    if kind == "form":
        return draw(form_bodies())
    depth = draw(st.integers(min_value=30, max_value=1200))
    opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
    return (opener * depth + "1" + closer * depth).encode()


def fixed_bodies() -> list[tuple[str, bytes]]:
    """Bodies too large or too regular for a generator: the 1 MiB and limit cases."""
    order = json.loads(sample("order_products_array"))
    long_name = copy.deepcopy(order)
    long_name["customer"]["first_name"] = "\u202e" + "x" * (MIB - 20_000)
    surrogates = copy.deepcopy(order)
    surrogates["customer"]["last_name"] = "\ud800\udbff\x00" * 1000
    at_limit = "[" * 31 + json.dumps(order) + "]" * 31
    return [
        ("one line of 1 MiB", b"x" * MIB),
        ("one JSON string of 1 MiB", json.dumps({"type": "Order", "x": "y" * (MIB - 30)}).encode()),
        ("an order whose name is 1 MiB", json.dumps(long_name).encode()[:MIB]),
        ("1 MiB + 1 byte", b"{" + b" " * MIB + b"}"),
        ("1 MiB of invalid UTF-8", b"\xff\xfe\xed\xa0\x80" * (MIB // 5)),
        ("1 MiB of NUL", b"\x00" * MIB),
        ("a million opening brackets", b"[" * MIB),
        ("lone surrogates in an order", json.dumps(surrogates).encode()),
        ("nesting at the parser's limit", at_limit.encode()),
        ("an integer of 5,000 digits", b'{"type":"Order","q":' + b"9" * 5000 + b"}"),
        ("a float that overflows", b'{"type":"Order","q":1e999999}'),
        ("a form with NUL and surrogate bytes", b"type=Order&product[id]=279813&x=%00%ED%A0%80"),
        ("lone surrogate escape", b'{"type":"Order","x":"\\ud800"}'),
    ]


# Storing and rendering ---------------------------------------------------------------------


@dataclass
class Scene:
    """A funded publisher with a matching project, its manager and TrepStar staff."""

    publisher: Publisher
    manager: Client
    staff: Client


@pytest.fixture
def scene(db) -> Scene:
    publisher = make_publisher(balance="100000.00")
    make_project(publisher, "279813", title="Almanac", unit_cost="1.00", shipping_cost="1.00")
    manager = Client(raise_request_exception=False)
    manager.force_login(make_publisher_user(publisher))
    staff = Client(raise_request_exception=False)
    staff.force_login(make_staff_user())
    return Scene(publisher=publisher, manager=manager, staff=staff)


def store(scene: Scene, body: bytes, *, way: str, content_type: str) -> Notification:
    """Store `body` as a notification the chosen way and return it."""
    if way == "direct":
        row = Notification.objects.create(
            publisher=scene.publisher,
            raw_body=body,
            body_size=len(body),
            content_type=content_type,
            idpub_given=scene.publisher.idpub,
        )
        notification_process(notification=row)
        return Notification.objects.get(pk=row.pk)
    # A fresh address each time: the wrong-key rate limit counts per address and idpub.
    n = next(_addresses)
    client = Client(REMOTE_ADDR=f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}")
    key = None if way == "right_key" else "wrong"
    # generic() sends the bytes as they are (post() re-encodes them for a declared charset).
    path = notify_path(scene.publisher, key=key)
    response = client.generic("POST", path, data=body, content_type=content_type)
    assert response.status_code < 500 or response.json()["outcome"] == Outcome.ERROR
    return Notification.objects.get(pk=response.json()["notification"])


def page(client: Client, url: str, **params: str) -> str:
    """GET a page; it must answer 200. Return its text."""
    response = client.get(url, params)
    assert response.status_code == 200, (url, response.status_code)
    return response.content.decode()


def render_everywhere(scene: Scene, notification: Notification) -> None:
    """Render every page showing this notification or its orders, as manager and staff."""
    pk = notification.pk
    link = reverse("admin:fulfillment_notification_change", args=[pk])
    for client in (scene.manager, scene.staff):
        assert f"Notification {pk}:" in page(client, link)
        # Refused requests (wrong key) are one filter away from the default list.
        refused = {"refused": "1"} if notification.http_status == 403 else {}
        listing = page(client, reverse("admin:fulfillment_notification_changelist"), **refused)
        assert link in listing
        detail = client.get(reverse("api-notification", args=[pk]))
        assert detail.status_code == 200 and detail.json()["id"] == pk
        html = page(client, reverse("api-notification", args=[pk]), format="api")
        assert f"&quot;id&quot;: {pk}," in html or f'"id": {pk},' in html
    api_list = scene.manager.get(reverse("api-notifications"))
    assert api_list.status_code == 200
    assert pk in [item["id"] for item in api_list.json()["results"]]
    account = page(scene.manager, reverse("account"))
    if notification.http_status != 403:  # refused requests are counted, not listed
        assert link in account
    for order in notification.orders.all():
        order_link = reverse("admin:fulfillment_order_change", args=[order.pk])
        for client in (scene.manager, scene.staff):
            assert f"Notification #{pk}" in page(client, order_link)
            assert order_link in page(client, reverse("admin:fulfillment_order_changelist"))
            api_order = client.get(reverse("api-order", args=[order.pk]))
            assert api_order.status_code == 200 and api_order.json()["notification"] == pk
        orders = scene.manager.get(reverse("api-orders"))
        assert orders.status_code == 200
        assert order.pk in [item["id"] for item in orders.json()["results"]]


def check(scene: Scene, body: bytes, *, way: str, content_type: str) -> Notification:
    """Store and render one body, then undo everything it created."""
    with transaction.atomic():
        notification = store(scene, body, way=way, content_type=content_type)
        render_everywhere(scene, notification)
        transaction.set_rollback(True)
    return notification


@examples(150)
@given(
    body=any_body(),
    way=st.sampled_from(WAYS),
    content_type=st.sampled_from(CONTENT_TYPES),
)
def test_any_body_renders_on_every_page(scene, body, way, content_type):
    check(scene, body, way=way, content_type=content_type)


@examples(70)
@given(body=hostile_orders(), way=st.sampled_from(["right_key", "direct"]))
def test_orders_with_hostile_strings_render_on_every_page(scene, body, way):
    # Every string of the order is hostile; the product still matches, so an order exists.
    with transaction.atomic():
        notification = store(scene, body, way=way, content_type="application/json")
        assert notification.outcome == Outcome.CREATED
        assert notification.orders.count() == 1
        render_everywhere(scene, notification)
        transaction.set_rollback(True)


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize(("name", "body"), fixed_bodies(), ids=[n for n, _ in fixed_bodies()])
def test_pathological_bodies_render_on_every_page(scene, name, body, way):
    check(scene, body, way=way, content_type="application/json")


def test_the_reported_body_renders_and_an_order_from_it_too(scene):
    """Finding 5 as reported: a lone surrogate escape with a wrong key, then the right one."""
    body = b'{"type":"Order","x":"\\ud800"}'
    check(scene, body, way="wrong_key", content_type="application/json")
    order = json.loads(sample("order_products_array"))
    order["customer"]["first_name"] = "Ros\ud800"
    order["x"] = "\ud800"
    created = store(
        scene, json.dumps(order).encode(), way="right_key", content_type="application/json"
    )
    assert created.outcome == Outcome.CREATED and created.orders.count() == 1
    render_everywhere(scene, created)
