"""Property tests: whatever arrives at the Notify URL, no 500, nothing lost, no stray order.

Together the tests below send more than 2,000 generated bodies through the real view.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fulfillment.models import Notification, Order
from tests.factories import FIXTURES, make_project, make_publisher, notify_path

pytestmark = pytest.mark.django_db

MATCHED_IDS = ("279813", "294010", "298020")
SAMPLES = [
    json.loads(path.read_text())
    for path in sorted(FIXTURES.glob("*.json"))
    if path.name.startswith("order")
]


def fuzz(examples: int) -> settings:
    """Hypothesis settings for a fuzz test of `examples` bodies."""
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from(["", "Order", "order", "ORDER", "Refund", "279813", "[]", "\x00", "\ud800"])
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


@st.composite
def mutated_samples(draw: st.DrawFn) -> bytes:
    """A real sample with a few of its values replaced, removed or retyped."""
    body: dict[str, Any] = copy.deepcopy(draw(st.sampled_from(SAMPLES)))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        container: Any = body
        while True:
            keys = list(container) if isinstance(container, dict) else list(range(len(container)))
            if not keys:
                break
            key = draw(st.sampled_from(keys))
            child = container[key]
            if isinstance(child, dict | list) and child and draw(st.booleans()):
                container = child
                continue
            if isinstance(container, dict) and draw(st.booleans()):
                del container[key]
            else:
                container[key] = draw(json_values)
            break
    return json.dumps(body, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")


@st.composite
def pathological(draw: st.DrawFn) -> bytes:
    """Bodies that break naive receivers: nesting, NaN, huge numbers, NUL bytes, odd unicode."""
    depth = draw(st.integers(min_value=30, max_value=3000))
    return draw(
        st.sampled_from(
            [
                b'{"type": "Order", "x": ' + b"[" * depth + b"]" * depth + b"}",
                b'{"type": "Order", "order": {"id": 1}, "products": [{"id": NaN}]}',
                b'{"type": "Order", "order": {"id": Infinity}, "products": [{"id": 279813}]}',
                b'{"type": "Order", "order": {"id": 1}, "products": [{"id": 279813, "quantity": '
                + b"9" * depth
                + b"}]}",
                b'{"type": "Order\\u0000", "order": {"id": "\\u0000"}, '
                b'"products": [{"id": "279813"}]}',
                (
                    '{"type": "Order", "order": {"id": 7}, "products": [{"id": 279813}], '
                    '"customer": {"first_name": "\\ud800\\udfff\\ud83d", '
                    '"last_name": "\u202e\ufeff"}}'
                ).encode(),
                b'{"type": "Order", "order": {"id": 8, "shipping_address": "a\x00b"}, '
                b'"products": [{"id": 279813}]}',
                b"\xef\xbb\xbf" + b'{"type": "Order"}',
                b"\x00" * depth,
            ]
        )
    )


@pytest.fixture
def fuzz_target(db):
    publisher = make_publisher(balance="1000.00")
    make_project(publisher, "279813")
    make_project(publisher, "{294010}{298020}")
    return publisher


def _check(client, publisher, body: bytes, content_type: str = "application/json") -> None:
    before_notifications = Notification.objects.count()
    before_orders = Order.objects.count()

    response = client.post(notify_path(publisher), data=body, content_type=content_type)

    assert response.status_code in (200, 400, 413), (response.status_code, body[:200])
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response.json()["detail"]
    assert Notification.objects.count() == before_notifications + 1
    stored = Notification.objects.latest("id")
    assert bytes(stored.raw_body) == body
    if Order.objects.count() > before_orders:
        text = body.decode("utf-8", "replace")
        assert response.json()["outcome"] == "created"
        assert "order" in text.casefold()
        assert any(product_id in text for product_id in MATCHED_IDS)


@fuzz(500)
@given(body=st.binary(max_size=300))
def test_random_bytes(client, fuzz_target, body):
    _check(client, fuzz_target, body)


@fuzz(500)
@given(value=json_values)
def test_random_json(client, fuzz_target, value):
    _check(client, fuzz_target, json.dumps(value).encode())


@fuzz(900)
@given(body=mutated_samples())
def test_mutated_samples(client, fuzz_target, body):
    _check(client, fuzz_target, body)


@fuzz(150)
@given(body=pathological())
def test_pathological_bodies(client, fuzz_target, body):
    _check(client, fuzz_target, body)


@fuzz(200)
@given(
    pairs=st.lists(
        st.tuples(
            st.sampled_from(
                ["type", "order[id]", "products[0][id]", "product[id]", "a[b][c]", "x[]"]
            ),
            st.text(max_size=20),
        ),
        max_size=8,
    )
)
def test_random_form_bodies(client, fuzz_target, pairs):
    from urllib.parse import urlencode

    _check(client, fuzz_target, urlencode(pairs).encode(), "application/x-www-form-urlencoded")
