"""The account page (SPEC §9): publisher ID, Notify URL, key rotation, balance, hold orders."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin, messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from fulfillment import ecommerce_ids
from fulfillment.models import Publisher, is_trepstar_staff
from fulfillment.selectors import hold_summary, publisher_for_account_page, recent_notifications
from fulfillment.services.money import money, orders_release_all
from fulfillment.services.publishers import PREVIOUS_KEY_GRACE, notify_url, publisher_rotate_key

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse

KEY_ROTATED = (
    "New Notify URL key made. Paste the new URL into SamCart now; the previous one keeps "
    "working for {days} days."
)
RELEASE_PERMISSION = "fulfillment.change_order"


def _account_url(publisher: Publisher, request: HttpRequest) -> str:
    """Return the account page URL, naming the publisher when staff look at one."""
    url = reverse("account")
    return f"{url}?publisher={publisher.idpub}" if is_trepstar_staff(request.user) else url


def _publisher_or_404(request: HttpRequest) -> Publisher:
    """Return the publisher a POST acts for: the user's own, or the one staff named."""
    publisher = publisher_for_account_page(request.user, request.POST.get("publisher", ""))
    if publisher is None:
        raise Http404("No publisher is linked to this login.")
    return publisher


def _publisher_context(request: HttpRequest, publisher: Publisher) -> dict[str, object]:
    """Gather what the page shows about one publisher."""
    hold = hold_summary(publisher)
    return {
        "publisher": publisher,
        "notify_url": notify_url(publisher=publisher),
        "balance": money(publisher.balance),
        "hold": hold,
        "hold_total": money(hold.total),
        "notifications": recent_notifications(publisher, limit=20),
        "can_release": request.user.has_perm(RELEASE_PERMISSION),
        "example_ids": ecommerce_ids.EXAMPLE,
        "grace_days": PREVIOUS_KEY_GRACE.days,
    }


@login_required
@require_GET
def account(request: HttpRequest) -> HttpResponse:
    """Show the account page of the user's publisher (staff: `?publisher=<idpub>`)."""
    publisher = publisher_for_account_page(request.user, request.GET.get("publisher", ""))
    context: dict[str, object] = {
        **admin.site.each_context(request),
        "title": "Account & Notify URL",
        "is_staff_user": is_trepstar_staff(request.user),
    }
    if publisher is None:
        if context["is_staff_user"]:
            context["all_publishers"] = Publisher.objects.order_by("name").only("name", "idpub")
    else:
        context.update(_publisher_context(request, publisher))
    return TemplateResponse(request, "fulfillment/account.html", context)


@login_required
@require_POST
def account_rotate_key(request: HttpRequest) -> HttpResponse:
    """Give the publisher a new Notify URL key; the previous one works for 7 more days."""
    publisher = _publisher_or_404(request)
    publisher_rotate_key(publisher=publisher, actor=request.user)
    messages.success(request, KEY_ROTATED.format(days=PREVIOUS_KEY_GRACE.days))
    return HttpResponseRedirect(_account_url(publisher, request))


@login_required
@require_POST
def account_release_all(request: HttpRequest) -> HttpResponse:
    """Release every order on hold that the balance covers, oldest first."""
    publisher = _publisher_or_404(request)
    if not request.user.has_perm(RELEASE_PERMISSION):
        messages.error(request, "Your login may not release orders.")
        return HttpResponseRedirect(_account_url(publisher, request))
    result = orders_release_all(publisher=publisher, actor=request.user)
    level = messages.WARNING if result.kept else messages.SUCCESS
    messages.add_message(request, level, result.message)
    return HttpResponseRedirect(_account_url(publisher, request))
