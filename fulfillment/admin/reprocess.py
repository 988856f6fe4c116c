"""Reprocessing notifications from the admin, with a confirmation when a line moved projects.

`notification_reprocess` refuses (409, `remapped_orders` and `remapped_lines`: the existing
boxes and lines) to create a line for a SamCart product that already has one in another
project (the product was re-mapped since): that would print and charge the same purchase
twice. The person then sees the existing lines, each in its box, and may confirm with "Create
anyway", which calls the service again with `allow_remapped=True`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.contrib import messages
from django.template.response import TemplateResponse
from django.urls import reverse

from fulfillment.models import Notification, OrderLine, Outcome
from fulfillment.services.notifications import NotifyAnswer
from fulfillment.services.reprocess import (
    notification_publisher_may_reprocess,
    notification_reprocess,
)

from .base import is_staff_request

if TYPE_CHECKING:
    from collections.abc import Iterable

    from django.contrib.admin import ModelAdmin
    from django.http import HttpRequest

ALLOW_REMAPPED = "allow_remapped"
CONFIRM_TEMPLATE = "admin/fulfillment/notification/reprocess_confirm.html"
NOT_YOURS_TO_REPROCESS = (
    "Notification #{pk} is “{outcome}”: you can reprocess notifications whose outcome is "
    "“no project matched” or “error” (after fixing a project's eCommerceIDString), and "
    "stuck ones (stored but never processed)."
)
CONFIRM_TITLE = "Create orders for SamCart lines that already have one?"


def may_reprocess(request: HttpRequest, notification: Notification) -> bool:
    """Tell whether the user may reprocess it: staff any; publishers no_match, error, stuck."""
    return is_staff_request(request) or notification_publisher_may_reprocess(
        notification=notification
    )


@dataclass(frozen=True)
class Remapped:
    """A notification whose reprocessing waits for confirmation, and the existing lines it
    names (each with its box and project)."""

    notification: Notification
    detail: str
    lines: list[OrderLine]


def reprocess_all(
    model_admin: ModelAdmin, request: HttpRequest, notifications: Iterable[Notification]
) -> list[Remapped]:
    """Reprocess each notification the user may; return those that need a confirmation.

    `allow_remapped=1` in the POST is the "Create anyway" of the confirmation page.
    """
    allow = request.POST.get(ALLOW_REMAPPED) == "1"
    waiting: list[Remapped] = []
    for notification in notifications:
        if not may_reprocess(request, notification):
            outcome = notification.get_outcome_display()
            text = NOT_YOURS_TO_REPROCESS.format(pk=notification.pk, outcome=outcome)
            model_admin.message_user(request, text, messages.WARNING)
            continue
        answer = notification_reprocess(notification=notification, allow_remapped=allow)
        if answer.remapped_orders:
            waiting.append(_remapped(request, notification, answer))
            continue
        _report(model_admin, request, notification, answer)
    return waiting


def _report(
    model_admin: ModelAdmin, request: HttpRequest, notification: Notification, answer: NotifyAnswer
) -> None:
    """Tell the user what reprocessing one notification did."""
    label = Outcome(answer.outcome).label if answer.outcome in Outcome.values else "—"
    level = messages.SUCCESS if answer.status < 300 else messages.WARNING
    model_admin.message_user(
        request, f"Notification #{notification.pk}: {label}. {answer.detail}", level
    )


def _remapped(request: HttpRequest, notification: Notification, answer: NotifyAnswer) -> Remapped:
    """Gather the existing lines named by a refusal, as the user may see them."""
    lines = (
        OrderLine.objects.for_user(request.user)
        .filter(pk__in=answer.remapped_lines)
        .select_related("project", "order")
        .order_by("id")
    )
    return Remapped(notification=notification, detail=answer.detail, lines=list(lines))


def confirmation_page(
    model_admin: ModelAdmin,
    request: HttpRequest,
    waiting: list[Remapped],
    *,
    form_action: str,
    cancel_url: str,
    as_action: bool,
) -> TemplateResponse:
    """Show the existing orders and a "Create anyway" button that reprocesses with consent."""
    context = {
        **model_admin.admin_site.each_context(request),
        "title": CONFIRM_TITLE,
        "opts": model_admin.opts,
        "waiting": waiting,
        "form_action": form_action,
        "cancel_url": cancel_url,
        "as_action": as_action,
        "allow_field": ALLOW_REMAPPED,
        "changelist_url": reverse("admin:fulfillment_notification_changelist"),
    }
    return TemplateResponse(request, CONFIRM_TEMPLATE, context)
