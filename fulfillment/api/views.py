"""API views: one class per operation, each scoped with `for_user`, writes through services."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from fulfillment.models import Notification, Order, OrderLine, Project, Publisher
from fulfillment.services.errors import ServiceError
from fulfillment.services.lines import order_line_remove, order_line_update
from fulfillment.services.orders import order_remove, order_update
from fulfillment.services.projects import project_update
from fulfillment.services.refunds import refunded_total_expression
from fulfillment.services.release import orders_release

from .filters import FilterBackend, NotificationFilter, OrderFilter
from .permissions import AdminLogin, AdminModelPermissions
from .serializers import (
    NotificationSerializer,
    OrderLineUpdateSerializer,
    OrderSerializer,
    ProjectSerializer,
    ReleaseResultSerializer,
    ReleaseSerializer,
)


class ApiRoot(APIView):
    """The API's entry point: links to each list, the schema and the docs."""

    permission_classes = (AdminLogin,)

    @extend_schema(exclude=True)
    def get(self, request: Request, format: str | None = None) -> Response:
        """Return the links (the browsable API shows them as a page)."""
        return Response(
            {
                name: reverse(url_name, request=request, format=format)
                for name, url_name in (
                    ("orders", "api-orders"),
                    ("projects", "api-projects"),
                    ("notifications", "api-notifications"),
                    ("schema", "api-schema"),
                    ("docs", "api-docs"),
                )
            }
        )


class ScopedView:
    """What every API view shares: the admin's permissions, the caller's rows only."""

    permission_classes = (AdminModelPermissions,)
    filter_backends = (FilterBackend,)


def service_error(error: ServiceError | DjangoValidationError) -> ValidationError:
    """Return the 400 of a refused service call: `detail` for a rule, field errors for values."""
    if isinstance(error, ServiceError):
        return ValidationError({"detail": str(error)})
    detail = error.message_dict if hasattr(error, "error_dict") else error.messages
    return ValidationError(detail)


def orders_shown(request: Request) -> QuerySet[Order]:
    """Return the caller's boxes with what the serializer reads prefetched: the lines with
    their projects, the events with their actors (queries per page stay flat in its size)."""
    orders = Order.objects.for_user(request.user).with_lines().with_purchase_received()
    orders = orders.annotate(refunded_total=refunded_total_expression())  # `status_display`
    return orders.prefetch_related("events__actor")


class OrderList(ScopedView, generics.ListAPIView):
    """List orders (boxes, with their lines); filter by status, hold_reason, found_by, project,
    SamCart ids, is_test; search with q."""

    serializer_class = OrderSerializer
    filterset_class = OrderFilter

    def get_queryset(self) -> QuerySet[Order]:
        """Return the caller's orders (filters are applied by `OrderFilter`)."""
        return orders_shown(self.request)


class OrderDetail(ScopedView, generics.RetrieveUpdateDestroyAPIView):
    """Retrieve an order (a box, with its lines); change its customer and shipping fields on
    hold or scheduled; delete it on hold, cancel it (refund) while scheduled. Its lines change
    at `orders/{id}/lines/{line_id}/`."""

    serializer_class = OrderSerializer

    def get_queryset(self) -> QuerySet[Order]:
        """Scope to the caller."""
        return orders_shown(self.request)

    def perform_update(self, serializer: OrderSerializer) -> None:
        """Apply the change through `order_update` (hold orders only; recomputes the cost)."""
        try:
            serializer.instance = order_update(
                order=serializer.instance, actor=self.request.user, **serializer.validated_data
            )
        except (ServiceError, DjangoValidationError) as error:
            raise service_error(error) from error

    def perform_destroy(self, instance: Order) -> None:
        """Delete a hold order, or cancel a scheduled one in its window with its refund:
        `order_remove` decides under the locks; status `deleted` either way, never a hard
        delete."""
        try:
            order_remove(order=instance, actor=self.request.user)
        except ServiceError as error:
            raise service_error(error) from error


class OrderLineDetail(ScopedView, generics.GenericAPIView):
    """Change a line of a box on hold (SPEC §18): PATCH its quantity, DELETE to remove it.

    Both answer the whole order, priced again. A removed line stays listed (`removed`), so
    SamCart resending it creates nothing; the last line is not removed (delete the order).
    Both are changes of the order: they need `change_order`, as editing it in the admin does.
    """

    permission_action = "change"
    serializer_class = OrderLineUpdateSerializer

    def get_queryset(self) -> QuerySet[Order]:
        """Scope to the caller (also tells the permission check the model: Order)."""
        return orders_shown(self.request)

    def get_line(self) -> OrderLine:
        """Return the line of the URL, in the caller's order of the URL; else 404."""
        lines = OrderLine.objects.for_user(self.request.user).select_related("project")
        return get_object_or_404(lines, pk=self.kwargs["line_id"], order_id=self.kwargs["pk"])

    def answer(self, line: OrderLine) -> Response:
        """Return the line's order as the order endpoints show it."""
        order = self.get_queryset().get(pk=line.order_id)
        return Response(OrderSerializer(order, context=self.get_serializer_context()).data)

    @extend_schema(request=OrderLineUpdateSerializer, responses=OrderSerializer)
    def patch(self, request: Request, pk: int, line_id: int) -> Response:
        """Set the line's quantity (a whole number from 1 to 10,000)."""
        line = self.get_line()
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            line = order_line_update(
                line=line, quantity=serializer.validated_data["quantity"], actor=request.user
            )
        except (ServiceError, DjangoValidationError) as error:
            raise service_error(error) from error
        return self.answer(line)

    @extend_schema(request=None, responses={200: OrderSerializer})
    def delete(self, request: Request, pk: int, line_id: int) -> Response:
        """Remove the line from its box."""
        line = self.get_line()
        try:
            line = order_line_remove(line=line, actor=request.user)
        except (ServiceError, DjangoValidationError) as error:
            raise service_error(error) from error
        return self.answer(line)


class OrderRelease(ScopedView, APIView):
    """Release hold orders, oldest first while the balance covers each (SPEC §7).

    Release spends the publisher's balance: it needs `change_order`, like the admin's action.
    """

    permission_action = "change"

    def get_queryset(self) -> QuerySet[Order]:
        """Scope to the caller (also tells the permission check the model: Order)."""
        return Order.objects.for_user(self.request.user)

    @extend_schema(request=ReleaseSerializer, responses=ReleaseResultSerializer)
    def post(self, request: Request) -> Response:
        """Release the given ids of the caller's orders, per publisher."""
        serializer = ReleaseSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        visible = self.get_queryset().filter(pk__in=serializer.validated_data["ids"])
        by_publisher: dict[int, list[int]] = defaultdict(list)
        for order_id, publisher_id in visible.values_list("pk", "publisher_id"):
            by_publisher[publisher_id].append(order_id)
        released: list[int] = []
        kept: list[dict[str, Any]] = []
        messages: list[str] = []
        for publisher in Publisher.objects.filter(pk__in=by_publisher):
            result = orders_release(
                publisher=publisher,
                order_ids=by_publisher[publisher.pk],
                actor=request.user,
                reviewed=True,  # named ids: confirms orders the SamCart check found
            )
            released += [o.pk for o in result.released]
            kept += [{"id": o.pk, "reason": why} for o, why in result.kept]
            messages.append(result.message)
        body = {
            "released": released,
            "kept": kept,
            "message": " ".join(messages) or "No order to release.",
        }
        return Response(body, status=status.HTTP_200_OK)


class ProjectList(ScopedView, generics.ListAPIView):
    """List the caller's projects."""

    serializer_class = ProjectSerializer

    def get_queryset(self) -> QuerySet[Project]:
        """Scope to the caller."""
        return Project.objects.for_user(self.request.user)


class ProjectDetail(ScopedView, generics.RetrieveUpdateAPIView):
    """Retrieve a project; change its eCommerceIDString (validated like the admin)."""

    serializer_class = ProjectSerializer

    def get_queryset(self) -> QuerySet[Project]:
        """Scope to the caller."""
        return Project.objects.for_user(self.request.user)

    def perform_update(self, serializer: ProjectSerializer) -> None:
        """Save through `project_update`, which re-indexes the SamCart ids."""
        serializer.instance = project_update(
            project=serializer.instance, actor=self.request.user, **serializer.validated_data
        )


class NotificationList(ScopedView, generics.ListAPIView):
    """List the caller's notifications, newest first; filter by outcome, type, order id."""

    serializer_class = NotificationSerializer
    filterset_class = NotificationFilter

    def get_queryset(self) -> QuerySet[Notification]:
        """Scope to the caller (filters are applied by `NotificationFilter`)."""
        return Notification.objects.for_user(self.request.user).prefetch_related("orders")


class NotificationDetail(ScopedView, generics.RetrieveAPIView):
    """Retrieve one of the caller's notifications."""

    serializer_class = NotificationSerializer

    def get_queryset(self) -> QuerySet[Notification]:
        """Scope to the caller."""
        return Notification.objects.for_user(self.request.user).prefetch_related("orders")
