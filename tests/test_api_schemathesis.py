"""SPEC §16: the API is fuzzed from its own OpenAPI schema and never answers 500.

schemathesis reads `/api/schema/` (loaded by a logged-in client: the schema needs a login) and
generates requests for every operation, with data that fits the schema (positive) and data
that does not (negative), for a publisher's manager, its viewer and TrepStar staff, each with a
token. Every answer is checked: no server error, and a documented answer matches its schema.
The database is real and seeded (boxes of one and of three lines on hold and in production,
projects, notifications of every kind); path ids point at real objects three times out of four
so the operations reach them, and a line id then at a line of that order. Hypothesis runs
derandomized (a fixed seed) with EXAMPLES (50) examples per operation, mode and role,
SCHEMA_EXAMPLES (10) for the schema endpoint itself: every operation x 2 modes x 3 roles x 50 +
1 x 2 x 3 x 10 = 4,260 requests, about a minute of CPU.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, given, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from fulfillment.models import Notification, Order, OrderLine, Project
from fulfillment.services.deposits import deposit_record
from tests.factories import (
    make_project,
    make_publisher,
    make_publisher_user,
    make_staff_user,
    post_notify,
    sample,
)

pytestmark = pytest.mark.django_db

EXAMPLES = 50
# The schema endpoint renders the whole schema on every call: fewer examples say enough there.
SCHEMA_EXAMPLES = 10
MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
CHECKS = [not_a_server_error, response_schema_conformance]


@dataclass
class Seed:
    """Each role's token and the ids of the real objects it sees, per kind of path."""

    tokens: dict[str, str]
    ids: dict[str, dict[str, itertools.cycle]] = field(default_factory=dict)
    lines: dict[str, dict[int, itertools.cycle]] = field(default_factory=dict)


def seed_data() -> Seed:
    """Two publishers with orders in every state, projects and notifications of every outcome."""
    alpha = make_publisher(name="Alpha Books")
    beta = make_publisher(name="Beta Press", balance="100.00")
    for publisher in (alpha, beta):
        make_project(publisher, "279813", title=f"{publisher.name} Almanac")
        make_project(publisher, "{294010}{298020}", title=f"{publisher.name} Bundle")
    client = Client()
    for n in range(6):
        body = sample("order_products_array").replace(b"35211874", str(35211874 + n).encode())
        post_notify(client, alpha, body)
        post_notify(client, beta, body)
        boxes = sample("order_three_products").replace(b"35211902", str(35211902 + n).encode())
        post_notify(client, alpha, boxes)  # a box of three lines (two of the bundle)
        post_notify(client, beta, boxes)
    post_notify(client, alpha, sample("order_products_array"), test=True)
    post_notify(client, alpha, b'{"type": "Refund", "order": {"id": 35211874}}')
    post_notify(client, alpha, b'{"type": "Order", "products": [{"id": 555}]}')
    post_notify(client, alpha, b"not json")
    post_notify(client, alpha, b'{"type": "Order"}', key="wrong")
    deposit_record(publisher=alpha, amount=Decimal("20.00"), actor=None)
    users = {
        "manager": make_publisher_user(alpha),
        "viewer": make_publisher_user(alpha, role="viewer"),
        "staff": make_staff_user(),
    }
    seed = Seed({role: Token.objects.create(user=user).key for role, user in users.items()})
    for role, user in users.items():
        seed.ids[role] = {kind: visible(model, user) for kind, model in KINDS.items()}
        seed.lines[role] = line_ids(user)
    return seed


KINDS = {"orders": Order, "projects": Project, "notifications": Notification}


def line_ids(user: object) -> dict[int, itertools.cycle]:
    """Cycle through the line ids of each order `user` sees."""
    by_order: dict[int, list[int]] = {}
    for order_id, line_id in (
        OrderLine.objects.for_user(user).order_by("pk").values_list("order_id", "pk")
    ):
        by_order.setdefault(order_id, []).append(line_id)
    return {order_id: itertools.cycle(ids) for order_id, ids in by_order.items()}


def visible(model: type, user: object) -> itertools.cycle:
    """Cycle through the ids of the `model` rows that `user` sees."""
    return itertools.cycle(model.objects.for_user(user).order_by("pk").values_list("pk", flat=True))


@contextmanager
def keep_connection() -> Iterator[None]:
    """Keep the test's database connection across WSGI requests, as Django's test client does.

    The real WSGI handler closes old connections when a request starts and ends; inside a
    test's transaction that would close the connection holding the seeded rows. (Django's test
    client reconnects the handler after each of its requests, so use this after seeding.)
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def load_schema() -> schemathesis.BaseSchema:
    """Read /api/schema/ as a logged-in staff member and hand it to schemathesis."""
    client = Client()
    client.force_login(make_staff_user())
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = schemathesis.openapi.from_dict(response.json())
    schema.app = get_wsgi_application()
    return schema


def real_id(case: schemathesis.Case, seed: Seed, role: str, counter: Iterator) -> None:
    """Point the case's path id at an object the caller sees, three times out of four, and
    its line id (`orders/{id}/lines/{line_id}/`) at a line of that order."""
    if "id" not in (case.path_parameters or {}) or next(counter) % 4 == 3:
        return
    kind = case.operation.path.split("/")[3]  # /api/v1/<kind>/{id}/
    case.path_parameters["id"] = order_id = next(seed.ids[role][kind])
    if "line_id" in case.path_parameters:
        case.path_parameters["line_id"] = next(seed.lines[role][order_id])


def fuzz(operation: schemathesis.APIOperation, mode: str, seed: Seed, role: str) -> int:
    """Send EXAMPLES generated requests to `operation`; return how many were sent."""
    counter = itertools.count()
    headers = {"Authorization": f"Token {seed.tokens[role]}"}
    sent = itertools.count()

    @settings(
        max_examples=SCHEMA_EXAMPLES if operation.path == "/api/schema/" else EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case) -> None:
        real_id(case, seed, role, counter)
        response = case.call(headers=headers)
        next(sent)
        case.validate_response(response, checks=CHECKS, headers=headers)

    run()
    return next(sent)


def operations(schema: schemathesis.BaseSchema) -> list[schemathesis.APIOperation]:
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize("role", ["manager", "viewer", "staff"])
def test_no_server_error_for_any_generated_request(role):
    seed = seed_data()
    schema = load_schema()
    found = operations(schema)
    labels = {op.label for op in found}
    assert {"POST /api/v1/orders/release/", "PATCH /api/v1/orders/{id}/"} <= labels
    assert {
        "PATCH /api/v1/orders/{id}/lines/{line_id}/",
        "DELETE /api/v1/orders/{id}/lines/{line_id}/",
    } <= labels
    assert "GET /api/v1/notifications/{id}/" in labels

    with keep_connection():
        sent = {(op.label, mode): fuzz(op, mode, seed, role) for op in found for mode in MODES}

    assert all(count >= 1 for count in sent.values()), sent
