"""The account page (SPEC §9): publisher ID, Notify URL, key rotation, balance, hold orders,
and the SamCart check (§17): its API key (write-only, managers), its last run, *Check now*.

It shows the secret Notify URL, so it is never cached (`Cache-Control: no-store, private`).
Rotating the key changes the publisher's settings (`change_publisher`: managers and staff);
*release all* spends the balance (`change_order`). The SamCart API key and *Check now* are the
publisher's settings too (`change_publisher`); only those logins see the key's last 4. A
viewer sees the page read-only, and a POST without the permission answers 403. A POST or GET
naming a publisher the login does not act for answers 404.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseBadRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from fulfillment import ecommerce_ids
from fulfillment.account_form import (
    CLEAR_TEST_ORDERS_PERMISSION,
    MAY_NOT_CHANGE_SETTINGS,
    MAY_NOT_CLEAR_TEST_ORDERS,
    MAY_NOT_SET_SAMCART_KEY,
    MAY_NOT_TEST_SALE,
    SAMCART_KEY_NOT_SAVED,
    SAMCART_KEY_PERMISSION,
    SAMCART_KEY_REMOVED,
    SAMCART_KEY_SAVED,
    SETTINGS_FIELDS,
    SETTINGS_PERMISSION,
    SETTINGS_SAVED,
    TEST_ORDERS_CLEARED,
    TEST_SALE_PERMISSION,
    TEST_SALE_SENT,
    AccountSettingsForm,
    SamcartKeyForm,
    TestSaleForm,
    grouping_text,
)
from fulfillment.ids import id_or_none, idpub_or_none
from fulfillment.models import (
    REPROCESSABLE_OUTCOMES,
    ZERO,
    Order,
    Publisher,
    is_trepstar_staff,
)
from fulfillment.selectors import (
    HoldSummary,
    hold_boxes,
    hold_summary,
    publisher_for_account_page,
    recent_ledger,
    recent_notifications,
    refused_requests,
    samcart_check_card,
    scheduled_orders,
)
from fulfillment.services.alerts import alert_recipients, box_text
from fulfillment.services.errors import ServiceError
from fulfillment.services.pruning import TEST_ORDERS_KEEP, publisher_test_orders_clear
from fulfillment.services.publishers import (
    KEY_MASKED_NOTE,
    PREVIOUS_KEY_GRACE,
    add_funds_text,
    may_see_notify_key,
    notify_url,
    publisher_rotate_key,
    publisher_settings_set,
)
from fulfillment.services.release import ReleasePreview, orders_release, orders_release_preview
from fulfillment.services.samcart_check import samcart_check_enqueue
from fulfillment.services.samcart_keys import publisher_set_samcart_key
from fulfillment.services.test_sale import (
    TestSaleKind,
    mapped_products,
    sale_boxes,
    sale_notification,
    send_test_sale,
)
from fulfillment.services.wording import QUEUE_RULE, items_summary, money, plural

if TYPE_CHECKING:
    from decimal import Decimal

    from django.http import HttpRequest, HttpResponse

KEY_ROTATED = (
    "New Notify URL key made. Paste the new URL into SamCart now; the previous one keeps "
    "working for {days} days."
)
NOT_YOURS = "No publisher with this ID is linked to your login."
NO_PUBLISHER = "No publisher is linked to this login."
MAY_NOT_ROTATE = "Your login may not make a new Notify URL key; ask a manager of your account."
MAY_NOT_RELEASE = "Your login may not release orders; ask a manager of your account."
RELEASE_PERMISSION = "fulfillment.change_order"
REPROCESS_PERMISSION = "fulfillment.change_notification"
ROTATE_KEY_PERMISSION = "fulfillment.change_publisher"
CHECK_NOW_PERMISSION = "fulfillment.change_publisher"
MAY_NOT_CHECK = "Your login may not start a SamCart check; ask a manager of your account."
CHECK_QUEUED = "Check queued: the SamCart check runs within a minute; reload this page to see it."
CHECK_NOT_QUEUED = "No check queued: {reason}"


def _account_url(publisher: Publisher, request: HttpRequest) -> str:
    """Return the account page URL, naming the publisher when staff look at one."""
    url = reverse("account")
    return f"{url}?publisher={publisher.idpub}" if is_trepstar_staff(request.user) else url


def _publisher_or_404(request: HttpRequest, idpub: str) -> Publisher | None:
    """Return the publisher the request names (or the user's own); 404 for another one."""
    if idpub and idpub_or_none(idpub) is None:
        raise Http404(NOT_YOURS)  # no publisher has a malformed ID: no query for it
    publisher = publisher_for_account_page(request.user, idpub)
    if publisher is None and idpub:
        raise Http404(NOT_YOURS)
    return publisher


def _posted_publisher(request: HttpRequest, permission: str, refusal: str) -> Publisher:
    """Return the publisher a POST acts for, after checking the user may do it."""
    publisher = _publisher_or_404(request, request.POST.get("publisher", ""))
    if publisher is None:
        raise Http404(NO_PUBLISHER)
    if not request.user.has_perm(permission):
        raise PermissionDenied(refusal)
    return publisher


def _release_note(hold: HoldSummary, balance: Decimal, can_release: bool) -> tuple[bool, str]:
    """Say whether *release all* is offered and, either way, what it does or why it is not."""
    if not hold.count:
        return False, "No orders on hold."
    if not can_release:
        return False, MAY_NOT_RELEASE
    if not hold.payable:
        return False, (
            f"None of your {hold.count} orders on hold waits only for money: each needs a "
            "complete address, TrepStar's prices or, when the SamCart check found it, your "
            "review first (see them)."
        )
    if hold.cheapest is None or balance <= ZERO or balance < hold.cheapest:
        return False, (
            f"Your balance {money(balance)} covers none of your {hold.payable} order"
            f"{'s' if hold.payable != 1 else ''} waiting for payment ({money(hold.payable_total)})"
            f"; add {money(hold.payable_total - balance)} to release "
            f"{'them all' if hold.payable != 1 else 'it'}."
        )
    return True, QUEUE_RULE


def _publisher_context(request: HttpRequest, publisher: Publisher) -> dict[str, object]:
    """Gather what the page shows about one publisher."""
    hold = hold_summary(publisher)
    can_release = request.user.has_perm(RELEASE_PERMISSION)
    offer_release, release_note = _release_note(hold, publisher.balance, can_release)
    short = publisher.balance <= ZERO or publisher.balance < hold.payable_total
    see_key = may_see_notify_key(request.user)
    return {
        "publisher": publisher,
        "notify_url": notify_url(publisher=publisher, request=request, masked=not see_key),
        "notify_url_whole": see_key,
        "key_masked_note": KEY_MASKED_NOTE,
        "balance": money(publisher.balance),
        "hold": hold,
        "hold_total": money(hold.total),
        "hold_boxes": [
            (order.pk, box_text(order, lines))
            for order, lines in (hold_boxes(publisher) if hold.count else [])
        ],
        "notifications": recent_notifications(publisher, limit=20),
        "refused": refused_requests(publisher),
        "can_release": can_release,
        "offer_release": offer_release,
        "release_note": release_note,
        "add_funds": add_funds_text(publisher=publisher, then="release your orders on hold here")
        if short
        else "",
        "can_reprocess": request.user.has_perm(REPROCESS_PERMISSION),
        "reprocessable": REPROCESSABLE_OUTCOMES,
        "can_rotate": request.user.has_perm(ROTATE_KEY_PERMISSION),
        "example_ids": ecommerce_ids.EXAMPLE,
        "grace_days": PREVIOUS_KEY_GRACE.days,
        "settings_form": AccountSettingsForm(
            instance=publisher, read_only=not request.user.has_perm(SETTINGS_PERMISSION)
        ),
        "scheduled": scheduled_orders(publisher) if hold.scheduled else [],
        "recent_ledger": recent_ledger(publisher, limit=5),
        "can_change_settings": request.user.has_perm(SETTINGS_PERMISSION),
        "samcart": samcart_check_card(publisher),
        "can_set_samcart_key": request.user.has_perm(SAMCART_KEY_PERMISSION),
        "samcart_key_form": SamcartKeyForm(),
        "can_check_now": request.user.has_perm(CHECK_NOW_PERMISSION),
        **_test_sale_context(request, publisher),
    }


def _test_sale_context(request: HttpRequest, publisher: Publisher) -> dict[str, object]:
    """Gather the test-sale card: the choices, and the sale `?test_sale=<id>` names."""
    sale = sale_notification(publisher, id_or_none(request.GET.get("test_sale", "")))
    return {
        "can_test_sale": request.user.has_perm(TEST_SALE_PERMISSION),
        "can_clear_test_orders": request.user.has_perm(CLEAR_TEST_ORDERS_PERMISSION),
        "test_sale_kinds": list(TestSaleKind),
        "test_sale_products": mapped_products(publisher),
        "test_sale": sale,
        "test_sale_boxes": sale_boxes(sale) if sale is not None else [],
        "test_order_count": Order.objects.for_publisher(publisher).filter(is_test=True).count(),
        "test_orders_keep_days": TEST_ORDERS_KEEP.days,
    }


@never_cache
@login_required
@require_GET
def account(request: HttpRequest) -> HttpResponse:
    """Show the account page of the user's publisher (staff: `?publisher=<idpub>`)."""
    publisher = _publisher_or_404(request, request.GET.get("publisher", ""))
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
    publisher = _posted_publisher(request, ROTATE_KEY_PERMISSION, MAY_NOT_ROTATE)
    publisher_rotate_key(publisher=publisher, actor=request.user)
    messages.success(request, KEY_ROTATED.format(days=PREVIOUS_KEY_GRACE.days))
    return HttpResponseRedirect(_account_url(publisher, request))


RELEASE_CONFIRM_TEMPLATE = "fulfillment/release_confirm.html"
RELEASE_CONFIRMED = "confirmed"
NOT_CONFIRMED = "was not on the page you confirmed; release all again to charge it"


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def account_release_all(request: HttpRequest) -> HttpResponse:
    """Ask first, then release the orders on hold the balance covers, oldest first.

    A GET, or a POST without `confirmed=yes`, charges nothing: it shows the boxes the one
    queue rule would charge now (with their items and costs), the total, the balance after,
    and the boxes that would stay on hold with why. The confirming POST charges only the boxes
    that page named (`order` fields), by the same rule, so nothing beyond them is spent.
    """
    data = request.POST if request.method == "POST" else request.GET
    publisher = _publisher_or_404(request, data.get("publisher", ""))
    if publisher is None:
        raise Http404(NO_PUBLISHER)
    if not request.user.has_perm(RELEASE_PERMISSION):
        raise PermissionDenied(MAY_NOT_RELEASE)
    if request.method != "POST" or request.POST.get(RELEASE_CONFIRMED) != "yes":
        return _release_confirmation(request, publisher)
    ids = [int(pk) for pk in request.POST.getlist("order") if pk.isdigit()]
    result = orders_release(publisher=publisher, order_ids=ids, actor=request.user)
    after = orders_release_preview(publisher=publisher)  # what stays on hold, and why
    result.kept += [(order, NOT_CONFIRMED) for order, _cost in after.charge]
    result.kept += [(order, why) for order, why in after.kept if order.pk not in ids]
    level = messages.WARNING if result.kept else messages.SUCCESS
    messages.add_message(request, level, result.message)
    return HttpResponseRedirect(_account_url(publisher, request))


def _release_confirmation(request: HttpRequest, publisher: Publisher) -> HttpResponse:
    """Show what *release all* would charge now and what would stay on hold; charge nothing."""
    preview = orders_release_preview(publisher=publisher)
    section = release_section(preview)
    hidden = [("publisher", publisher.idpub)] + [("order", o.pk) for o, _c in preview.charge]
    context = {
        **admin.site.each_context(request),
        "title": "Release these orders on hold?",
        "sections": [section],
        "charge": section["charge"],
        "any_charge": bool(preview.charge),
        "queue_rule": QUEUE_RULE,
        "confirmed_field": RELEASE_CONFIRMED,
        "form_action": reverse("account-release-all"),
        "hidden": hidden,
        "cancel_url": _account_url(publisher, request),
        "back_title": "Account & Notify URL",
    }
    return TemplateResponse(request, RELEASE_CONFIRM_TEMPLATE, context)


def release_section(preview: ReleasePreview, name: str = "", suffix: str = "") -> dict[str, Any]:
    """Lay out one publisher's release preview for the confirmation page."""
    return {
        "name": name,
        "suffix": suffix,
        "charge": [(o, items_summary(o.active_lines()), money(c)) for o, c in preview.charge],
        "kept": [(o, items_summary(o.active_lines()), why) for o, why in preview.kept],
        "total": money(preview.total),
        "balance": money(preview.balance),
        "balance_after": money(preview.balance_after),
    }


@login_required
@require_POST
def account_settings(request: HttpRequest) -> HttpResponse:
    """Save the publisher's alert choices, edit window and grouping; errors come back as a
    message, nothing saved."""
    publisher = _posted_publisher(request, SETTINGS_PERMISSION, MAY_NOT_CHANGE_SETTINGS)
    form = AccountSettingsForm(request.POST, instance=Publisher.objects.get(pk=publisher.pk))
    if form.is_valid():
        choices = {name: form.cleaned_data[name] for name in SETTINGS_FIELDS}
        publisher_settings_set(publisher=publisher, **choices)
        minutes = publisher.production_delay_minutes
        window = plural(minutes, "minute") if minutes else "off (production at once)"
        grouping = grouping_text(publisher.grouping_minutes)
        messages.success(
            request,
            SETTINGS_SAVED.format(
                recipients=", ".join(alert_recipients(publisher)),
                window=window,
                grouping=grouping,
            ),
        )
    else:
        errors = "; ".join(
            f"{form.fields[k].label}: {' '.join(v)}" if k in form.fields else " ".join(v)
            for k, v in form.errors.items()
        )
        messages.error(request, f"Settings not saved: {errors}")
    return HttpResponseRedirect(_account_url(publisher, request))


@sensitive_post_parameters("samcart_api_key")  # never in error reports (SPEC §16)
@login_required
@require_POST
def account_samcart_key(request: HttpRequest) -> HttpResponse:
    """Set, replace or (with `remove`) remove the SamCart API key; the key is never echoed."""
    publisher = _posted_publisher(request, SAMCART_KEY_PERMISSION, MAY_NOT_SET_SAMCART_KEY)
    form = SamcartKeyForm(request.POST)
    if not form.is_valid():
        messages.error(request, SAMCART_KEY_NOT_SAVED.format(error=form.error_text()))
        return HttpResponseRedirect(_account_url(publisher, request))
    key = "" if form.cleaned_data["remove"] else form.cleaned_data["samcart_api_key"]
    publisher_set_samcart_key(publisher=publisher, key=key, actor=request.user)
    if key:
        messages.success(request, SAMCART_KEY_SAVED.format(last4=publisher.samcart_api_key_last4))
    else:
        messages.success(request, SAMCART_KEY_REMOVED)
    return HttpResponseRedirect(_account_url(publisher, request))


@login_required
@require_POST
def account_samcart_check(request: HttpRequest) -> HttpResponse:
    """Queue a SamCart check now (*Check now*), or say why none can start."""
    publisher = _posted_publisher(request, CHECK_NOW_PERMISSION, MAY_NOT_CHECK)
    refusal = samcart_check_enqueue(publisher=publisher)
    if refusal is None:
        messages.success(request, CHECK_QUEUED)
    else:
        messages.warning(request, CHECK_NOT_QUEUED.format(reason=refusal))
    return HttpResponseRedirect(_account_url(publisher, request))


@login_required
@require_POST
def account_test_sale(request: HttpRequest) -> HttpResponse:
    """Send a test sale through the Notify URL's path; show its answer on the account page."""
    publisher = _posted_publisher(request, TEST_SALE_PERMISSION, MAY_NOT_TEST_SALE)
    form = TestSaleForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest(form.error_text(), content_type="text/plain; charset=utf-8")
    try:
        result = send_test_sale(
            publisher=publisher,
            kind=TestSaleKind(form.cleaned_data["kind"]),
            product_id=form.cleaned_data["product"],
            remote_addr=request.META.get("REMOTE_ADDR") or None,
        )
    except ServiceError as error:
        messages.error(request, str(error))
        return HttpResponseRedirect(f"{_account_url(publisher, request)}#test-sale")
    answer = result.answer
    http_status = answer.status
    level = messages.SUCCESS if http_status == 200 else messages.WARNING
    said = TEST_SALE_SENT.format(status=http_status, outcome=answer.outcome)
    messages.add_message(request, level, said)
    url = _account_url(publisher, request)
    if answer.notification_id is not None:
        url += f"{'&' if '?' in url else '?'}test_sale={answer.notification_id}"
    return HttpResponseRedirect(f"{url}#test-sale")


@login_required
@require_POST
def account_clear_test_orders(request: HttpRequest) -> HttpResponse:
    """Delete the publisher's test orders now (*Clear test orders*); real orders stay."""
    publisher = _posted_publisher(request, CLEAR_TEST_ORDERS_PERMISSION, MAY_NOT_CLEAR_TEST_ORDERS)
    count = publisher_test_orders_clear(publisher=publisher)
    messages.success(request, TEST_ORDERS_CLEARED.format(count=plural(count, "test order")))
    return HttpResponseRedirect(f"{_account_url(publisher, request)}#test-sale")
