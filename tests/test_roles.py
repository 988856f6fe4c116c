"""SPEC §3: roles of the logins acting for a publisher (issue 8, finding 1).

A linked login is a *manager* or a *viewer*, picked by staff when they create it; its role can
be changed or its link removed from the publisher's page; no raw widget links a login without a
role; a linked login that holds no role is reported by a system check and an admin warning.
"""

from __future__ import annotations

import importlib
from decimal import Decimal

import pytest
from django.apps import apps as global_apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from fulfillment.admin.logins import ROLE_REQUIRED
from fulfillment.admin.publishers import NO_ROLE_HINT, check_linked_logins_have_a_role
from fulfillment.models import LedgerEntry, OrderStatus
from fulfillment.services.accounts import (
    MANAGER_GROUP,
    MANAGER_PERMISSIONS,
    VIEWER_GROUP,
    VIEWER_PERMISSIONS,
    Role,
    groups_ensure,
    logins_without_role,
    publisher_user_role_set,
    user_role,
)
from fulfillment.services.deposits import deposit_record
from fulfillment.services.errors import ServiceError
from tests.admin_world import PASSWORD, World
from tests.factories import make_publisher_user

pytestmark = pytest.mark.django_db
migration_0003 = importlib.import_module("fulfillment.migrations.0003_publisher_roles")


def codenames(group_name: str) -> set[str]:
    group = Group.objects.get(name=group_name)
    return set(group.permissions.values_list("codename", flat=True))


def texts(response: object) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def staff_client(world: World) -> Client:
    client = Client()
    client.force_login(world.staff)
    return client


def test_migrate_leaves_both_role_groups_with_their_permissions():
    """post_migrate ran `groups_ensure` when the test database was migrated."""
    assert codenames(VIEWER_GROUP) == set(VIEWER_PERMISSIONS)
    assert codenames(MANAGER_GROUP) == set(MANAGER_PERMISSIONS)
    assert all(name.startswith("view_") for name in VIEWER_PERMISSIONS)
    assert {"change_publisher", "change_order", "delete_order"} <= set(MANAGER_PERMISSIONS)


def test_groups_ensure_resets_permissions_changed_by_hand():
    Group.objects.get(name=VIEWER_GROUP).permissions.clear()
    manager = Group.objects.get(name=MANAGER_GROUP)
    manager.permissions.remove(*manager.permissions.filter(codename="change_order"))

    groups_ensure()

    assert codenames(VIEWER_GROUP) == set(VIEWER_PERMISSIONS)
    assert "change_order" in codenames(MANAGER_GROUP)


@pytest.mark.parametrize("managers_exist", [True, False])
def test_migration_0003_renames_the_legacy_group_keeping_its_members(world, managers_exist):
    legacy = Group.objects.create(name=migration_0003.LEGACY)
    legacy.user_set.add(world.a_user)
    if not managers_exist:
        Group.objects.filter(name=MANAGER_GROUP).delete()

    migration_0003.forwards(global_apps, None)

    assert not Group.objects.filter(name=migration_0003.LEGACY).exists()
    managers = Group.objects.get(name=MANAGER_GROUP)
    assert managers.user_set.filter(pk=world.a_user.pk).exists()
    assert managers_exist or managers.pk == legacy.pk


def test_a_viewer_reads_but_changes_nothing_in_the_admin_and_the_api(world):
    viewer = make_publisher_user(world.a, "alpha-viewer", PASSWORD, role="viewer")
    deposit_record(publisher=world.a, amount=Decimal("50.00"), actor=None)
    assert user_role(viewer) is Role.VIEWER
    client = Client()
    client.force_login(viewer)
    changelist = reverse("admin:fulfillment_order_changelist")
    change = reverse("admin:fulfillment_order_change", args=[world.a_hold.pk])
    ledger = LedgerEntry.objects.count()

    assert client.get(changelist).status_code == 200
    assert "release_orders" not in client.get(changelist).content.decode()
    client.post(changelist, {"action": "release_orders", "_selected_action": [world.a_hold.pk]})
    line = world.a_hold.lines.get()
    assert client.post(change, {f"line_{line.pk}_quantity": 3}).status_code == 403
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=viewer).key}")
    assert api.get("/api/v1/orders/").json()["count"] == 1
    assert api.patch(f"/api/v1/orders/{world.a_hold.pk}/", {"ship_city": "X"}).status_code == 403
    world.a_hold.refresh_from_db()
    line.refresh_from_db()
    assert (world.a_hold.status, line.quantity) == (OrderStatus.HOLD, 1)
    assert LedgerEntry.objects.count() == ledger


def test_the_new_login_page_requires_a_role(world, staff_client):
    url = reverse("admin:fulfillment_publisher_login", args=[world.a.pk])
    data = {"username": "alpha-two", "email": "", "password1": "long-enough-9x"}
    data["password2"] = "long-enough-9x"

    page = staff_client.get(url).content.decode()
    missing = staff_client.post(url, data)
    bogus = staff_client.post(url, data | {"role": "owner"})
    created = staff_client.post(url, data | {"role": "viewer"}, follow=True)

    assert 'type="radio"' in page and 'value="viewer"' in page and 'value="manager"' in page
    assert ROLE_REQUIRED in missing.content.decode()
    assert bogus.status_code == 200 and "owner" in bogus.content.decode()
    assert any("as viewer" in text for text in texts(created))
    user = world.a.users.get(username="alpha-two")
    assert set(user.groups.values_list("name", flat=True)) == {VIEWER_GROUP}


def test_the_publisher_page_lists_logins_with_their_role_and_no_raw_users_widget(
    world, staff_client
):
    make_publisher_user(world.a, "alpha-viewer", PASSWORD, role="viewer")
    url = reverse("admin:fulfillment_publisher_change", args=[world.a.pk])

    response = staff_client.get(url)

    content = response.content.decode()
    assert "users" not in response.context["adminform"].form.fields
    assert 'name="users"' not in content
    assert "alpha-user" in content and "alpha-viewer" in content
    assert "<td>manager</td>" in content and "<td>viewer</td>" in content
    role_url = reverse("admin:fulfillment_publisher_login_role", args=[world.a.pk, world.a_user.pk])
    assert role_url in content


def test_posting_users_to_the_publisher_form_links_no_one(world, staff_client):
    url = reverse("admin:fulfillment_publisher_change", args=[world.a.pk])
    stranger = get_user_model().objects.create_user("stranger", password=PASSWORD, is_staff=True)
    data = {"name": "Alpha Books", "email": "alpha@example.com", "require_notify_key": "on"}
    data["production_delay_minutes"] = "0"

    assert staff_client.post(url, data | {"users": [stranger.pk]}).status_code == 302

    assert not world.a.users.filter(pk=stranger.pk).exists()


def test_staff_change_a_login_s_role_and_remove_its_link(world, staff_client):
    url = reverse("admin:fulfillment_publisher_login_role", args=[world.a.pk, world.a_user.pk])

    page = staff_client.get(url)
    to_viewer = staff_client.post(url, {"role": "viewer"}, follow=True)

    assert 'value="manager"' in page.content.decode() and "checked" in page.content.decode()
    assert any("is now viewer" in text for text in texts(to_viewer))
    assert set(world.a_user.groups.values_list("name", flat=True)) == {VIEWER_GROUP}
    staff_client.post(url, {"role": "unlink"})
    assert not world.a.users.filter(pk=world.a_user.pk).exists()
    assert not world.a_user.groups.exists()
    assert staff_client.get(url).status_code == 404


def test_only_staff_open_the_role_page_and_only_for_the_publisher_s_own_logins(
    world, staff_client, a_client
):
    own = reverse("admin:fulfillment_publisher_login_role", args=[world.a.pk, world.a_user.pk])
    other = reverse("admin:fulfillment_publisher_login_role", args=[world.a.pk, world.b_user.pk])

    assert a_client.get(own).status_code == 403
    assert a_client.post(own, {"role": "manager"}).status_code == 403
    assert staff_client.get(other).status_code == 404
    assert staff_client.post(other, {"role": "viewer"}).status_code == 404
    assert set(world.b_user.groups.values_list("name", flat=True)) == {MANAGER_GROUP}


def test_staff_logins_get_no_publisher_role(world):
    world.a.users.add(world.staff)

    with pytest.raises(ServiceError):
        publisher_user_role_set(publisher=world.a, user=world.staff, role="viewer")


def test_a_linked_login_without_role_is_reported_by_the_check_and_the_admin(world, staff_client):
    orphan = get_user_model().objects.create_user("orphan", password=PASSWORD, is_staff=True)
    world.b.users.add(orphan)

    warnings = check_linked_logins_have_a_role(databases=["default"])
    listing = staff_client.get(reverse("admin:fulfillment_publisher_changelist"))
    page = staff_client.get(reverse("admin:fulfillment_publisher_change", args=[world.b.pk]))

    assert [w.id for w in warnings] == ["fulfillment.W100"]
    assert "orphan" in warnings[0].msg and "alpha-user" not in warnings[0].msg
    assert any("orphan" in text and NO_ROLE_HINT in text for text in texts(listing))
    assert "no role: sees nothing" in page.content.decode()
    publisher_user_role_set(publisher=world.b, user=orphan, role=Role.MANAGER)
    assert check_linked_logins_have_a_role(databases=["default"]) == []
    assert not logins_without_role().exists()
