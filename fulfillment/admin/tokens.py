"""API tokens in the admin (*Auth Token*): DRF's page, kept from reaching superusers' keys.

The "TrepStar staff" group may add, see and delete tokens (integrators' keys, issue 20). A token
authenticates as its login, so a staff member who is not a superuser neither sees a superuser's
token nor makes one for a superuser: that would hand them the superuser's API identity.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from rest_framework.authtoken.admin import TokenAdmin
from rest_framework.authtoken.models import TokenProxy

if TYPE_CHECKING:
    from django.db.models import ForeignKey, QuerySet
    from django.forms import ModelChoiceField
    from django.http import HttpRequest


class StaffTokenAdmin(TokenAdmin):
    """DRF's token admin; a login that is not a superuser deals with non-superusers' tokens."""

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        """Leave superusers' tokens out for a login that is not a superuser."""
        tokens = super().get_queryset(request)
        if request.user.is_superuser:
            return tokens
        return tokens.filter(user__is_superuser=False)

    def formfield_for_foreignkey(
        self, db_field: ForeignKey, request: HttpRequest, **kwargs: Any
    ) -> ModelChoiceField | None:
        """Offer active logins, and no superuser to a login that is not one."""
        if db_field.name == "user":
            users = get_user_model().objects.filter(is_active=True).order_by("username")
            if not request.user.is_superuser:
                users = users.filter(is_superuser=False)
            kwargs["queryset"] = users
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


if admin.site.is_registered(TokenProxy):
    admin.site.unregister(TokenProxy)
admin.site.register(TokenProxy, StaffTokenAdmin)
