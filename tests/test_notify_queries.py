"""The Notify URL's SQL cost is a small constant, whatever the number of projects (§5, §12).

Counted: every statement a POST sends but transaction control (BEGIN, COMMIT, SAVEPOINT and
RELEASE, which a test's own transaction adds). A charged single-product purchase takes 4 on
PostgreSQL: the read (publisher, matches, lines, and the new box's id from the sequence), the
store (its own commit), then the box with its lines and the compare-and-set charge with its
ledger rows in one statement, and the outcome with the box's events in another (data-modifying
CTEs, `services/deferred.py`, issue 21; 7 before). More products add no statement: a 2-product
body costs at most one more than 1 product, and in fact none. SQLite writes each of these on
its own (`_sqlite_charge_extra`).
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from fulfillment.models import Order, Outcome, Project, ProjectCartId
from tests.factories import make_project, make_publisher, post_notify, sample
from tests.invariants import order_body

pytestmark = pytest.mark.django_db

MAX_QUERIES = 4  # a charged purchase on PostgreSQL (7 before the writes rode together)


def _sqlite_charge_extra(status: str | None) -> int:
    """What SQLite adds for a new box. No data-modifying CTEs: the box, its lines and its
    events are INSERTs of their own (PostgreSQL sends the box with the charge, the lines and
    events with the outcome), and its charge is an UPDATE, an INSERT and a read of the balance
    the UPDATE left (PostgreSQL's one statement returns it)."""
    if connection.vendor == "postgresql" or status is None:
        return 0
    return 5 if status in ("in_production", "scheduled") else 3


CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")


def _bulk_projects(publisher, count: int) -> None:
    """Add `count` projects, quickly (setup only); `bulk_create` indexes them too."""
    projects = Project.objects.bulk_create(
        Project(publisher=publisher, title=f"Filler {i}", ecommerce_id_string=f"{{9{i:05d}}}")
        for i in range(count)
    )
    assert ProjectCartId.objects.filter(project__in=projects).count() == count


def _statements(captured: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if not q["sql"].startswith(CONTROL)]


def _queries_for_one_notification(client, publisher) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = post_notify(client, publisher, sample("order_products_array"))
    assert response.json()["outcome"] == Outcome.CREATED
    return len(_statements(captured))


# (balance, body, outcome, order status, statements on PostgreSQL)
KINDS = {
    "charged, 1 product": ("100.00", "order_products_array", Outcome.CREATED, "in_production", 4),
    "charged, 3 products": ("100.00", "order_three_products", Outcome.CREATED, "in_production", 4),
    "hold, 1 product": ("0.00", "order_products_array", Outcome.CREATED, "hold", 4),
    "hold, 3 products": ("0.00", "order_three_products", Outcome.CREATED, "hold", 4),
    # Decided by the read: stored with its outcome, no processing pass (issue 21; 3 before).
    "no_match": ("100.00", "order_products_array", Outcome.NO_MATCH, None, 2),
    # Decided on the first, unlocked read: no new line, no lock (new lines would take the
    # locks and read again, as they may join a box, §18).
    "duplicate": ("100.00", "order_products_array", Outcome.DUPLICATE, None, 4),
}


@pytest.mark.parametrize("kind", KINDS)
def test_statements_per_notification(client, kind):
    balance, body, outcome, status, expected = KINDS[kind]
    publisher = make_publisher(balance=balance)
    mapped = ("111111",) if outcome == Outcome.NO_MATCH else ("279813", "294010", "298020")
    for product in mapped:
        make_project(publisher, product)
    if outcome == Outcome.DUPLICATE:
        post_notify(client, publisher, sample(body))
    with CaptureQueriesContext(connection) as captured:
        response = post_notify(client, publisher, sample(body))

    assert response.json()["outcome"] == outcome
    if status is not None:
        assert {o.status for o in Order.objects.filter(publisher=publisher)} == {status}
    assert len(_statements(captured)) == expected + _sqlite_charge_extra(status), _statements(
        captured
    )


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
    assert few <= MAX_QUERIES + _sqlite_charge_extra("in_production")
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

    assert len(_statements(captured)) == first


@pytest.mark.parametrize("balance", ["100.00", "0.00"])
@pytest.mark.parametrize("products", [2, 3])
def test_more_products_cost_at_most_one_statement_more(client, balance, products):
    """A 2- or 3-product body (one box of that many lines, SPEC §18) sends at most one
    statement more than a 1-product body of the same kind: the lines go in with one INSERT,
    whatever their number (a statement per line would cost 2 more for 3 products)."""
    ids = ("279813", "294010", "298020")
    one_publisher = make_publisher(balance=balance)
    many_publisher = make_publisher(balance=balance)
    for publisher in (one_publisher, many_publisher):
        for product in ids:
            make_project(publisher, product)
    one_body = order_body(order_id="Q1")
    extra = tuple((int(product), 1) for product in ids[1:products])
    many_body = order_body(order_id="Q2", extra_products=extra)
    with CaptureQueriesContext(connection) as one:
        assert post_notify(client, one_publisher, one_body).json()["outcome"] == Outcome.CREATED
    with CaptureQueriesContext(connection) as many:
        assert post_notify(client, many_publisher, many_body).json()["outcome"] == Outcome.CREATED

    box = Order.objects.get(publisher=many_publisher)
    assert box.lines.count() == products
    assert len(_statements(many)) <= len(_statements(one)) + 1, _statements(many)


# A charged box that waits (grouping, §18) costs no more than one that goes to production at
# once: the sweep ends its window, no task row is written with it (issue 21).
SCHEDULED_EXTRA = 0
# An order bump on PostgreSQL: the read, the store, the lines read unlocked (a resend with no
# new line ends there), the publisher lock, the read and the lines again under it, the boxes
# locked and their lines, the new line, the charge of the difference (ledger row, balance),
# the box's cost, and the outcome with the box's event. The box's lines are not read again
# after the new one (issue 21: they join the lines locked with the box). SQLite writes the
# event on its own: one more.
BUMP_STATEMENTS = 13


def test_statements_of_a_charged_box_that_waits_and_of_an_order_bump(client):
    """The scheduled charged box costs what one that goes to production at once costs (no
    task of its own), and the second POST of the same SamCart order that joins it (an order
    bump) costs BUMP_STATEMENTS; both stay asserted so a change that adds one is seen."""
    publisher = make_publisher(balance="100.00", grouping_minutes=10)
    for product in ("279813", "294010"):
        make_project(publisher, product)
    with CaptureQueriesContext(connection) as first:
        response = post_notify(client, publisher, order_body(order_id="BUMP1"))
    assert response.json()["outcome"] == Outcome.CREATED
    box = Order.objects.get(publisher=publisher)
    assert box.status == "scheduled"
    charged = KINDS["charged, 1 product"][4] + _sqlite_charge_extra("in_production")
    assert len(_statements(first)) == charged + SCHEDULED_EXTRA, _statements(first)

    bump = order_body(order_id="BUMP1", product_id=294010)
    with CaptureQueriesContext(connection) as second:
        response = post_notify(client, publisher, bump)

    assert response.json()["outcome"] == Outcome.CREATED
    assert Order.objects.filter(publisher=publisher).count() == 1  # it joined the box
    assert box.lines.count() == 2
    sqlite_event = 0 if connection.vendor == "postgresql" else 1
    assert len(_statements(second)) == BUMP_STATEMENTS + sqlite_event, _statements(second)
