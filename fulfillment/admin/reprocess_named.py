"""The page that offers to reprocess chosen notifications (after an eCommerceIDString fix).

Saving a project whose SamCart ids were named by `no_match` notifications links here with
`?ids=…`; the page lists them (scoped to the login, like every admin read) and its button posts
the list's own *reprocess* action, so the permission, the scoping and the confirmation of a
remapped line are the action's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from fulfillment.ids import ids_from_list
from fulfillment.models import REPROCESSABLE_OUTCOMES

if TYPE_CHECKING:
    from collections.abc import Iterable

    from django.contrib.admin import ModelAdmin
    from django.http import HttpRequest

    from fulfillment.models import Notification

TEMPLATE = "admin/fulfillment/notification/reprocess_named.html"
MAX_IDS = 500
OFFER = (
    "{count} notification{s} named SamCart product {label} {ids} and matched no project then: "
    '<a href="{url}" id="reprocess-offer">reprocess {them} now?</a>'
)


def reprocess_offer(notifications: list[Notification], product_ids: Iterable[str]) -> str:
    """Return the message offering to reprocess `notifications` (safe HTML), or ""."""
    if not notifications:
        return ""
    ids = ",".join(str(n.pk) for n in notifications)
    url = f"{reverse('admin:fulfillment_notification_reprocess_named')}?ids={ids}"
    count = len(notifications)
    return format_html(
        OFFER,
        count=count,
        s="" if count == 1 else "s",
        label="IDs" if len(set(product_ids)) > 1 else "ID",
        ids=", ".join(sorted(product_ids)),
        url=url,
        them="it" if count == 1 else "them",
    )


def _ids(raw: str) -> list[int]:
    """Return the whole numbers of a comma-separated `ids` parameter (others are ignored)."""
    return ids_from_list(raw, limit=MAX_IDS)


def reprocess_named_view(model_admin: ModelAdmin, request: HttpRequest) -> TemplateResponse:
    """List the chosen notifications the login may see and offer to reprocess them."""
    visible = model_admin.get_queryset(request).filter(pk__in=_ids(request.GET.get("ids", "")))
    notifications = list(visible.defer("raw_body").order_by("received_at", "id"))
    ready = [n for n in notifications if n.outcome in REPROCESSABLE_OUTCOMES]
    done = [n for n in notifications if n.outcome not in REPROCESSABLE_OUTCOMES]
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "Reprocess these notifications?",
        "opts": model_admin.opts,
        "ready": ready,
        "done": done,
        "can_reprocess": model_admin.has_reprocess_permission(request),
        "changelist_url": reverse("admin:fulfillment_notification_changelist"),
    }
    return TemplateResponse(request, TEMPLATE, context)
