"""SPEC §3, §16: the API obeys the caller's model permissions exactly as the admin does.

Issue 8, finding 1: a view-only login with a token could PATCH, DELETE and release orders (a
real ledger charge) and PATCH projects; a linked login without `is_staff` could do the same.
Every case below goes through real HTTP with token authentication on a real database.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from fulfillment.models import LedgerEntry, Order, OrderLine, OrderStatus, Project, Publisher
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

VIEW_PERMISSIONS = (
    "view_publisher",
    "view_project",
    "view_order",
    "view_notification",
    "view_ledgerentry",
    "view_orderevent",
)


@dataclass
class Scene:
    """One funded publisher with a hold box of three lines that a release would charge."""

    publisher: Publisher
    order: Order
    project: Project
    notification_id: int
    line: OrderLine

    def state(self) -> tuple:
        """Return what a write through the API could change."""
        order = Order.objects.get(pk=self.order.pk)
        project = Project.objects.get(pk=self.project.pk)
        return (
            order.status,
            order.cost,
            tuple(order.lines.values_list("quantity", "removed_at")),
            order.ship_name,
            project.ecommerce_id_string,
            Publisher.objects.get(pk=self.publisher.pk).balance,
            LedgerEntry.objects.count(),
        )


@pytest.fixture
def scene() -> Scene:
    publisher = make_publisher(name="Alpha Books")
    project = make_project(publisher, "279813", title="Alpha Almanac")
    make_project(publisher, "{294010}{298020}", title="Alpha Bundle")
    response = post_notify(Client(), publisher, sample("order_three_products"))
    order = Order.objects.get(publisher=publisher)
    assert order.status == OrderStatus.HOLD
    assert order.lines.count() == 3
    deposit_record(publisher=publisher, amount=Decimal("100.00"), actor=None)
    line = order.lines.get(external_product_id="279813")
    return Scene(publisher, order, project, response.json()["notification"], line)


def token_client(user: object) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return api


def manager(publisher: Publisher) -> object:
    """A login of the publisher holding the publisher permissions (the default role)."""
    return make_publisher_user(publisher)


def viewer(publisher: Publisher) -> object:
    """A login of the publisher holding only the view_* permissions."""
    user = make_publisher_user(publisher)
    user.groups.clear()
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="fulfillment", codename__in=VIEW_PERMISSIONS
        )
    )
    return user


def not_staff(publisher: Publisher) -> object:
    """A manager's login without `is_staff`: the admin refuses it."""
    user = make_publisher_user(publisher)
    user.is_staff = False
    user.save(update_fields=["is_staff"])
    return user


def staff(publisher: Publisher) -> object:
    """TrepStar staff."""
    return make_staff_user()


ROLES = {"manager": manager, "viewer": viewer, "not_staff": not_staff, "staff": staff}

# (endpoint name, method, path template, body, answer for a login allowed to do it)
ENDPOINTS = [
    ("orders", "get", "/api/v1/orders/", None, 200),
    ("order", "get", "/api/v1/orders/{order}/", None, 200),
    ("order", "patch", "/api/v1/orders/{order}/", {"ship_name": "Ada"}, 200),
    ("order", "put", "/api/v1/orders/{order}/", {"ship_name": "Ada"}, 200),
    ("order", "delete", "/api/v1/orders/{order}/", None, 204),
    ("line", "patch", "/api/v1/orders/{order}/lines/{line}/", {"quantity": 3}, 200),
    ("line", "delete", "/api/v1/orders/{order}/lines/{line}/", None, 200),
    ("release", "post", "/api/v1/orders/release/", {"ids": ["{order}"]}, 200),
    ("projects", "get", "/api/v1/projects/", None, 200),
    ("project", "get", "/api/v1/projects/{project}/", None, 200),
    ("project", "patch", "/api/v1/projects/{project}/", {"ecommerce_id_string": "777001"}, 200),
    ("notifications", "get", "/api/v1/notifications/", None, 200),
    ("notification", "get", "/api/v1/notifications/{notification}/", None, 200),
]
WRITES = {"patch", "put", "delete", "post"}


def expected(role: str, method: str, allowed: int) -> int:
    """Return the answer the admin's rules give `role` for `method`."""
    if role == "not_staff":
        return 403
    if role == "viewer" and method in WRITES:
        return 403
    return allowed


def fill(value: object, scene: Scene) -> object:
    """Put the scene's ids into a path or body template."""
    ids = {"order": scene.order.pk, "project": scene.project.pk, "line": scene.line.pk}
    ids["notification"] = scene.notification_id
    if isinstance(value, str):
        text = value.format(**ids)
        return int(text) if text.isdigit() and value.startswith("{") else text
    if isinstance(value, dict):
        return {k: fill(v, scene) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, scene) for v in value]
    return value


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("endpoint", "method", "path", "body", "allowed"),
    ENDPOINTS,
    ids=[f"{method.upper()} {name}" for name, method, *_ in ENDPOINTS],
)
def test_permission_matrix(scene, role, endpoint, method, path, body, allowed):
    api = token_client(ROLES[role](scene.publisher))
    before = scene.state()

    response = getattr(api, method)(fill(path, scene), fill(body, scene), format="json")

    assert response.status_code == expected(role, method, allowed), response.content
    if response.status_code == 403:
        assert scene.state() == before
    if method in WRITES and response.status_code < 300:
        assert scene.state() != before


def test_a_viewer_s_token_cannot_release_and_no_money_moves(scene):
    api = token_client(viewer(scene.publisher))
    ledger = LedgerEntry.objects.count()

    response = api.post("/api/v1/orders/release/", {"ids": [scene.order.pk]}, format="json")

    assert response.status_code == 403
    assert LedgerEntry.objects.count() == ledger
    assert Order.objects.get(pk=scene.order.pk).status == OrderStatus.HOLD
    assert Publisher.objects.get(pk=scene.publisher.pk).balance == Decimal("100.00")


def test_a_viewer_s_token_cannot_change_or_delete(scene):
    api = token_client(viewer(scene.publisher))
    order_url = f"/api/v1/orders/{scene.order.pk}/"
    project_url = f"/api/v1/projects/{scene.project.pk}/"

    line_url = f"{order_url}lines/{scene.line.pk}/"
    before = scene.state()

    assert api.get(order_url).status_code == 200
    assert api.patch(order_url, {"ship_name": "X"}, format="json").status_code == 403
    assert api.delete(order_url).status_code == 403
    assert api.patch(line_url, {"quantity": 9}, format="json").status_code == 403
    assert api.delete(line_url).status_code == 403
    assert api.patch(project_url, {"ecommerce_id_string": "1"}, format="json").status_code == 403
    assert scene.state() == before
    order = Order.objects.get(pk=scene.order.pk)
    assert order.status == OrderStatus.HOLD
    assert Project.objects.get(pk=scene.project.pk).ecommerce_id_string == "279813"


def test_a_manager_releases_and_is_charged(scene):
    api = token_client(manager(scene.publisher))

    response = api.post("/api/v1/orders/release/", {"ids": [scene.order.pk]}, format="json")

    assert response.status_code == 200
    assert response.json()["released"] == [scene.order.pk]
    assert Order.objects.get(pk=scene.order.pk).status == OrderStatus.IN_PRODUCTION


def test_a_linked_login_without_is_staff_gets_nothing(scene):
    api = token_client(not_staff(scene.publisher))

    for path in ("/api/v1/orders/", "/api/v1/projects/", "/api/v1/notifications/"):
        response = api.get(path)
        assert response.status_code == 403
        assert str(scene.order.external_order_id) not in response.content.decode()


def test_an_inactive_login_s_token_is_refused(scene):
    user = manager(scene.publisher)
    api = token_client(user)
    user.is_active = False
    user.save(update_fields=["is_active"])

    assert api.get("/api/v1/orders/").status_code in (401, 403)


def test_session_auth_follows_the_same_permissions(scene):
    api = APIClient()
    api.force_login(viewer(scene.publisher))

    line_url = f"/api/v1/orders/{scene.order.pk}/lines/{scene.line.pk}/"
    assert api.get("/api/v1/orders/").status_code == 200
    assert api.patch(f"/api/v1/orders/{scene.order.pk}/", {"ship_name": "X"}).status_code == 403
    assert api.patch(line_url, {"quantity": 3}).status_code == 403


def test_scoping_stays_another_publisher_s_objects_answer_404(scene):
    other = make_publisher(name="Beta Press")
    api = token_client(manager(other))

    line_url = f"/api/v1/orders/{scene.order.pk}/lines/{scene.line.pk}/"
    before = scene.state()

    assert api.get(f"/api/v1/orders/{scene.order.pk}/").status_code == 404
    assert api.delete(f"/api/v1/orders/{scene.order.pk}/").status_code == 404
    assert api.patch(line_url, {"quantity": 3}, format="json").status_code == 404
    assert api.delete(line_url).status_code == 404
    assert scene.state() == before
    released = api.post("/api/v1/orders/release/", {"ids": [scene.order.pk]}, format="json")
    assert released.json()["released"] == []
    assert Order.objects.get(pk=scene.order.pk).status == OrderStatus.HOLD


@pytest.mark.parametrize(("extra", "answer"), [(("delete_order",), 403), (("change_order",), 200)])
def test_a_line_s_edit_and_removal_need_change_order(scene, extra, answer):
    """Removing a line changes the box (as editing it in the admin does): `delete_order`
    alone does not allow it, `change_order` does."""
    user = viewer(scene.publisher)
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="fulfillment", codename__in=extra)
    )
    api = token_client(user)
    line_url = f"/api/v1/orders/{scene.order.pk}/lines/{scene.line.pk}/"

    edited = api.patch(line_url, {"quantity": 3}, format="json")
    removed = api.delete(line_url)

    assert (edited.status_code, removed.status_code) == (answer, answer)
    line = OrderLine.objects.get(pk=scene.line.pk)
    changed = (3, True) if answer == 200 else (2, False)
    assert (line.quantity, line.removed_at is not None) == changed
