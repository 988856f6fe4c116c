"""The REST API of SPEC §10 through real HTTP (DRF's test client), scoped per publisher."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from fulfillment import ecommerce_ids
from fulfillment.api.pagination import Pages
from fulfillment.models import Order, OrderLine, OrderStatus, Outcome, ProjectCartId
from tests.factories import (
    make_project,
    make_publisher,
    make_publisher_user,
    make_staff_user,
    post_notify,
    sample,
)

pytestmark = pytest.mark.django_db

LINE_FIELDS = (
    "id",
    "project",
    "project_title",
    "external_product_id",
    "quantity",
    "unit_cost",
    "shipping_cost",
    "line_cost",
    "removed",
    "removed_at",
    "cart_refunded",
)


def line_url(line: OrderLine) -> str:
    """Return the API URL of a line of a box."""
    return f"/api/v1/orders/{line.order_id}/lines/{line.pk}/"


@pytest.fixture
def world(client):
    """Publisher A (unfunded, one hold order) and B (funded, one order in production)."""
    a = make_publisher(name="Alpha Books")
    b = make_publisher(name="Beta Press", balance="100.00")
    make_project(a, "279813", title="Alpha Almanac")
    make_project(b, "279813", title="Beta Almanac")
    post_notify(client, a, sample("order_products_array"))
    post_notify(client, b, sample("order_products_array"))
    user_a = make_publisher_user(a)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user_a).key}")
    return {"a": a, "b": b, "api": api, "order_a": Order.objects.get(publisher=a)}


def test_anonymous_requests_are_refused():
    assert APIClient().get("/api/v1/orders/").status_code in (401, 403)


def test_orders_are_scoped_to_the_token_s_publisher(world):
    api, order_b = world["api"], Order.objects.get(publisher=world["b"])

    listed = api.get("/api/v1/orders/").json()["results"]

    assert [o["id"] for o in listed] == [world["order_a"].pk]
    assert listed[0]["lines"][0]["project_title"] == "Alpha Almanac"
    assert api.get(f"/api/v1/orders/{order_b.pk}/").status_code == 404
    assert api.patch(f"/api/v1/orders/{order_b.pk}/", {"ship_name": "X"}).status_code == 404
    assert api.delete(f"/api/v1/orders/{order_b.pk}/").status_code == 404
    order_b.refresh_from_db()
    assert (order_b.ship_name, order_b.status) == ("Rosalind Okafor", OrderStatus.IN_PRODUCTION)


def test_order_filters(world):
    api = world["api"]

    assert api.get("/api/v1/orders/?status=hold").json()["count"] == 1
    assert api.get("/api/v1/orders/?status=in_production").json()["count"] == 0
    assert api.get("/api/v1/orders/?hold_reason=payment_required").json()["count"] == 1
    assert api.get("/api/v1/orders/?q=okafor").json()["count"] == 1
    assert api.get("/api/v1/orders/?q=nobody").json()["count"] == 0


def test_update_hold_order_records_an_event_and_answers_its_lines(world):
    api, order = world["api"], world["order_a"]

    response = api.patch(f"/api/v1/orders/{order.pk}/", {"ship_name": "Ada Lovelace"})

    assert response.status_code == 200
    assert response.json()["ship_name"] == "Ada Lovelace"
    assert response.json()["events"][-1]["kind"] == "edited"
    assert [line["quantity"] for line in response.json()["lines"]] == [1]


def test_orders_out_of_hold_cannot_be_changed(world):
    staff = make_staff_user()
    api = APIClient()
    api.force_authenticate(staff)
    order_b = Order.objects.get(publisher=world["b"])
    line_b = order_b.lines.get()

    response = api.patch(line_url(line_b), {"quantity": 5}, format="json")
    removal = api.delete(line_url(line_b))

    assert response.status_code == 400
    assert "only orders on hold" in response.json()["detail"]
    assert removal.status_code == 400
    assert "only orders on hold" in removal.json()["detail"]
    line_b.refresh_from_db()
    assert (line_b.quantity, line_b.removed_at) == (1, None)


def test_delete_sets_status_deleted(world):
    api, order = world["api"], world["order_a"]

    assert api.delete(f"/api/v1/orders/{order.pk}/").status_code == 204

    order.refresh_from_db()
    assert order.status == OrderStatus.DELETED


def test_release_reports_the_shortfall_then_charges_after_a_deposit(world):
    from fulfillment.services.deposits import deposit_record

    api, order = world["api"], world["order_a"]
    short = api.post("/api/v1/orders/release/", {"ids": [order.pk]}, format="json").json()
    assert short["released"] == []
    assert "needs $7.00 more" in short["message"]

    deposit_record(publisher=world["a"], amount=Decimal("10.00"), actor=None)
    done = api.post("/api/v1/orders/release/", {"ids": [order.pk]}, format="json").json()

    assert done["released"] == [order.pk]
    order.refresh_from_db()
    assert order.status == OrderStatus.IN_PRODUCTION


def test_project_ids_are_validated_and_indexed(world):
    api = world["api"]
    project = world["a"].projects.get()

    bad = api.patch(f"/api/v1/projects/{project.pk}/", {"ecommerce_id_string": "{1"}, format="json")
    good = api.patch(
        f"/api/v1/projects/{project.pk}/",
        {"ecommerce_id_string": " {294010} {298020} ", "unit_cost": "0.01"},
        format="json",
    )

    assert bad.status_code == 400
    assert bad.json()["ecommerce_id_string"] == [ecommerce_ids.ERROR_INVALID]
    assert good.status_code == 200
    assert good.json()["ecommerce_id_string"] == "{294010}{298020}"
    assert good.json()["unit_cost"] == "5.00"
    assert set(
        ProjectCartId.objects.filter(project=project).values_list("external_id", flat=True)
    ) == {
        "294010",
        "298020",
    }
    other = world["b"].projects.get()
    assert (
        api.patch(f"/api/v1/projects/{other.pk}/", {"ecommerce_id_string": "1"}).status_code == 404
    )


def test_notifications_are_listed_and_retrieved_for_the_publisher_only(world):
    api = world["api"]

    listed = api.get("/api/v1/notifications/").json()["results"]
    assert len(listed) == 1
    assert listed[0]["outcome"] == Outcome.CREATED
    assert '"type":"Order"' in listed[0]["body"]
    assert api.get("/api/v1/notifications/?outcome=no_match").json()["count"] == 0
    assert api.get(f"/api/v1/notifications/{listed[0]['id']}/").status_code == 200
    b_notification = world["b"].notifications.get()
    assert api.get(f"/api/v1/notifications/{b_notification.pk}/").status_code == 404


def test_staff_see_every_publisher(world):
    api = APIClient()
    api.force_authenticate(make_staff_user())

    assert api.get("/api/v1/orders/").json()["count"] == 2
    assert api.get("/api/v1/notifications/").json()["count"] == 2


def test_openapi_schema_and_docs(world):
    api = world["api"]

    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    assert "/api/v1/orders/release/" in schema.json()["paths"]
    browser = APIClient()
    browser.force_login(make_staff_user())  # the docs page needs a logged-in session
    assert browser.get("/api/docs/").status_code == 200
    assert APIClient().get("/api/schema/").status_code in (401, 403)


def test_the_schema_documents_the_filters_with_their_allowed_values(world):
    api = APIClient()
    api.force_authenticate(make_staff_user())

    schema = api.get("/api/schema/", {"format": "json"}).json()

    orders = {p["name"]: p for p in schema["paths"]["/api/v1/orders/"]["get"]["parameters"]}
    assert {"status", "hold_reason", "project", "external_order_id", "q", "is_test"} <= set(orders)
    assert "payment_required" in orders["hold_reason"]["schema"]["enum"]
    assert orders["project"]["schema"]["type"] == "integer"
    assert "removed lines included" in orders["external_product_id"]["description"]
    notes = schema["paths"]["/api/v1/notifications/"]["get"]["parameters"]
    outcome = next(p for p in notes if p["name"] == "outcome")
    assert "no_match" in outcome["schema"]["enum"]
    update = schema["components"]["schemas"]["OrderLineUpdate"]
    quantity = update["properties"]["quantity"]
    assert (quantity["minimum"], quantity["maximum"]) == (1, 10_000)
    assert update["required"] == ["quantity"]


def test_the_schema_describes_boxes_and_their_line_endpoint(world):
    api = APIClient()
    api.force_authenticate(make_staff_user())

    schema = api.get("/api/schema/", {"format": "json"}).json()

    components = schema["components"]["schemas"]
    order = components["Order"]["properties"]
    assert {"box_number", "split_reason", "items", "lines"} <= set(order)
    assert not {"project", "project_title", "external_product_id", "quantity"} & set(order)
    assert order["lines"]["items"]["$ref"] == "#/components/schemas/OrderLine"
    assert set(components["OrderLine"]["properties"]) == set(LINE_FIELDS)
    path = schema["paths"]["/api/v1/orders/{id}/lines/{line_id}/"]
    assert set(path) == {"patch", "delete"}
    for operation in path.values():
        assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Order"
        }
    body = path["patch"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/OrderLineUpdate"}


# Boxes (SPEC §18, issue 19): an order is a box of lines; the API shows and edits the lines.


@pytest.fixture
def box_world():
    """Publisher A with an almanac (279813) and a two-title bundle project (294010, 298020):
    the three-product SamCart order makes one hold box of three lines, two of the bundle."""
    publisher = make_publisher(name="Alpha Books", grouping_minutes=10)
    almanac = make_project(publisher, "279813", title="Almanac", unit_cost="5.00")
    bundle = make_project(
        publisher, "{294010}{298020}", title="Bundle <b>", unit_cost="3.00", shipping_cost="4.00"
    )
    post_notify(Client(), publisher, sample("order_three_products"))
    api = APIClient()
    user = make_publisher_user(publisher)
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    box = Order.objects.get(publisher=publisher)
    return {"publisher": publisher, "almanac": almanac, "bundle": bundle, "api": api, "box": box}


def test_an_order_carries_its_lines_box_number_split_reason_and_items(box_world):
    api, box, almanac, bundle = (box_world[k] for k in ("api", "box", "almanac", "bundle"))

    listed = api.get("/api/v1/orders/").json()["results"]
    shown = api.get(f"/api/v1/orders/{box.pk}/").json()

    assert listed == [shown]
    assert (shown["box_number"], shown["split_reason"]) == (1, "")
    assert shown["items"] == "3 items: Almanac × 2, Bundle <b>, Bundle <b>"
    lines = shown["lines"]
    assert all(tuple(line) == LINE_FIELDS for line in lines)
    assert [
        (line["project"], line["project_title"], line["external_product_id"], line["quantity"])
        for line in lines
    ] == [
        (almanac.pk, "Almanac", "279813", 2),
        (bundle.pk, "Bundle <b>", "294010", 1),
        (bundle.pk, "Bundle <b>", "298020", 1),
    ]
    assert [(line["unit_cost"], line["shipping_cost"], line["line_cost"]) for line in lines] == [
        ("5.00", "2.00", "10.00"),
        ("3.00", "4.00", "3.00"),
        ("3.00", "4.00", "3.00"),
    ]
    assert [(line["removed"], line["removed_at"], line["cart_refunded"]) for line in lines] == [
        (False, None, False)
    ] * 3
    # The box cost: its lines plus one shipping, the highest (SPEC §18).
    assert Decimal(shown["cost"]) == Decimal("10.00") + 3 + 3 + 4
    for gone in ("project", "project_title", "external_product_id", "quantity"):
        assert gone not in shown


def test_patch_of_a_line_sets_its_quantity_and_prices_the_box_again(box_world):
    api, box = box_world["api"], box_world["box"]
    line = box.lines.get(external_product_id="294010")

    response = api.patch(line_url(line), {"quantity": 4}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == box.pk
    changed = next(each for each in body["lines"] if each["id"] == line.pk)
    assert (changed["quantity"], changed["line_cost"]) == (4, "12.00")
    assert Decimal(body["cost"]) == Decimal("10.00") + 12 + 3 + 4
    assert body["items"] == "3 items: Almanac × 2, Bundle <b> × 4, Bundle <b>"
    assert body["events"][-1]["kind"] == "edited"
    line.refresh_from_db()
    box.refresh_from_db()
    assert (line.quantity, box.cost) == (4, Decimal("29.00"))


def test_delete_of_a_line_removes_it_and_it_stays_removed_when_samcart_resends(box_world):
    api, box, publisher = box_world["api"], box_world["box"], box_world["publisher"]
    almanac_line = box.lines.get(external_product_id="279813")

    response = api.delete(line_url(almanac_line))

    assert response.status_code == 200, response.content
    body = response.json()
    removed = next(each for each in body["lines"] if each["id"] == almanac_line.pk)
    assert removed["removed"] is True
    assert removed["removed_at"] is not None
    assert body["items"] == "2 items: Bundle <b>, Bundle <b>"
    assert Decimal(body["cost"]) == Decimal("3.00") + 3 + 4
    assert body["events"][-1]["kind"] == "line_removed"
    post_notify(Client(), publisher, sample("order_three_products"))
    again = api.get(f"/api/v1/orders/{box.pk}/").json()
    assert [each["removed"] for each in again["lines"]] == [True, False, False]
    assert Order.objects.filter(publisher=publisher).count() == 1
    assert api.delete(line_url(almanac_line)).status_code == 400  # removed already


def test_the_last_line_is_not_removed_a_field_error_says_delete_the_order(box_world):
    api, box = box_world["api"], box_world["box"]
    first, second, last = box.lines.order_by("id")
    assert api.delete(line_url(first)).status_code == 200
    assert api.delete(line_url(second)).status_code == 200

    response = api.delete(line_url(last))

    assert response.status_code == 400
    assert "delete the order" in " ".join(response.json()["lines"])
    last.refresh_from_db()
    assert last.removed_at is None


def test_a_line_is_reached_only_through_its_own_order_and_publisher(box_world):
    api, box = box_world["api"], box_world["box"]
    line = box.lines.first()
    other = make_publisher(name="Beta Press")
    make_project(other, "279813", title="Beta Almanac")
    post_notify(Client(), other, sample("order_products_array"))
    other_box = Order.objects.get(publisher=other)
    other_line = other_box.lines.get()

    wrong_order = f"/api/v1/orders/{other_box.pk}/lines/{line.pk}/"
    assert api.patch(wrong_order, {"quantity": 3}, format="json").status_code == 404
    assert api.delete(wrong_order).status_code == 404
    assert api.patch(line_url(other_line), {"quantity": 3}, format="json").status_code == 404
    assert api.delete(line_url(other_line)).status_code == 404
    assert api.get(line_url(line)).status_code == 405
    other_line.refresh_from_db()
    line.refresh_from_db()
    assert (other_line.quantity, other_line.removed_at, line.quantity) == (1, None, 2)


@pytest.mark.parametrize(
    "body", [{"quantity": 3}, {"quantity": 3, "ship_name": "Ada"}, {"project": 1}]
)
def test_patch_of_an_order_with_a_line_field_is_400_saying_where_lines_change(box_world, body):
    api, box = box_world["api"], box_world["box"]

    response = api.patch(f"/api/v1/orders/{box.pk}/", body, format="json")

    assert response.status_code == 400
    field = next(iter(body))
    assert f"/api/v1/orders/{box.pk}/lines/" in " ".join(response.json()[field])
    box.refresh_from_db()
    assert box.ship_name != "Ada"
    assert sorted(box.lines.values_list("quantity", flat=True)) == [1, 1, 2]


def test_filters_and_search_find_a_box_by_any_of_its_lines_once_per_box(box_world, monkeypatch):
    api, publisher = box_world["api"], box_world["publisher"]
    bundle, almanac = box_world["bundle"], box_world["almanac"]
    body = sample("order_three_products")
    loner = make_project(publisher, "777", title="Loner")
    # 298020 in a second project too: the next boxes have two lines of that product id.
    make_project(publisher, "298020", title="Extra")
    for n in range(1, 5):  # four more boxes, each with two lines of the bundle
        post_notify(Client(), publisher, body.replace(b"35211902", str(35211902 + n).encode()))
    monkeypatch.setattr(Pages, "page_size", 2)
    boxes = list(Order.objects.filter(publisher=publisher).values_list("pk", flat=True))
    assert len(boxes) == 5

    for query in (f"project={bundle.pk}", "external_product_id=298020", "q=298020"):
        first = api.get(f"/api/v1/orders/?{query}").json()
        seen = [o["id"] for page in range(1, 4) for o in orders_page(api, query, page)]
        assert first["count"] == 5, query
        assert seen == boxes, query  # newest first, each box once, across pages
    assert api.get(f"/api/v1/orders/?project={almanac.pk}").json()["count"] == 5
    assert api.get(f"/api/v1/orders/?project={loner.pk}").json()["count"] == 0
    assert api.get("/api/v1/orders/?external_product_id=777").json()["count"] == 0
    assert api.get("/api/v1/orders/?q=29801").json()["count"] == 0  # ids match whole


def test_a_removed_line_still_finds_its_box(box_world):
    api, box, almanac = box_world["api"], box_world["box"], box_world["almanac"]
    api.delete(line_url(box.lines.get(external_product_id="279813")))

    assert api.get(f"/api/v1/orders/?project={almanac.pk}").json()["count"] == 1
    assert api.get("/api/v1/orders/?external_product_id=279813").json()["count"] == 1


def orders_page(api: APIClient, query: str, page: int) -> list[dict]:
    """Return the orders of one page of a filtered list."""
    response = api.get(f"/api/v1/orders/?{query}&page={page}")
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_queries_per_list_page_stay_flat_in_its_size(box_world):
    api, publisher = box_world["api"], box_world["publisher"]
    body = sample("order_three_products")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert api.get("/api/v1/orders/").status_code == 200
        return len(captured)

    one = queries()
    for n in range(1, 8):
        post_notify(Client(), publisher, body.replace(b"35211902", str(35211902 + n).encode()))
    eight = queries()

    assert Order.objects.filter(publisher=publisher).count() == 8
    assert eight == one
