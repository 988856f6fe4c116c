"""The one publisher-scoped admin base that every publisher-facing admin class inherits.

A user linked to a publisher sees and chooses only that publisher's rows, whatever model
permissions they hold: the changelist, forms, foreign-key choices, filters, autocomplete,
actions and object URLs all read through `QuerySet.for_user`. Another publisher's object
answers 404, exactly like one that does not exist.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.widgets import AutocompleteSelect
from django.core import checks
from django.db import models
from django.http import Http404
from django.utils.html import format_html

from fulfillment import clock
from fulfillment.ids import id_or_none, ids_from_values
from fulfillment.models import PublisherScopedQuerySet, is_trepstar_staff
from fulfillment.models.base import user_publisher_ids as model_user_publisher_ids
from fulfillment.services.wording import money

if TYPE_CHECKING:
    from datetime import datetime

    from django.db.models import QuerySet
    from django.forms import Field
    from django.http import HttpRequest, HttpResponse

NOT_FOUND = "Nothing here: the object does not exist or belongs to another publisher."
# No searchable field is longer than 255 characters; a longer search matches nothing, and a
# very long one is a query the database may refuse (SQLite caps LIKE patterns at 50,000 bytes).
MAX_SEARCH_LENGTH = 256
SEARCH_TOO_LONG = f"Search for at most {MAX_SEARCH_LENGTH} characters."


def is_staff_request(request: HttpRequest) -> bool:
    """Tell whether the request comes from TrepStar staff (who see every publisher)."""
    return is_trepstar_staff(request.user)


def scoped_queryset(model: type[models.Model], request: HttpRequest) -> QuerySet | None:
    """Return the rows of `model` the user may see, or None when the model is not scoped."""
    queryset = model._default_manager.all()
    if isinstance(queryset, PublisherScopedQuerySet):
        return queryset.for_user(request.user)
    return None


def owner_id(obj: models.Model) -> int | None:
    """Return the id of the publisher owning `obj`, following its QuerySet's publisher_field."""
    path = type(obj)._default_manager.all().publisher_field.split("__")
    current: Any = obj
    for name in path[:-1]:
        current = getattr(current, name, None)
        if current is None:
            return None
    last = path[-1]
    return current.pk if last == "pk" else getattr(current, f"{last}_id", None)


def user_publisher_ids(request: HttpRequest) -> frozenset[int]:
    """Return the ids of the publishers the user acts for (cached on the request)."""
    user = request.user
    return frozenset(model_user_publisher_ids(user) if user.is_authenticated else ())


def money_html(amount: Decimal | None) -> str:
    """Format money for a list column: $1,234.50 (a dash when there is none)."""
    return "—" if amount is None else money(amount)


def short_datetime(value: datetime | None) -> str:
    """Format a timestamp for list columns, in the viewer's zone: "2026-12-04 05:20 EST"."""
    return clock.when(value)


def badge(text: str, tone: str) -> str:
    """Return a small coloured label (tones are styled in admin/base_site.html)."""
    return format_html('<span class="ts-badge ts-{}">{}</span>', tone, text)


def titled(filter_class: type[admin.FieldListFilter], title: str) -> type:
    """Return `filter_class` showing `title` instead of the field's name ("By <title>")."""

    class Titled(filter_class):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.title = title

    return Titled


class ScopedRelatedFieldListFilter(admin.RelatedFieldListFilter):
    """A foreign-key filter whose choices are only the related rows the user may see.

    When the list is filtered on a publisher, the choices are that publisher's; with more than
    MAX_FILTER_CHOICES choices (staff seeing 100,000 projects) the filter is left out rather
    than render them all (it took seconds): staff choose a publisher first.
    """

    too_many = False

    def field_choices(
        self, field: models.ForeignKey, request: HttpRequest, model_admin: admin.ModelAdmin
    ) -> list[tuple[Any, str]]:
        """Offer only the user's own related objects (never another publisher's names)."""
        ordering = self.field_admin_ordering(field, request, model_admin)
        scoped = scoped_queryset(field.related_model, request)
        limit: dict[str, Any] = {} if scoped is None else {"pk__in": scoped.values("pk")}
        chosen = id_or_none(request.GET.get("publisher__id__exact"))
        if chosen is not None and _has_publisher(field.related_model):
            limit["publisher_id"] = chosen
        rows = field.related_model._default_manager.complex_filter(limit)
        # Unordered: ordering by the publisher's name joined and sorted every row (150 ms).
        if rows.order_by()[: MAX_FILTER_CHOICES + 1].count() > MAX_FILTER_CHOICES:
            self.too_many = True
            return []
        return field.get_choices(include_blank=False, limit_choices_to=limit, ordering=ordering)

    def has_output(self) -> bool:
        """Leave the filter out when it would list too many rows to choose from."""
        return not self.too_many and super().has_output()


MAX_FILTER_CHOICES = 500


def _has_publisher(model: type[models.Model]) -> bool:
    return any(f.name == "publisher" for f in model._meta.get_fields())


class BoundedSearchMixin:
    """Answer an over-long admin search with a message instead of a query.

    A search of many words becomes one condition per word and field: SQLite refuses the
    expression tree past a depth of 1,000 and PostgreSQL spends time on it for nothing.
    """

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        """Search as Django does, unless the term is longer than any searchable field."""
        if len(search_term) > MAX_SEARCH_LENGTH:
            self.message_user(request, SEARCH_TOO_LONG, messages.WARNING)
            return queryset.none(), False
        return super().get_search_results(request, queryset, search_term)


class CheckedAutocompleteSelect(AutocompleteSelect):
    """Django's autocomplete widget, showing only chosen values that are ids.

    Showing a form posted with `publisher=²` again made Django query `pk__in=["²"]`: a 500.
    """

    def optgroups(
        self, name: str, value: list[str], attr: dict[str, Any] | None = None
    ) -> list[Any]:
        """Leave out the chosen values that are no id (the field reports them as invalid)."""
        ids = [v for v in value if id_or_none(str(v)) is not None]
        return super().optgroups(name, ids, attr)


class ActionIdsMixin:
    """Run an admin action only on the chosen rows whose ids parse (`fulfillment.ids`).

    Django hands the posted `_selected_action` values to `pk__in` as they are: "²" or a
    20-digit number answered 500. Rows whose key is not a whole number (DRF's tokens) are left
    to Django.
    """

    def response_action(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        """Drop the chosen values that are no id, then let Django run the action."""
        if isinstance(self.model._meta.pk, models.IntegerField):  # type: ignore[attr-defined]
            chosen = request.POST.getlist(ACTION_CHECKBOX_NAME)
            kept = [str(pk) for pk in ids_from_values(chosen)]
            if kept != chosen:
                posted = request.POST.copy()
                posted.setlist(ACTION_CHECKBOX_NAME, kept)
                request.POST = posted  # Django then says "Items must be selected…" when empty
        return super().response_action(request, queryset)  # type: ignore[misc]


class ProductAdminMixin(ActionIdsMixin, BoundedSearchMixin):
    """What every admin class of the site gets: checked action ids and the search bound."""


def bound_every_search(site: admin.AdminSite) -> None:
    """Give every admin class registered on `site` (Django's, DRF's, Axes') the search bound
    and the action-id check."""
    # The registry has no public iterator; this runs once, at import, after every app's admin.
    for model, model_admin in list(site._registry.items()):
        if isinstance(model_admin, ProductAdminMixin):
            continue
        bounded = type(
            f"Bounded{type(model_admin).__name__}", (ProductAdminMixin, type(model_admin)), {}
        )
        site.unregister(model)
        site.register(model, bounded)


class PublisherScopedAdmin(ProductAdminMixin, admin.ModelAdmin):
    """Base of every publisher-facing admin class: staff see all, publishers their own rows.

    `staff_only_columns` and `staff_only_filters` name list columns and filters that only
    TrepStar staff see (typically the publisher, which a publisher's people know already).
    """

    staff_only_columns: tuple[str, ...] = ()
    staff_only_filters: tuple[str, ...] = ()
    list_per_page = 50
    # What an empty list says instead of "0 objects" (templates/admin/fulfillment/change_list.html).
    empty_text = "Nothing here yet."
    empty_link_text = ""  # a link to the account page under `empty_text`, when it helps

    def check(self, **kwargs: Any) -> list[checks.CheckMessage]:
        """Add to Django's admin checks: every staff-only name is a column or filter here.

        A staff-only name that matches nothing hides nothing, and publishers then see the
        column it was meant to hide (issue 8, finding 17).
        """
        errors = super().check(**kwargs)
        columns = set(self.list_display)
        filters = {_filter_name(f) for f in self.list_filter}
        for name in set(self.staff_only_columns) - columns:
            errors.append(_staff_only_error(self, "staff_only_columns", name, "E201"))
        for name in set(self.staff_only_filters) - filters:
            errors.append(_staff_only_error(self, "staff_only_filters", name, "E202"))
        return errors

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        """Return only the rows the user may see (`for_user`)."""
        return super().get_queryset(request).for_user(request.user)

    def get_object(
        self, request: HttpRequest, object_id: str, from_field: str | None = None
    ) -> models.Model:
        """Return the object, or answer 404 when it is out of scope or absent.

        Django's admin redirects to the index for a missing object; a 404 says nothing about
        whether another publisher's object exists.
        """
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404(NOT_FOUND)
        return obj

    def in_scope(self, request: HttpRequest, obj: models.Model | None) -> bool:
        """Tell whether `obj` (or the model as a whole, when None) is within the user's scope."""
        if obj is None or is_staff_request(request):
            return True
        return owner_id(obj) in user_publisher_ids(request)

    def has_view_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        """Allow viewing with the model permission, and only within scope."""
        return super().has_view_permission(request, obj) and self.in_scope(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        """Allow changing with the model permission, and only within scope."""
        return super().has_change_permission(request, obj) and self.in_scope(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        """Allow deleting with the model permission, and only within scope."""
        return super().has_delete_permission(request, obj) and self.in_scope(request, obj)

    def formfield_for_foreignkey(
        self, db_field: models.ForeignKey, request: HttpRequest, **kwargs: Any
    ) -> Field | None:
        """Offer only the user's own related objects as choices (and accept only those)."""
        scoped = scoped_queryset(db_field.related_model, request)
        if scoped is not None and "queryset" not in kwargs:
            kwargs["queryset"] = scoped
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            using = kwargs.get("using")
            kwargs["widget"] = CheckedAutocompleteSelect(db_field, self.admin_site, using=using)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(
        self, db_field: models.ManyToManyField, request: HttpRequest, **kwargs: Any
    ) -> Field | None:
        """Offer only the user's own related objects in many-to-many choices."""
        scoped = scoped_queryset(db_field.related_model, request)
        if scoped is not None and "queryset" not in kwargs:
            kwargs["queryset"] = scoped
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_list_display(self, request: HttpRequest) -> tuple[str, ...]:
        """Hide staff-only columns from publishers."""
        columns = super().get_list_display(request)
        if is_staff_request(request):
            return tuple(columns)
        return tuple(c for c in columns if c not in self.staff_only_columns)

    def get_list_filter(self, request: HttpRequest) -> tuple[Any, ...]:
        """Hide staff-only filters from publishers."""
        filters = super().get_list_filter(request)
        if is_staff_request(request):
            return tuple(filters)
        return tuple(f for f in filters if _filter_name(f) not in self.staff_only_filters)


def _staff_only_error(
    model_admin: admin.ModelAdmin, attribute: str, name: str, code: str
) -> checks.Error:
    """Return the check error for a staff-only name that is not in the list."""
    where = "list_display" if attribute == "staff_only_columns" else "list_filter"
    return checks.Error(
        f"{type(model_admin).__name__}.{attribute} names {name!r}, which is not in {where}: "
        "publishers would see what it was meant to hide.",
        obj=type(model_admin),
        id=f"fulfillment.{code}",
    )


def _filter_name(spec: Any) -> str:
    """Return the field name of a list_filter entry (a name or a (name, class) pair)."""
    return spec[0] if isinstance(spec, tuple) else str(spec)


class ReadOnlyAdminMixin:
    """Make an admin class view-only: rows are written by services, never by forms."""

    def has_add_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        """Add nothing through the admin."""
        return False

    def has_change_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        """Change nothing through the admin."""
        return False

    def has_delete_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        """Delete nothing through the admin."""
        return False
