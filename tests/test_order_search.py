"""Issue 21: the order list's search and counts at a million orders.

The search (`fulfillment.admin.order_search`) must find exactly the boxes Django's own admin
search found with the old search fields, for every kind of query; the trigram indexes exist on
PostgreSQL; an unfiltered list of every order says "about N", a filtered one counts exactly.
Test client and real database only.
"""

from __future__ import annotations

import re

import pytest
from django.contrib import admin
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from fulfillment.admin import order_search
from fulfillment.models import Order, OrderLine
from tests.admin_world import World, box_body, notify, order_body
from tests.factories import make_project

pytestmark = pytest.mark.django_db
LIST = reverse("admin:fulfillment_order_changelist")
# Django's search fields of the order list before issue 21: the reference.
OLD_SEARCH_FIELDS = (
    "ship_name",
    "customer_email",
    "external_order_id",
    "=lines__external_product_id",
)
QUERIES = (
    "Okafor",  # name, any case below
    "okafor",
    "Ngozi",
    '"Ngozi Adeyemi"',  # a quoted phrase is one word
    "ngozi@example.org",  # e-mail
    "NGOZI@Example.ORG",  # e-mail, other case: asked of the index as "NGOZI@" (PostgreSQL)
    "gozi@example.org",  # the end of an address
    "i@example.org",  # a one-letter local part: the whole word is asked of the index
    "@example.org",
    "ngozi@",
    "ngozi@example.org.uk",  # longer than the address: nothing
    "zi@ex@ample",  # two @
    "example.org",
    "21210001",  # SamCart order id, whole
    "2121000",  # part of an order id
    "0002",
    "333001",  # product id of a box's second line
    "279813",  # product id of most boxes
    "abc-9",  # a product id with letters, other case
    "ABC-9",
    "abc",  # part of a product id: product ids match whole only
    "Okafor 333001",  # two words: both must match
    "nobody-at-all",
    "%",
    "_",
)


@pytest.fixture
def boxes(world: World) -> list[Order]:
    """Boxes of A with various names, e-mails, order ids and lines; B's boxes stay hidden."""
    make_project(world.a, "{333001}{333002}", title="Twin Atlas")
    made = [
        notify(world.a, box_body(order_id="21210001", products=[("279813", 1), ("333001", 1)])),
        notify(
            world.a,
            order_body(
                order_id="21210002", first="Ngozi", last="Adeyemi", email="ngozi@example.org"
            ),
        ),
        notify(world.a, order_body(order_id="21210003", product_id="333002", last="Okafor-Bell")),
        notify(world.b, order_body(order_id="21210004", first="Ngozi", email="ngozi@example.org")),
    ]
    orders = [n.orders.get() for n in made]
    OrderLine.objects.filter(order=orders[2]).update(external_product_id="AbC-9")
    return orders


def listed(client: Client, query: str) -> set[int]:
    """Return the ids of every box the order list shows for the search `query`."""
    response = client.get(LIST, {"q": query, "all": ""})
    assert response.status_code == 200
    return {order.pk for order in response.context["cl"].result_list}


def reference(user: object, query: str) -> set[int]:
    """Return the boxes Django's own admin search found with the old search fields."""
    old = admin.ModelAdmin(Order, admin.site)
    old.search_fields = OLD_SEARCH_FIELDS
    found, duplicates = old.get_search_results(None, Order.objects.for_user(user), query)
    assert duplicates  # the line join could repeat a box
    return set(found.distinct().values_list("pk", flat=True))


@pytest.mark.parametrize("who", ["a_user", "staff"])
def test_search_finds_what_django_found(world: World, boxes: list[Order], who: str) -> None:
    user = getattr(world, who)
    client = Client()
    client.force_login(user)
    for query in QUERIES:
        assert listed(client, query) == reference(user, query), query


def test_each_kind_of_query_finds_its_box(world: World, boxes: list[Order]) -> None:
    """Not a vacuous comparison: each kind finds the box it should, and no other publisher's."""
    first, ngozi, bell, b_box = boxes
    client = Client()
    client.force_login(world.a_user)
    assert listed(client, "Adeyemi") == {ngozi.pk}  # name
    assert listed(client, "NGOZI@example.ORG") == {ngozi.pk}  # e-mail, any case
    assert listed(client, "21210001") == {first.pk}  # SamCart order id
    assert listed(client, "1210003") == {bell.pk}  # part of an order id
    assert listed(client, "333001") == {first.pk}  # any line's product id
    assert listed(client, "aBc-9") == {bell.pk}  # product id, any case
    assert listed(client, "Okafor 333001") == {first.pk}
    assert b_box.pk not in listed(client, "ngozi")


def test_search_queries_stay_constant(world: World, boxes: list[Order]) -> None:
    """A search page costs the same queries with one matching box or many."""
    client = Client()
    client.force_login(world.a_user)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(LIST, {"q": "Okafor"}).status_code == 200
        return len(captured)

    before = queries()
    for n in range(5):
        notify(world.a, box_body(order_id=f"2121100{n}", products=[("279813", 1), ("333001", 1)]))
    assert queries() == before


def test_search_makes_no_distinct(world: World, boxes: list[Order]) -> None:
    """Each word is one `id IN (…)`: no join of the lines and no DISTINCT of the page."""
    client = Client()
    client.force_login(world.a_user)
    with CaptureQueriesContext(connection) as captured:
        client.get(LIST, {"q": "333001"})
    page = [q["sql"] for q in captured if 'FROM "fulfillment_order"' in q["sql"]]
    assert page and not any("DISTINCT" in sql for sql in page)


def count_line(client: Client, query: dict[str, str]) -> str:
    """Return what the list's count says ("about 5 orders", "3 orders")."""
    html = client.get(LIST, query).content.decode()
    return " ".join(re.search(r'id="result-count">([^<]*)<', html).group(1).split())


def test_counts_say_about_only_for_every_order(
    world: World, boxes: list[Order], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Staff's unfiltered list of every order says "about N" (PostgreSQL's estimate); a filtered
    list, a search and a publisher's own list count exactly. Elsewhere always exactly."""
    monkeypatch.setattr(order_search, "ESTIMATE_FROM_ROWS", 0)
    staff = Client()
    staff.force_login(world.staff)
    publisher = Client()
    publisher.force_login(world.a_user)
    total = Order.objects.count()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE fulfillment_order")
        assert re.fullmatch(r"about \d+ orders?", count_line(staff, {}))
        html = staff.get(LIST).content.decode()
        assert not re.search(r"\d+ results?", html)  # no unqualified count by the search box
    else:
        assert count_line(staff, {}) == f"{total} orders"
    held = Order.objects.filter(status="hold").count()
    assert count_line(staff, {"status__exact": "hold"}) == f"{held} orders"
    mine = Order.objects.filter(publisher=world.a).count()
    assert count_line(publisher, {}) == f"{mine} orders"
    assert count_line(staff, {"q": "Adeyemi"}) == "1 order"


def test_small_tables_count_exactly(world: World, boxes: list[Order]) -> None:
    """Under ESTIMATE_FROM_ROWS rows even the list of every order is counted."""
    staff = Client()
    staff.force_login(world.staff)
    assert count_line(staff, {}) == f"{Order.objects.count()} orders"


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_trigram_indexes_exist_and_serve_the_search(world: World) -> None:
    """Migration 0017 made the three trigram indexes and the lines' any-case product id
    index, and PostgreSQL can answer the search's
    `UPPER(…) LIKE` with them (sequential and plain index scans off: the test table is tiny)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'fulfillment_order'"
            " AND indexdef LIKE '%%gin_trgm_ops%%'"
        )
        found = dict(cursor.fetchall())
        assert set(found) == {"order_name_trgm", "order_email_trgm", "order_cart_id_trgm"}
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'line_product_upper'"
            " AND tablename = 'fulfillment_orderline'"
        )
        assert "upper" in cursor.fetchone()[0]
        search = order_search.search_orders(Order.objects.all(), "okafor", OrderLine.objects.all())
        # The count's form (unordered); with plain scans off, only bitmap scans are left.
        sql, params = search.order_by().values("pk").query.sql_with_params()
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    for name in found:
        assert name in plan, plan


def test_an_address_is_asked_of_the_index_by_its_local_part() -> None:
    """A word with a local part of 2+ characters before its @ narrows the indexed condition to
    "local@" (the domain's trigrams are in most rows) and checks the whole word apart; the
    rows are the same (`test_search_finds_what_django_found` compares them)."""
    narrowed = order_search.email_contains("Ngozi@example.org")
    assert ("customer_email__icontains", "Ngozi@") in narrowed.children
    assert ("customer_email__icontains", "Ngozi@example.org") not in narrowed.children
    for word in ("i@example.org", "@example.org", "ngozi@", "no-at-all"):
        assert order_search.email_contains(word).children == [("customer_email__icontains", word)]
