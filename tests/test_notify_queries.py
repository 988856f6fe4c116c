"""The Notify URL's SQL cost is a small constant, whatever the number of projects (§5, §12)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from fulfillment.models import Order, Outcome, Project, ProjectCartId
from tests.factories import make_project, make_publisher, post_notify, sample

pytestmark = pytest.mark.django_db

# Measured: SELECT publisher, INSERT notification, then in one transaction SELECT … FOR UPDATE
# publisher, SELECT index, SELECT existing lines, INSERT orders, INSERT ledger, UPDATE balance,
# INSERT events, UPDATE notification: 10 statements. Inside the test's own transaction the
# processing transaction becomes a savepoint, which adds SAVEPOINT and RELEASE: 12.
MAX_QUERIES = 12


def _bulk_projects(publisher, count: int) -> None:
    """Add `count` projects, quickly (setup only); `bulk_create` indexes them too."""
    projects = Project.objects.bulk_create(
        Project(publisher=publisher, title=f"Filler {i}", ecommerce_id_string=f"{{9{i:05d}}}")
        for i in range(count)
    )
    assert ProjectCartId.objects.filter(project__in=projects).count() == count


def _queries_for_one_notification(client, publisher) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = post_notify(client, publisher, sample("order_products_array"))
    assert response.json()["outcome"] == Outcome.CREATED
    return len(captured.captured_queries)


def test_query_count_is_the_same_with_1_and_2000_projects(client):
    small = make_publisher(balance="100.00")
    make_project(small, "279813")
    few = _queries_for_one_notification(client, small)

    large = make_publisher(balance="100.00")
    make_project(large, "279813")
    _bulk_projects(large, 2000)
    for _ in range(3):  # other publishers with projects of the same id
        make_project(make_publisher(), "279813")
    many = _queries_for_one_notification(client, large)

    assert few == many
    assert few <= MAX_QUERIES
    assert Order.objects.filter(publisher=large).count() == 1


def test_query_count_does_not_grow_with_existing_orders(client):
    publisher = make_publisher(balance="1000.00")
    make_project(publisher, "279813")
    first = _queries_for_one_notification(client, publisher)
    body = sample("order_products_array").replace(b"35211874", b"35299999")
    for n in range(30):
        post_notify(client, publisher, body.replace(b"35299999", str(35300000 + n).encode()))
    body = sample("order_products_array").replace(b"35211874", b"35400000")
    with CaptureQueriesContext(connection) as captured:
        post_notify(client, publisher, body)

    assert len(captured.captured_queries) == first
