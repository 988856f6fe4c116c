"""Django users and groups for publishers' people and TrepStar staff (SPEC §3 'who is who')."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group, Permission
from django.db import transaction

from fulfillment.models import STAFF_GROUP, Publisher

PUBLISHER_GROUP = "Publisher users"
# What a publisher's people may do in the admin; scoping to their own rows is the admin's job.
PUBLISHER_PERMISSIONS = (
    "view_publisher",
    "add_project",
    "change_project",
    "view_project",
    "view_order",
    "change_order",
    "delete_order",
    "view_notification",
    "change_notification",
    "view_ledgerentry",
    "view_orderevent",
)


@transaction.atomic
def groups_ensure() -> tuple[Group, Group]:
    """Create the staff and publisher groups with their permissions (idempotent)."""
    staff, _ = Group.objects.get_or_create(name=STAFF_GROUP)
    staff.permissions.set(Permission.objects.filter(content_type__app_label="fulfillment"))
    publishers, _ = Group.objects.get_or_create(name=PUBLISHER_GROUP)
    publishers.permissions.set(
        Permission.objects.filter(
            content_type__app_label="fulfillment", codename__in=PUBLISHER_PERMISSIONS
        )
    )
    return staff, publishers


@transaction.atomic
def publisher_user_create(
    *, publisher: Publisher, username: str, password: str, email: str = ""
) -> AbstractBaseUser:
    """Create a login that acts for `publisher` in the admin (staff flag, publisher group)."""
    _, group = groups_ensure()
    user = get_user_model().objects.create_user(
        username=username, password=password, email=email, is_staff=True
    )
    user.groups.add(group)
    publisher.users.add(user)
    return user


@transaction.atomic
def staff_user_create(*, username: str, password: str, email: str = "") -> AbstractBaseUser:
    """Create a TrepStar staff login (member of the staff group, linked to no publisher)."""
    group, _ = groups_ensure()
    user = get_user_model().objects.create_user(
        username=username, password=password, email=email, is_staff=True
    )
    user.groups.add(group)
    return user
