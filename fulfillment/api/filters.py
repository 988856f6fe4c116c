"""Validated query-string filters of the API lists (django-filter, SPEC §10, §16).

Every filter value is checked before it reaches the database: an unknown status, a project id
that is not a number, a value of the wrong kind answers 400 naming what is allowed, never 500.
The filtersets also document the filters in the OpenAPI schema (drf-spectacular reads them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import django_filters
from django.db.models import Exists, OuterRef, Q, QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema_field

from fulfillment.models import (
    FoundBy,
    HoldReason,
    Notification,
    Order,
    OrderLine,
    OrderStatus,
    Outcome,
    Project,
)

if TYPE_CHECKING:
    from django.db.models import TextChoices
    from rest_framework.request import Request
    from rest_framework.views import APIView

ID_MAX_LENGTH = 64  # SamCart ids and event types are stored in at most 64 characters
ERROR_PROJECT = "Enter the id of one of your projects (a whole number)."
ERROR_BOOLEAN = "Enter true or false."
PROJECT_HELP = "Orders with a line of this project (its id), removed lines included."


def allowed(choices: type[TextChoices]) -> tuple[tuple[str, str], ...]:
    """Return the non-empty values of `choices` as (value, label) pairs."""
    return tuple((value, label) for value, label in choices.choices if value)


def choice_filter(choices: type[TextChoices], help_text: str) -> django_filters.ChoiceFilter:
    """Return an exact filter on one of `choices`; another value's error names the allowed ones.

    The API takes the codes (`hold`); the admin shows their labels ("on hold"), so the help
    text and the error give both: "hold (on hold), in_production (in production)…".
    """
    values = ", ".join(
        value if value == label else f"{value} ({label})" for value, label in allowed(choices)
    )
    return django_filters.ChoiceFilter(
        choices=allowed(choices),
        help_text=f"{help_text} One of: {values}.",
        error_messages={"invalid_choice": f"“%(value)s” is not allowed; use one of: {values}."},
    )


def id_filter(field_name: str, help_text: str) -> django_filters.CharFilter:
    """Return an exact filter on a SamCart id (text, at most 64 characters)."""
    return django_filters.CharFilter(
        field_name=field_name, max_length=ID_MAX_LENGTH, help_text=help_text
    )


def boolean_filter(help_text: str, **kwargs: Any) -> django_filters.TypedChoiceFilter:
    """Return a filter taking `true` or `false`; any other value answers 400."""
    return django_filters.TypedChoiceFilter(
        choices=(("true", "true"), ("false", "false")),
        coerce=lambda value: value == "true",
        help_text=help_text,
        error_messages={"invalid_choice": ERROR_BOOLEAN},
        **kwargs,
    )


def caller_projects(request: Request | None) -> QuerySet[Project]:
    """Return the projects the caller may see (the only valid `project` values)."""
    if request is None:
        return Project.objects.none()
    return Project.objects.for_user(request.user)


def with_line(**match: Any) -> Exists:
    """Return "the box has a line matching `match`" (removed lines too, as the admin's filter).

    A subquery, not a join: a box with two matching lines is one row, so counts and pages
    stay right without DISTINCT (SPEC §18: a box is found by any of its lines).
    """
    return Exists(OrderLine.objects.filter(order=OuterRef("pk"), **match))


class OrderFilter(django_filters.FilterSet):
    """Filters of `GET /api/v1/orders/`; `project` and `external_product_id` find a box by any
    of its lines."""

    status = choice_filter(OrderStatus, "Orders in this status.")
    hold_reason = choice_filter(HoldReason, "Orders on hold for this reason.")
    found_by = choice_filter(
        FoundBy, "Orders TrepStar learnt of this way (the SamCart check makes missed sales)."
    )
    project = django_filters.ModelChoiceFilter(
        queryset=caller_projects,
        method="filter_project",
        help_text=PROJECT_HELP,
        error_messages={"invalid_choice": ERROR_PROJECT, "invalid_pk_value": ERROR_PROJECT},
    )
    external_order_id = id_filter("external_order_id", "Orders of this SamCart order id.")
    external_product_id = django_filters.CharFilter(
        method="filter_external_product_id",
        max_length=ID_MAX_LENGTH,
        help_text="Orders with a line of this SamCart product id, removed lines included.",
    )
    is_test = boolean_filter("Test orders (true) or real ones (false).")
    q = django_filters.CharFilter(
        method="search",
        max_length=200,
        help_text="Search: customer name or e-mail (contains), SamCart order id, or the SamCart "
        "product id of any of the order's lines.",
    )

    class Meta:
        model = Order
        fields = (
            "status",
            "hold_reason",
            "found_by",
            "external_order_id",
        )

    @extend_schema_field(
        {"type": "integer", "description": PROJECT_HELP}  # the schema of an id, not the title
    )
    def filter_project(
        self, queryset: QuerySet[Order], name: str, value: Project | None
    ) -> QuerySet[Order]:
        """Keep the boxes with a line of the project `value` (one of the caller's)."""
        if value is None:
            return queryset
        return queryset.filter(with_line(project=value))

    def filter_external_product_id(
        self, queryset: QuerySet[Order], name: str, value: str
    ) -> QuerySet[Order]:
        """Keep the boxes with a line of the SamCart product id `value`."""
        if not value:
            return queryset
        return queryset.filter(with_line(external_product_id=value))

    def search(self, queryset: QuerySet[Order], name: str, value: str) -> QuerySet[Order]:
        """Match the customer's name or e-mail, the SamCart order id, or the SamCart product
        id of any line."""
        return queryset.filter(
            Q(ship_name__icontains=value)
            | Q(customer_email__icontains=value)
            | Q(external_order_id=value)
            | with_line(external_product_id=value)
        )


class NotificationFilter(django_filters.FilterSet):
    """Filters of `GET /api/v1/notifications/`."""

    outcome = choice_filter(Outcome, "Notifications with this outcome.")
    event_type = django_filters.CharFilter(
        max_length=ID_MAX_LENGTH, help_text="Notifications of this SamCart type (Order, Refund…)."
    )
    external_order_id = id_filter("external_order_id", "Notifications of this SamCart order id.")
    refused = boolean_filter(
        "Only requests refused for a wrong or missing key (true), or only the others (false).",
        method="filter_refused",
    )

    class Meta:
        model = Notification
        fields = ("outcome", "event_type", "external_order_id")

    def filter_refused(
        self, queryset: QuerySet[Notification], name: str, value: bool | None
    ) -> QuerySet[Notification]:
        """Keep the key-refused requests (true) or the accepted notifications (false)."""
        if value is None:
            return queryset
        return queryset.key_refused() if value else queryset.accepted()


class FilterBackend(DjangoFilterBackend):
    """django-filter's backend without the browsable API's HTML form (no template app)."""

    def to_html(self, request: Request, queryset: QuerySet, view: APIView) -> None:
        """Render no filter form in the browsable API."""
        return None
