"""Django users and groups for publishers' people and TrepStar staff (SPEC §3 'who is who').

A login linked to a publisher holds exactly one role, a group: *manager* (the publisher
permissions) or *viewer* (the `view_*` ones only). Scoping to the publisher's own rows is the
admin's and the API's job; the role says what the login may do with them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group, Permission
from django.db import transaction
from django.db.models import Q

from fulfillment.models import STAFF_GROUP, Publisher

from .errors import ServiceError

if TYPE_CHECKING:
    from django.db.models import QuerySet

MANAGER_GROUP = "Publisher managers"
VIEWER_GROUP = "Publisher viewers"
# The single publisher group before roles existed; migration 0003 renames it to MANAGER_GROUP.
LEGACY_PUBLISHER_GROUP = "Publisher users"
# What a viewer may do: read its publisher's rows.
VIEWER_PERMISSIONS = (
    "view_publisher",
    "view_project",
    "view_order",
    "view_notification",
    "view_ledgerentry",
    "view_orderevent",
    "view_alert",  # the e-mails sent to the publisher (read-only for everyone)
    "view_samcartcheckrun",  # the SamCart check's runs (read-only for everyone, §17)
)
# What a manager may do besides: add and edit projects, edit, delete and release hold orders,
# reprocess notifications, rotate the Notify URL key (`change_publisher`; the admin still lets
# only staff edit publisher settings).
MANAGER_PERMISSIONS = (
    *VIEWER_PERMISSIONS,
    "change_publisher",
    "add_project",
    "change_project",
    "change_order",
    "delete_order",
    "change_notification",
)
# Kept for callers that know the manager role by its old name.
PUBLISHER_PERMISSIONS = MANAGER_PERMISSIONS

ERROR_NOT_LINKED = "{user} does not act for {publisher}."
ERROR_STAFF_LOGIN = "{user} is TrepStar staff; staff logins are linked to no publisher."


class Role(StrEnum):
    """The role of a login acting for a publisher, with the group that grants it."""

    MANAGER = "manager"
    VIEWER = "viewer"

    @property
    def group_name(self) -> str:
        """Return the name of the group that holds this role's permissions."""
        return MANAGER_GROUP if self is Role.MANAGER else VIEWER_GROUP

    @property
    def label(self) -> str:
        """Return the role as staff read it when choosing one."""
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.MANAGER: "Manager — edits, deletes and releases hold orders (spends the balance), "
    "sets projects' eCommerceIDString, reprocesses notifications, rotates the Notify URL key",
    Role.VIEWER: "Viewer — reads orders, projects, notifications and the ledger; changes nothing",
}
ROLE_GROUPS = (MANAGER_GROUP, VIEWER_GROUP)
STAFF_AXES_PERMISSIONS = (
    "view_accessattempt",
    "delete_accessattempt",
    "view_accessfailurelog",
    "view_accesslog",
)
# API tokens (DRF's admin, *Auth Token*: the proxy model's permissions) for integrators.
STAFF_TOKEN_PERMISSIONS = ("view_tokenproxy", "add_tokenproxy", "delete_tokenproxy")
# The background worker's task runs (django-tasks-db's admin, read-only; app label below).
TASKS_APP_LABEL = "django_tasks_database"
STAFF_TASK_PERMISSIONS = ("view_dbtaskresult",)


def _permissions(codenames: tuple[str, ...]) -> QuerySet[Permission]:
    """Return the app's permissions with these codenames."""
    return Permission.objects.filter(content_type__app_label="fulfillment", codename__in=codenames)


@transaction.atomic
def groups_ensure() -> dict[str, Group]:
    """Create the staff and role groups and (re)set their permissions; idempotent.

    Runs after every `migrate` (post_migrate) and before any login is created, so a group's
    permissions are always the ones written here.
    """
    groups = {
        name: Group.objects.get_or_create(name=name)[0] for name in (STAFF_GROUP, *ROLE_GROUPS)
    }
    # Staff run everything of the app, unlock logins locked by django-axes, make API tokens
    # and see the task runs of the background worker (docs/operator.md, staff jobs).
    groups[STAFF_GROUP].permissions.set(
        Permission.objects.filter(
            Q(content_type__app_label="fulfillment")
            | Q(content_type__app_label="axes", codename__in=STAFF_AXES_PERMISSIONS)
            | Q(content_type__app_label="authtoken", codename__in=STAFF_TOKEN_PERMISSIONS)
            | Q(content_type__app_label=TASKS_APP_LABEL, codename__in=STAFF_TASK_PERMISSIONS)
        )
    )
    groups[MANAGER_GROUP].permissions.set(_permissions(MANAGER_PERMISSIONS))
    groups[VIEWER_GROUP].permissions.set(_permissions(VIEWER_PERMISSIONS))
    return groups


def groups_ensure_after_migrate(**_: Any) -> None:
    """Run `groups_ensure` from the post_migrate signal (once the permissions exist)."""
    if Permission.objects.filter(content_type__app_label="fulfillment").exists():
        groups_ensure()


def user_role(user: AbstractBaseUser) -> Role | None:
    """Return the role `user` holds through its groups, or None when it holds none."""
    names = set(user.groups.filter(name__in=ROLE_GROUPS).values_list("name", flat=True))
    if MANAGER_GROUP in names:
        return Role.MANAGER
    return Role.VIEWER if VIEWER_GROUP in names else None


def _role_set(*, user: AbstractBaseUser, role: Role, groups: dict[str, Group]) -> None:
    """Put `user` in the group of `role` and in no other role group."""
    user.groups.remove(*(groups[name] for name in ROLE_GROUPS if name != role.group_name))
    user.groups.add(groups[role.group_name])


@transaction.atomic
def publisher_user_create(
    *,
    publisher: Publisher,
    username: str,
    password: str | None,
    email: str = "",
    role: Role | str = Role.MANAGER,
) -> AbstractBaseUser:
    """Create a login that acts for `publisher` in the admin with `role` (manager or viewer).

    `password` None leaves the password unusable: the person sets one from the invitation
    e-mail (fulfillment/services/invitations.py).
    """
    role = Role(role)
    groups = groups_ensure()
    user = get_user_model().objects.create_user(
        username=username, password=password, email=email, is_staff=True
    )
    _role_set(user=user, role=role, groups=groups)
    publisher.users.add(user)
    return user


@transaction.atomic
def publisher_user_role_set(
    *, publisher: Publisher, user: AbstractBaseUser, role: Role | str
) -> AbstractBaseUser:
    """Give a login linked to `publisher` the role `role` (it loses any other role)."""
    role = Role(role)
    if not publisher.users.filter(pk=user.pk).exists():
        raise ServiceError(ERROR_NOT_LINKED.format(user=user, publisher=publisher))
    if user.is_superuser or user.groups.filter(name=STAFF_GROUP).exists():
        raise ServiceError(ERROR_STAFF_LOGIN.format(user=user))
    _role_set(user=user, role=role, groups=groups_ensure())
    return user


@transaction.atomic
def publisher_user_unlink(*, publisher: Publisher, user: AbstractBaseUser) -> AbstractBaseUser:
    """Stop `user` acting for `publisher`; a login left acting for no one loses its role."""
    if not publisher.users.filter(pk=user.pk).exists():
        raise ServiceError(ERROR_NOT_LINKED.format(user=user, publisher=publisher))
    publisher.users.remove(user)
    if not user.publishers.exists():
        user.groups.remove(*Group.objects.filter(name__in=ROLE_GROUPS))
    return user


def logins_without_role() -> QuerySet[AbstractBaseUser]:
    """Return the logins linked to a publisher that hold no role (they would see nothing)."""
    return (
        get_user_model()
        .objects.filter(publishers__isnull=False, is_superuser=False, is_active=True)
        .exclude(groups__name__in=(*ROLE_GROUPS, STAFF_GROUP))
        .distinct()
        .order_by("username")
    )


@transaction.atomic
def staff_user_create(*, username: str, password: str | None, email: str = "") -> AbstractBaseUser:
    """Create a TrepStar staff login (member of the staff group, linked to no publisher).

    `password` None leaves the password unusable until set from the invitation e-mail.
    """
    group = groups_ensure()[STAFF_GROUP]
    user = get_user_model().objects.create_user(
        username=username, password=password, email=email, is_staff=True
    )
    user.groups.add(group)
    return user
