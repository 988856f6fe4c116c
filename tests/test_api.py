"""The REST API of SPEC §10 through real HTTP (DRF's test client), scoped per publisher."""

from __future__ import annotations

from decimal import Decimal

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from fulfillment import ecommerce_ids
from fulfillment.models import Order, OrderStatus, Outcome, ProjectCartId
from tests.factories import (
    make_project,
    make_publisher,
    make_publisher_user,
    make_staff_user,
    post_notify,
    sample,
)

pytestmark = pytest.mark.django_db


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
    assert listed[0]["project_title"] == "Alpha Almanac"
    assert api.get(f"/api/v1/orders/{order_b.pk}/").status_code == 404
    assert api.patch(f"/api/v1/orders/{order_b.pk}/", {"quantity": 9}).status_code == 404
    assert api.delete(f"/api/v1/orders/{order_b.pk}/").status_code == 404
    order_b.refresh_from_db()
    assert (order_b.quantity, order_b.status) == (1, OrderStatus.IN_PRODUCTION)


def test_order_filters(world):
    api = world["api"]

    assert api.get("/api/v1/orders/?status=hold").json()["count"] == 1
    assert api.get("/api/v1/orders/?status=in_production").json()["count"] == 0
    assert api.get("/api/v1/orders/?hold_reason=payment_required").json()["count"] == 1
    assert api.get("/api/v1/orders/?q=okafor").json()["count"] == 1
    assert api.get("/api/v1/orders/?q=nobody").json()["count"] == 0


def test_update_hold_order_recomputes_cost_and_records_an_event(world):
    api, order = world["api"], world["order_a"]

    response = api.patch(f"/api/v1/orders/{order.pk}/", {"quantity": 3}, format="json")

    assert response.status_code == 200
    assert Decimal(response.json()["cost"]) == Decimal("5.00") * 3 + Decimal("2.00")
    assert response.json()["events"][-1]["kind"] == "edited"


def test_orders_out_of_hold_cannot_be_changed(world):
    staff = make_staff_user()
    api = APIClient()
    api.force_authenticate(staff)
    order_b = Order.objects.get(publisher=world["b"])

    response = api.patch(f"/api/v1/orders/{order_b.pk}/", {"quantity": 5}, format="json")

    assert response.status_code == 400
    assert "only orders on hold" in response.json()["detail"]


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
    notes = schema["paths"]["/api/v1/notifications/"]["get"]["parameters"]
    outcome = next(p for p in notes if p["name"] == "outcome")
    assert "no_match" in outcome["schema"]["enum"]
    quantity = schema["components"]["schemas"]["Order"]["properties"]["quantity"]
    assert (quantity["minimum"], quantity["maximum"]) == (1, 10_000)
