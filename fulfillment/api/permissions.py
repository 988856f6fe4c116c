"""API permissions: the same rules as the admin (SPEC §3, §16).

The admin lets in only active users with `is_staff` and then asks the model permission of the
action: `view_*` (or `change_*`) to see, `change_*` to change, `delete_*` to delete. The API
asks exactly the same. Scoping to the caller's publisher stays the querysets' job (`for_user`):
another publisher's object answers 404 whatever the permissions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework.permissions import SAFE_METHODS, BasePermission, DjangoModelPermissions

if TYPE_CHECKING:
    from django.db.models import Model
    from rest_framework.request import Request
    from rest_framework.views import APIView

NOT_STAFF = "This login may not use the admin, so it may not use the API either."
VIEW = "%(app_label)s.view_%(model_name)s"
CHANGE = "%(app_label)s.change_%(model_name)s"
DELETE = "%(app_label)s.delete_%(model_name)s"


class AdminModelPermissions(DjangoModelPermissions):
    """Ask the admin's model permission for each method; the admin's login rule first.

    Reads need `view_*` or `change_*` (as the admin's `has_view_permission`); PUT and PATCH
    need `change_*`; DELETE needs `delete_*`. A view may set `permission_action` to the codename
    prefix all its writes need (release, and a line's edit or removal, are changes of orders:
    `"change"`). POST otherwise needs `add_*`, which the API never offers.
    """

    message = NOT_STAFF
    perms_map = {
        "GET": [VIEW],
        "OPTIONS": [VIEW],
        "HEAD": [VIEW],
        "POST": ["%(app_label)s.add_%(model_name)s"],
        "PUT": [CHANGE],
        "PATCH": [CHANGE],
        "DELETE": [DELETE],
    }

    def has_permission(self, request: Request, view: APIView) -> bool:
        """Refuse logins the admin refuses, then check the model permission of the method."""
        user = request.user
        if not (user and user.is_authenticated and user.is_active and user.is_staff):
            self.message = NOT_STAFF
            return False
        self.message = None
        model = self._queryset(view).model
        if request.method in SAFE_METHODS:
            return any(user.has_perm(self._codename(model, p)) for p in (VIEW, CHANGE))
        action = getattr(view, "permission_action", None)
        if action:
            return user.has_perm(self._codename(model, f"%(app_label)s.{action}_%(model_name)s"))
        return super().has_permission(request, view)

    @staticmethod
    def _codename(model: type[Model], template: str) -> str:
        """Return `app_label.<action>_<model>` for `model`."""
        meta = model._meta
        return template % {"app_label": meta.app_label, "model_name": meta.model_name}


class AdminLogin(BasePermission):
    """The admin's login rule alone (the API root, which shows no model's rows)."""

    message = NOT_STAFF

    def has_permission(self, request: Request, view: APIView) -> bool:
        """Let in active logins with `is_staff`, as the admin does."""
        user = request.user
        return bool(user and user.is_authenticated and user.is_active and user.is_staff)
