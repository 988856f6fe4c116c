"""Releasing chosen hold orders from the order list: a confirmation page first.

The list's *Release selected orders* action shows, per publisher, the boxes the one queue rule
would charge now (with their items and costs), the total and the balance after, and the boxes
that would stay on hold with why; only the confirming POST (`confirmed=yes`) charges, and only
the boxes that page named. The order page's own *Release this order* and the *Release it* offer
name one order with its cost on its page, so they post the confirmation directly.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from django.contrib import messages
from django.template.response import TemplateResponse
from django.urls import reverse

from fulfillment.account import RELEASE_CONFIRM_TEMPLATE, RELEASE_CONFIRMED, release_section
from fulfillment.models import Publisher
from fulfillment.services.release import orders_release, orders_release_preview
from fulfillment.services.wording import QUEUE_RULE

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin
    from django.db.models import QuerySet
    from django.http import HttpRequest

    from fulfillment.models import Order


def orders_release_action(
    model_admin: ModelAdmin, request: HttpRequest, queryset: QuerySet[Order]
) -> TemplateResponse | None:
    """Ask first; on the confirming POST charge the chosen boxes oldest first by the queue rule
    (a person chose them: that confirms orders on hold `review`) and say what happened."""
    ids_by_publisher: dict[int, list[int]] = defaultdict(list)
    for pk, publisher_id in queryset.values_list("pk", "publisher_id"):
        ids_by_publisher[publisher_id].append(pk)
    publishers = list(Publisher.objects.filter(pk__in=ids_by_publisher).order_by("name"))
    if request.POST.get(RELEASE_CONFIRMED) != "yes":
        return _confirmation_page(model_admin, request, publishers, ids_by_publisher)
    for publisher in publishers:
        result = orders_release(
            publisher=publisher,
            order_ids=ids_by_publisher[publisher.pk],
            actor=request.user,
            reviewed=True,  # chosen one by one: confirms orders the SamCart check found
        )
        prefix = f"{publisher.name}: " if len(publishers) > 1 else ""
        level = messages.WARNING if result.kept else messages.SUCCESS
        model_admin.message_user(request, prefix + result.message, level)
    return None


def _confirmation_page(
    model_admin: ModelAdmin,
    request: HttpRequest,
    publishers: list[Publisher],
    ids_by_publisher: dict[int, list[int]],
) -> TemplateResponse:
    """Show what the release would charge and keep, per publisher; charge nothing."""
    sections = []
    charged: list[int] = []
    for number, publisher in enumerate(publishers):
        preview = orders_release_preview(
            publisher=publisher, order_ids=ids_by_publisher[publisher.pk], reviewed=True
        )
        name = publisher.name if len(publishers) > 1 else ""
        sections.append(release_section(preview, name=name, suffix=f"-{number}" if name else ""))
        charged += [order.pk for order, _cost in preview.charge]
    changelist = reverse("admin:fulfillment_order_changelist")
    hidden = [("action", "release_orders"), ("index", 0)]
    hidden += [("_selected_action", pk) for pk in charged]
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "Release these orders on hold?",
        "opts": model_admin.opts,
        "sections": sections,
        "charge": [row for section in sections for row in section["charge"]],
        "any_charge": bool(charged),
        "queue_rule": QUEUE_RULE,
        "confirmed_field": RELEASE_CONFIRMED,
        "form_action": changelist,
        "hidden": hidden,
        "cancel_url": request.META.get("HTTP_REFERER") or changelist,
        "back_title": "Orders",
    }
    return TemplateResponse(request, RELEASE_CONFIRM_TEMPLATE, context)
