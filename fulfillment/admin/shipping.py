"""The staff page that marks orders in production as shipped, with tracking numbers and the
carrier (the buyer's shipping e-mail links to the carrier's tracking page, issue 20 #22).

An order is one box (SPEC §18): one parcel, one tracking number; the page lists its items.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from fulfillment.ids import ids_from_list, ids_from_values
from fulfillment.models import Carrier, Order, OrderStatus
from fulfillment.services.errors import ServiceError
from fulfillment.services.orders import order_ship
from fulfillment.services.refunds import ship_flags
from fulfillment.services.wording import items_summary

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin
    from django.http import HttpRequest, HttpResponse

MAX_TRACKING = Order._meta.get_field("tracking_number").max_length
NOTHING_TO_SHIP = "None of the chosen orders is in production, so none can be shipped."


def _chosen_ids(request: HttpRequest) -> list[int]:
    """Return the order ids named by the request (`?ids=1,2` or the posted `order` fields)."""
    posted = request.POST.getlist("order") if request.method == "POST" else []
    return ids_from_values(posted) if posted else ids_from_list(request.GET.get("ids", ""))


def _ship_all(request: HttpRequest, orders: list[Order]) -> None:
    """Ship each order with its tracking number and tell the user what happened."""
    shipped: list[str] = []
    for order in orders:
        tracking = request.POST.get(f"tracking_{order.pk}", "")[:MAX_TRACKING]
        carrier = request.POST.get(f"carrier_{order.pk}", "")
        try:
            order_ship(order=order, actor=request.user, tracking_number=tracking, carrier=carrier)
        except ServiceError as error:
            messages.warning(request, str(error))
            continue
        shipped.append(f"#{order.pk}" + (f" ({tracking.strip()})" if tracking.strip() else ""))
    if shipped:
        messages.success(request, f"Marked as shipped: order {', '.join(shipped)}.")


def ship_view(model_admin: ModelAdmin, request: HttpRequest) -> HttpResponse:
    """Show the chosen orders in production with a tracking-number box each; ship on POST."""
    if not model_admin.has_ship_permission(request):
        raise PermissionDenied
    changelist = reverse("admin:fulfillment_order_changelist")
    orders = list(
        model_admin.get_queryset(request)
        .filter(pk__in=_chosen_ids(request), status=OrderStatus.IN_PRODUCTION)
        .select_related("publisher")
        .order_by("created_at", "id")
    )
    flags = ship_flags(orders)  # refunded in SamCart: not shipped unless ticked (issue 20 #8)
    for order in orders:
        order.items_text = items_summary(order.active_lines())  # type: ignore[attr-defined]
        order.refund_flag = flags.get(order.pk, "")  # type: ignore[attr-defined]
    if not orders:
        messages.warning(request, NOTHING_TO_SHIP)
        return HttpResponseRedirect(changelist)
    if request.method == "POST":
        _ship_all(request, orders)
        return HttpResponseRedirect(changelist)
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "Mark orders as shipped",
        "opts": model_admin.opts,
        "orders": orders,
        "carriers": Carrier.choices,
        "changelist_url": changelist,
    }
    return TemplateResponse(request, "admin/fulfillment/order/ship.html", context)
