"""Deleting hold orders from the admin: a confirmation page first, then the service.

One order (the order page's button) or many (the list's action) take the same path: the
action shows which orders (boxes, SPEC §18) will be deleted, with their items, and which
skipped, and only the confirming POST (`confirmed=yes`) deletes them through
`services.orders.order_delete`: a box goes whole.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import messages
from django.template.response import TemplateResponse
from django.urls import reverse

from fulfillment.models import Order, OrderStatus
from fulfillment.services.errors import ServiceError
from fulfillment.services.orders import order_delete
from fulfillment.services.wording import items_summary, order_numbers

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin
    from django.db.models import QuerySet
    from django.http import HttpRequest

CONFIRM_TEMPLATE = "admin/fulfillment/order/delete_confirm.html"
CONFIRMED = "confirmed"
TITLE = "Delete these orders on hold?"


def orders_delete_action(
    model_admin: ModelAdmin, request: HttpRequest, queryset: QuerySet[Order]
) -> TemplateResponse | None:
    """Ask first; on the confirming POST delete the hold orders and say what happened."""
    boxes = Order.objects.filter(pk__in=queryset.values("pk")).with_lines()
    orders = list(boxes.order_by("created_at", "id"))
    if request.POST.get(CONFIRMED) != "yes":
        return _confirmation_page(model_admin, request, orders)
    deleted: list[Order] = []
    refused: list[str] = []
    for order in orders:
        try:
            order_delete(order=order, actor=request.user)
        except ServiceError as error:
            refused.append(str(error))
        else:
            deleted.append(order)  # the prefetched box: its items name it below
    if deleted:
        text = (
            f"Deleted order {order_numbers(deleted)} ({items_summary(deleted[0].active_lines())}"
            "): it will not be made, and a SamCart resend will not bring it back."
            if len(deleted) == 1
            else f"Deleted orders {order_numbers(deleted)}: they will not be made, and a "
            "SamCart resend will not bring them back."
        )
        model_admin.message_user(request, text, messages.SUCCESS)
    if refused:
        model_admin.message_user(request, " ".join(refused), messages.WARNING)
    return None


def _confirmation_page(
    model_admin: ModelAdmin, request: HttpRequest, orders: list[Order]
) -> TemplateResponse:
    """List the orders that will be deleted and those that will be skipped, with why."""
    for order in orders:
        order.items_text = items_summary(order.active_lines())  # type: ignore[attr-defined]
    deletable = [o for o in orders if o.status == OrderStatus.HOLD]
    skipped = [o for o in orders if o.status != OrderStatus.HOLD]
    context = {
        **model_admin.admin_site.each_context(request),
        "title": TITLE,
        "opts": model_admin.opts,
        "deletable": deletable,
        "skipped": skipped,
        "confirmed_field": CONFIRMED,
        "changelist_url": reverse("admin:fulfillment_order_changelist"),
        "cancel_url": request.META.get("HTTP_REFERER") or "",
    }
    return TemplateResponse(request, CONFIRM_TEMPLATE, context)
