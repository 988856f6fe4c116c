"""Issue 20, point 20: CSV exports of the order list, the ledger and the notification list.

Each export holds exactly the rows its list shows (publisher scope, filters, search), from the
admin's *Export CSV* link and from the API; a viewer may export; another publisher's rows never
appear; text a spreadsheet would run is escaped; 100,000 rows stream in bounded memory and a
constant number of queries (PostgreSQL).
"""

from __future__ import annotations

import csv
import io
import tracemalloc
from datetime import datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from fulfillment.exports import safe_text
from fulfillment.models import (
    HoldReason,
    LedgerEntry,
    LedgerKind,
    Order,
    OrderStatus,
)
from fulfillment.services.ledger import ledger_record
from tests.admin_world import (
    PASSWORD,
    World,
    assert_no_secrets,
    box_body,
    build_world,
    notify,
    order_body,
)
from tests.factories import make_publisher, make_publisher_user

pytestmark = pytest.mark.django_db

ORDERS = reverse("admin:fulfillment_order_changelist")
LEDGER = reverse("admin:fulfillment_ledgerentry_changelist")
NOTIFICATIONS = reverse("admin:fulfillment_notification_changelist")
HOSTILE = '=HYPERLINK("http://evil.example","Click")'


def logged_in(user: object) -> Client:
    """Return a client logged in as `user`."""
    client = Client()
    client.force_login(user)
    return client


def read_csv(response: object) -> list[dict[str, str]]:
    """Return the streamed CSV answer as rows of heading -> cell."""
    assert response.status_code == 200, response
    assert response["Content-Type"].startswith("text/csv")
    assert response.streaming
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def list_ids(client: Client, url: str, query: str = "") -> list[int]:
    """Return the ids of every row the admin list shows with `query` (all pages, in order)."""
    page = client.get(f"{url}?{query}")
    assert page.status_code == 200
    return list(page.context["cl"].queryset.values_list("pk", flat=True))


def export(client: Client, url: str, query: str = "") -> list[dict[str, str]]:
    """Follow the list's *Export CSV* link (as the page draws it) and read the CSV."""
    page = client.get(f"{url}?{query}")
    link = page.context["export_url"]
    assert f'href="{link.replace("&", "&amp;")}"' in page.content.decode()
    return read_csv(client.get(link))


def order_ids(rows: list[dict[str, str]]) -> list[int]:
    """Return the order ids of per-line rows, each once, in order."""
    return list(dict.fromkeys(int(row["order"]) for row in rows))


@pytest.fixture
def world() -> World:
    """Publishers A and B (admin_world), A with a second, hostile-named order."""
    built = build_world()
    notify(built.a, order_body(order_id="11110009", first="=cmd|' /C calc'!A0", last="Smith"))
    return built


def test_admin_order_export_is_the_list_under_filters_and_search(world):
    client = logged_in(world.a_user)
    for query in ("", "status__exact=hold", "q=11110001", "q=nobody-matches", "o=-3"):
        rows = export(client, ORDERS, query)
        assert order_ids(rows) == list_ids(client, ORDERS, query), query
    assert order_ids(export(client, ORDERS, "q=11110001")) == [world.a_hold.pk]


def test_order_export_has_one_row_per_line_with_box_columns(world):
    rows = export(logged_in(world.a_user), ORDERS, "q=11110001")
    (row,) = rows
    line = world.a_hold.lines.get()
    assert row["line"] == str(line.pk)
    assert row["project"] == "Alpha Almanac"
    assert row["SamCart product ID"] == line.external_product_id
    assert row["quantity"] == str(line.quantity)
    assert row["status"] == "hold"
    assert row["box cost"] == str(world.a_hold.cost)
    created = datetime.fromisoformat(row["created"])
    assert created.utcoffset() is not None  # ISO-8601 with offset
    assert created == world.a_hold.created_at.replace(microsecond=0)


def test_a_search_on_one_line_exports_every_line_of_the_box(world):
    body = box_body(order_id="11110020", products=[("279813", 2), ("294010", 1)])
    box = notify(world.a, body).orders.get()
    client = logged_in(world.a_user)
    for query in ("q=294010", f"lines__project__id__exact={world.a_project.pk}&q=11110020"):
        rows = export(client, ORDERS, query)
        assert order_ids(rows) == [box.pk], query
        assert sorted(r["SamCart product ID"] for r in rows) == ["279813", "294010"], query
    api = api_for(world.a_user)
    rows = read_csv(api.get("/api/v1/orders/export.csv?external_product_id=294010"))
    assert sorted(r["SamCart product ID"] for r in rows) == ["279813", "294010"]


def test_times_are_in_the_reader_s_zone_with_offset(world):
    world.a.time_zone = "America/New_York"
    world.a.save(update_fields=["time_zone"])
    (row,) = export(logged_in(world.a_user), ORDERS, "q=11110001")
    assert row["created"].endswith(("-05:00", "-04:00"))


def test_another_publisher_s_rows_never_appear(world):
    client = logged_in(world.a_user)
    for url in (ORDERS, LEDGER, NOTIFICATIONS):
        response = client.get(client.get(url).context["export_url"])
        body = b"".join(response.streaming_content).decode()
        leaked = [s for s in world.b_secrets if s in body]
        assert not leaked, (url, leaked)
    # A filter on B's publisher id is refused to a publisher's login, never answered with B.
    response = client.get(f"{ORDERS}export.csv?publisher__id__exact={world.b.pk}")
    assert response.status_code == 400 or not order_ids(read_csv(response))


def test_a_viewer_may_export_and_a_login_without_view_permission_may_not(world):
    viewer = make_publisher_user(world.a, "alpha-viewer", PASSWORD, role="viewer")
    client = logged_in(viewer)
    assert order_ids(export(client, ORDERS)) == list_ids(client, ORDERS)
    assert export(client, LEDGER)
    no_rights = User.objects.create_user("no-rights", password=PASSWORD, is_staff=True)
    world.a.users.add(no_rights)
    for url in (ORDERS, LEDGER, NOTIFICATIONS):
        assert logged_in(no_rights).get(f"{url}export.csv").status_code == 403
    assert Client().get(f"{ORDERS}export.csv").status_code == 302  # to the login page


def test_staff_export_follows_the_publisher_filter(world):
    client = logged_in(world.staff)
    query = f"publisher__id__exact={world.b.pk}"
    rows = export(client, ORDERS, query)
    assert order_ids(rows) == list_ids(client, ORDERS, query)
    assert {row["publisher"] for row in rows} == {world.b.name}
    assert len(order_ids(export(client, ORDERS))) == Order.objects.count()


def test_formula_cells_are_escaped(world):
    (row,) = export(logged_in(world.a_user), ORDERS, "q=11110009")
    assert row["customer name"].startswith("'=cmd|")
    for text in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert safe_text(text) == "'" + text
    assert safe_text("Smith") == "Smith"


def test_ledger_export_is_the_list_with_the_balance_after_each_entry(world):
    ledger_record(publisher_id=world.a.pk, amount=Decimal("5.00"), kind=LedgerKind.DEPOSIT)
    ledger_record(
        publisher_id=world.a.pk, amount=Decimal("-2.50"), kind=LedgerKind.ADJUSTMENT, note="-x"
    )
    staff = logged_in(world.staff)
    for client, query in (
        *((logged_in(world.a_user), q) for q in ("", "kind__exact=deposit", "q=-x")),
        (staff, ""),  # both publishers: each entry's balance is its own publisher's
        (staff, "kind__exact=deposit"),
    ):
        rows = export(client, LEDGER, query)
        page = client.get(f"{LEDGER}?{query}").context["cl"]
        shown = {e.pk: e.balance_after for e in page.queryset}
        assert [int(r["entry"]) for r in rows] == list(shown), query
        assert {int(r["entry"]): Decimal(r["balance after"]) for r in rows} == shown
    rows = export(logged_in(world.a_user), LEDGER)
    assert rows[0]["balance after"] == "3.50"
    assert rows[0]["note"] == "'-x"
    assert rows[0]["amount"] == "-2.50"  # a number, not text: never escaped


def test_notification_export_is_the_list_under_filters(world):
    client = logged_in(world.a_user)
    for query in ("", "outcome=no_match", "q=11110002"):
        rows = export(client, NOTIFICATIONS, query)
        assert [int(r["notification"]) for r in rows] == list_ids(client, NOTIFICATIONS, query)
    rows = export(client, NOTIFICATIONS, "q=11110002")
    assert [r["outcome"] for r in rows] == ["no_match"]


def test_bad_filters_answer_400(world):
    client = logged_in(world.a_user)
    assert client.get(f"{ORDERS}export.csv?nonsense=1").status_code == 400
    assert client.get(f"{LEDGER}export.csv?created_at__gte=not-a-date").status_code == 400


def api_for(user: object) -> APIClient:
    """Return an API client with a token of `user`."""
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return api


def api_list_ids(api: APIClient, url: str, query: str) -> list[int]:
    """Return the ids of every page of an API list."""
    ids: list[int] = []
    page = f"{url}?{query}"
    while page:
        body = api.get(page).json()
        ids += [row["id"] for row in body["results"]]
        page = body["next"]
    return ids


def test_api_order_export_is_the_api_list_under_filters(world):
    viewer = make_publisher_user(world.a, "alpha-viewer", PASSWORD, role="viewer")
    api = api_for(viewer)
    for query in ("", "status=hold", "q=11110001", f"project={world.a_project.pk}"):
        rows = read_csv(api.get(f"/api/v1/orders/export.csv?{query}"))
        assert order_ids(rows) == api_list_ids(api, "/api/v1/orders/", query), query
    body = b"".join(api.get("/api/v1/orders/export.csv").streaming_content).decode()
    assert not [s for s in world.b_secrets if s in body]
    assert api.get("/api/v1/orders/export.csv?status=bogus").status_code == 400


def test_api_notification_and_ledger_exports(world):
    api = api_for(world.a_user)
    rows = read_csv(api.get("/api/v1/notifications/export.csv?outcome=no_match"))
    assert [int(r["notification"]) for r in rows] == api_list_ids(
        api, "/api/v1/notifications/", "outcome=no_match"
    )
    rows = read_csv(api.get("/api/v1/ledger/export.csv?kind=deposit"))
    expected = LedgerEntry.objects.filter(publisher=world.a, kind="deposit")
    assert [int(r["entry"]) for r in rows] == list(expected.values_list("pk", flat=True))
    staff_rows = read_csv(api_for(world.staff).get("/api/v1/ledger/export.csv"))
    assert len(staff_rows) == LedgerEntry.objects.count()
    assert api.get("/api/v1/ledger/export.csv?kind=nope").status_code == 400
    response = api.get("/api/v1/ledger/export.csv", HTTP_ACCEPT="text/csv")
    assert response.status_code == 200
    assert_no_secrets_streamed(response, world)


def assert_no_secrets_streamed(response: object, world: World) -> None:
    """Assert that no string of publisher B appears in a streamed answer."""
    body = b"".join(response.streaming_content).decode()
    assert not [s for s in world.b_secrets if s in body]


def test_api_export_needs_view_permission(world):
    no_rights = User.objects.create_user("no-rights", password=PASSWORD, is_staff=True)
    world.a.users.add(no_rights)
    for url in ("orders", "notifications", "ledger"):
        assert api_for(no_rights).get(f"/api/v1/{url}/export.csv").status_code == 403
        assert APIClient().get(f"/api/v1/{url}/export.csv").status_code in (401, 403)


def test_list_page_shows_the_export_link_with_its_filters(world):
    page = logged_in(world.a_user).get(f"{ORDERS}?status__exact=hold&p=1")
    assert page.context["export_url"] == f"{ORDERS}export.csv?status__exact=hold"
    assert_no_secrets(page, world.b_secrets)


ROWS = 100_000


def copy_rows(template: object, count: int, varied: str) -> None:
    """Insert `count` copies of the row `template` in one statement (PostgreSQL's
    generate_series), `varied` set to "<its value>-<n>" so unique constraints hold."""
    model = type(template)
    table = connection.ops.quote_name(model._meta.db_table)
    columns = [f.column for f in model._meta.concrete_fields if not f.primary_key]
    names = ", ".join(connection.ops.quote_name(c) for c in columns)
    values = ", ".join(
        f"{connection.ops.quote_name(c)} || '-' || n"
        if c == varied
        else connection.ops.quote_name(c)
        for c in columns
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({names}) SELECT {values} FROM {table}, "
            "generate_series(1, %s) AS n WHERE id = %s",
            [count, template.pk],
        )


def export_measured(client: Client, url: str) -> tuple[int, int, int]:
    """Export `url` and return (lines, peak bytes of the request and the streaming, queries)."""
    with CaptureQueriesContext(connection) as queries:
        tracemalloc.start()  # from the request on: a view that reads every row first fails too
        response = client.get(f"{url}export.csv")
        lines = 0
        for chunk in response.streaming_content:
            lines += chunk.count(b"\n")
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return lines, peak, len(queries)


@pytest.mark.postgres
@pytest.mark.parametrize("url", [LEDGER, ORDERS], ids=["ledger", "orders"])
def test_100k_rows_stream_in_bounded_memory_and_queries(url):
    """100,000 ledger entries or orders: the export streams with a peak of a few MB while
    iterating, and the same queries as an export of one row."""
    publisher = make_publisher(name="Big Press")
    user = make_publisher_user(publisher, "big-user", PASSWORD, role="viewer")
    if url == LEDGER:
        amount = Decimal("1.00")
        row = ledger_record(publisher_id=publisher.pk, amount=amount, kind=LedgerKind.DEPOSIT)
        varied = "note"
    else:
        row = Order.objects.create(
            publisher=publisher,
            external_order_id="big",
            ship_name="=Buyer",
            status=OrderStatus.HOLD,
            hold_reason=HoldReason.PAYMENT_REQUIRED,
            cost=Decimal("7.00"),
        )
        varied = "external_order_id"
    client = logged_in(user)
    _, _, one_row_queries = export_measured(client, url)
    copy_rows(row, ROWS - 1, varied)
    lines, peak, queries = export_measured(client, url)
    assert lines == ROWS + 1
    assert peak < 4_000_000, f"peak {peak:,} bytes"
    assert queries == one_row_queries
