"""SPEC §12: CSRF protection on every admin and account-page POST, none on the Notify URL."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from fulfillment.models import LedgerEntry, Notification, Order, OrderLine, Project, Publisher
from tests.admin_world import World, build_world, order_body
from tests.factories import notify_path

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> World:
    return build_world()


def snapshot() -> list[tuple]:
    """Return every field a POST below could change."""
    return [
        *Order.objects.order_by("pk").values_list("pk", "status", "ship_street"),
        *OrderLine.objects.order_by("pk").values_list("pk", "quantity", "removed_at"),
        *Publisher.objects.order_by("pk").values_list("pk", "name", "balance", "notify_key"),
        *Project.objects.order_by("pk").values_list("pk", "title", "ecommerce_id_string"),
        *Notification.objects.order_by("pk").values_list("pk", "outcome", "attempts"),
        ("ledger", LedgerEntry.objects.count()),
        ("users", get_user_model().objects.count()),
    ]


def csrf_client(user: object | None) -> Client:
    client = Client(enforce_csrf_checks=True)
    if user is not None:
        client.force_login(user)
    return client


def publisher_posts(w: World) -> list[tuple[str, dict]]:
    changelist = reverse("admin:fulfillment_order_changelist")
    notifications = reverse("admin:fulfillment_notification_changelist")
    return [
        (
            reverse("admin:fulfillment_order_change", args=[w.a_hold.pk]),
            {f"line_{w.a_hold.lines.get().pk}_quantity": 5, "ship_street": "X", "_save": "Save"},
        ),
        (changelist, {"action": "release_orders", "_selected_action": w.a_hold.pk, "index": 0}),
        (changelist, {"action": "delete_orders", "_selected_action": w.a_hold.pk, "index": 0}),
        (notifications, {"action": "reprocess", "_selected_action": w.a_no_match.pk, "index": 0}),
        (reverse("admin:fulfillment_notification_reprocess", args=[w.a_no_match.pk]), {}),
        (reverse("admin:fulfillment_project_add"), {"title": "New", "is_active": "on"}),
        (
            reverse("admin:fulfillment_project_change", args=[w.a_project.pk]),
            {"title": "Renamed", "ecommerce_id_string": "1", "is_active": "on"},
        ),
        (reverse("account-rotate-key"), {}),
        (reverse("account-release-all"), {}),
        (reverse("admin:password_change"), {"old_password": "x", "new_password1": "y"}),
        (reverse("admin:logout"), {}),
    ]


def staff_posts(w: World) -> list[tuple[str, dict]]:
    return [
        (
            reverse("admin:fulfillment_publisher_balance", args=[w.a.pk]),
            {"kind": "deposit", "amount": "50"},
        ),
        (
            reverse("admin:fulfillment_publisher_change", args=[w.a.pk]),
            {"name": "Renamed", "email": "r@example.com"},
        ),
        (reverse("admin:fulfillment_publisher_add"), {"name": "New", "email": "n@example.com"}),
        (
            reverse("admin:fulfillment_publisher_login", args=[w.a.pk]),
            {"username": "x-new", "password1": "long-enough-9x", "password2": "long-enough-9x"},
        ),
        (reverse("admin:fulfillment_order_ship"), {"order": w.b_production.pk}),
        (
            reverse("admin:fulfillment_notification_changelist"),
            {"action": "reprocess", "_selected_action": w.b_created.pk, "index": 0},
        ),
        (reverse("account-rotate-key"), {"publisher": w.b.idpub}),
    ]


def test_publisher_posts_without_token_are_refused(world):
    before = snapshot()
    client = csrf_client(world.a_user)
    for url, data in publisher_posts(world):
        response = client.post(url, data)
        assert response.status_code == 403, url
    assert snapshot() == before
    assert client.get(reverse("account")).status_code == 200  # still logged in


def test_staff_posts_without_token_are_refused(world):
    before = snapshot()
    client = csrf_client(world.staff)
    for url, data in staff_posts(world):
        assert client.post(url, data).status_code == 403, url
    assert snapshot() == before


def test_login_post_without_token_is_refused(world):
    client = csrf_client(None)
    response = client.post(reverse("admin:login"), {"username": "alpha-user", "password": "x"})
    assert response.status_code == 403


def test_posts_with_the_token_work(world):
    client = csrf_client(world.a_user)
    client.get(reverse("account"))
    token = client.cookies["csrftoken"].value
    response = client.post(reverse("account-rotate-key"), {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert Publisher.objects.get(pk=world.a.pk).notify_key != world.a.notify_key


def test_notify_url_needs_no_token(world):
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        notify_path(world.a), data=order_body(order_id="11112222"), content_type="application/json"
    )
    assert response.status_code == 200
    assert Order.objects.filter(external_order_id="11112222", publisher=world.a).exists()
