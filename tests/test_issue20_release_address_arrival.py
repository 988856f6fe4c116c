"""Issue 20, points 14, 18 and 19: *release all* asks first; an incomplete address can take
the billing address SamCart sent; the order shows when its purchase arrived."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format
from django.utils.timezone import localtime
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from fulfillment.admin.base import short_datetime
from fulfillment.models import (
    HoldReason,
    LedgerEntry,
    LedgerKind,
    Notification,
    Order,
    OrderEvent,
    OrderEventKind,
    OrderStatus,
    Publisher,
)
from fulfillment.services.ledger import ledger_record
from fulfillment.services.reprocess import notification_reprocess
from tests.admin_world import notify, order_body
from tests.factories import make_project, make_publisher_user

pytestmark = pytest.mark.django_db

RELEASE_ALL = "account-release-all"


def charges(publisher: Publisher) -> int:
    """Count the publisher's charges in the ledger."""
    return LedgerEntry.objects.filter(publisher=publisher, kind=LedgerKind.CHARGE).count()


# 14. Release all asks first ------------------------------------------------------------------


def test_release_all_shows_what_it_would_charge_and_charges_only_when_confirmed(world, a_client):
    second = notify(world.a, order_body(order_id="11110010")).orders.get()
    ledger_record(publisher_id=world.a.pk, amount=Decimal("10.00"), kind=LedgerKind.DEPOSIT)

    for asked in (a_client.get(reverse(RELEASE_ALL)), a_client.post(reverse(RELEASE_ALL))):
        assert asked.status_code == 200
        page = asked.content.decode()
        assert "Releasing now charges 1 order, $7.00 in all: your balance goes from $11.00 to" in (
            page
        )
        assert "$4.00" in page
        assert f"Order #{world.a_hold.pk}</a>" in page and "1 item:" in page
        assert f"Order #{second.pk}</a>" in page and "needs $3.00 more (costs $7.00)" in page
        assert 'name="csrfmiddlewaretoken"' in page and 'id="confirm-release"' in page
        assert 'href="/account/" class="button cancel-link" id="cancel-release">Cancel' in page
        assert charges(world.a) == 0
        assert Order.objects.get(pk=world.a_hold.pk).status == OrderStatus.HOLD

    confirm = {"confirmed": "yes", "order": [world.a_hold.pk]}
    response = a_client.post(reverse(RELEASE_ALL), confirm, follow=True)
    assert Order.objects.get(pk=world.a_hold.pk).status == OrderStatus.IN_PRODUCTION
    assert Order.objects.get(pk=second.pk).status == OrderStatus.HOLD
    assert charges(world.a) == 1
    assert any("balance $11.00 → $4.00" in str(m) for m in get_messages(response.wsgi_request))


def test_release_all_confirmed_charges_only_the_orders_the_page_named(world, a_client):
    """A box the balance came to cover while the person read the page is not charged."""
    second = notify(world.a, order_body(order_id="11110011")).orders.get()
    ledger_record(publisher_id=world.a.pk, amount=Decimal("10.00"), kind=LedgerKind.DEPOSIT)
    asked = a_client.post(reverse(RELEASE_ALL))
    assert [order.pk for order, _items, _cost in asked.context["charge"]] == [world.a_hold.pk]
    ledger_record(publisher_id=world.a.pk, amount=Decimal("10.00"), kind=LedgerKind.DEPOSIT)
    confirm = {"confirmed": "yes", "order": [world.a_hold.pk]}
    response = a_client.post(reverse(RELEASE_ALL), confirm, follow=True)
    assert Order.objects.get(pk=world.a_hold.pk).status != OrderStatus.HOLD
    assert Order.objects.get(pk=second.pk).status == OrderStatus.HOLD
    text = " ".join(str(m) for m in get_messages(response.wsgi_request))
    assert f"order #{second.pk} was not on the page you confirmed" in text


def test_a_viewer_may_not_see_or_confirm_release_all(world):
    ledger_record(publisher_id=world.a.pk, amount=Decimal("10.00"), kind=LedgerKind.DEPOSIT)
    viewer = Client()
    login = make_publisher_user(world.a, "alpha-viewer-20", "x-Pass-2026!", role="viewer")
    viewer.force_login(login)
    assert viewer.get(reverse(RELEASE_ALL)).status_code == 403
    assert viewer.post(reverse(RELEASE_ALL)).status_code == 403
    confirm = {"confirmed": "yes", "order": [world.a_hold.pk]}
    assert viewer.post(reverse(RELEASE_ALL), confirm).status_code == 403
    assert charges(world.a) == 0


# 18. Use the billing address SamCart sent ----------------------------------------------------


def incomplete(publisher: Publisher, order_id: str, *, billing: bool = True) -> Order:
    """A hold order whose shipping street SamCart left empty; billed to 77 Billing Way."""
    data = json.loads(order_body(order_id=order_id, complete_address=False))
    data["customer"].update(
        billing_address="", billing_city="", billing_state="", billing_zip="", billing_country=""
    )
    if billing:
        data["customer"].update(
            billing_address="77 Billing Way", billing_city="Portland", billing_zip="97201"
        )
    order = notify(publisher, json.dumps(data).encode()).orders.get()
    assert order.hold_reason == HoldReason.ADDRESS_INCOMPLETE
    return order


def order_page(order: Order) -> str:
    return reverse("admin:fulfillment_order_change", args=[order.pk])


def use_billing(order: Order) -> str:
    return reverse("admin:fulfillment_order_use_billing", args=[order.pk])


def test_the_billing_address_button_fills_the_shipping_address_and_the_hold_reason_follows(
    world, a_client
):
    order = incomplete(world.a, "20180001")
    content = a_client.get(order_page(order)).content.decode()
    button = re.search(
        r'<form method="post" action="([^"]+)">\s*<input[^>]+csrf.*?</form>', content, re.S
    )
    assert button and "Use the billing address SamCart sent" in button.group()
    assert button.group(1) == use_billing(order)

    response = a_client.post(use_billing(order), follow=True)
    stored = Order.objects.get(pk=order.pk)
    assert (stored.ship_street, stored.ship_city, stored.ship_postal_code) == (
        "77 Billing Way",
        "Portland",
        "97201",
    )
    assert stored.hold_reason == HoldReason.PAYMENT_REQUIRED  # $1.00 pays no $7.00 order
    edits = OrderEvent.objects.filter(order=order, kind=OrderEventKind.EDITED)
    event = edits.get(detail__contains="77 Billing Way")
    assert event.actor == world.a_user
    text = " ".join(str(m) for m in get_messages(response.wsgi_request))
    assert "the shipping address is now the billing address SamCart sent" in text
    assert 'id="use-billing-address"' not in response.content.decode()  # no longer on hold for it


def test_no_billing_button_without_a_billing_address_or_for_a_viewer(world, a_client):
    bare = incomplete(world.a, "20180002", billing=False)
    assert 'id="use-billing-address"' not in a_client.get(order_page(bare)).content.decode()
    a_client.post(use_billing(bare))
    assert Order.objects.get(pk=bare.pk).hold_reason == HoldReason.ADDRESS_INCOMPLETE

    order = incomplete(world.a, "20180003")
    viewer = Client()
    viewer.force_login(make_publisher_user(world.a, "alpha-viewer-18", role="viewer"))
    assert 'id="use-billing-address"' not in viewer.get(order_page(order)).content.decode()
    assert viewer.post(use_billing(order)).status_code == 403
    assert viewer.get(use_billing(order)).status_code == 405
    assert Order.objects.get(pk=order.pk).ship_street == ""


def test_another_publishers_order_is_not_found(world, a_client):
    order = incomplete(world.b, "20180004")
    assert a_client.post(use_billing(order)).status_code in (302, 404)
    assert Order.objects.get(pk=order.pk).ship_street == ""


# 19. When the purchase arrived ---------------------------------------------------------------


def test_a_reprocessed_order_shows_when_its_purchase_arrived(world, a_client):
    arrived = timezone.now() - timedelta(days=3, hours=2)
    Notification.objects.filter(pk=world.a_no_match.pk).update(received_at=arrived)
    make_project(world.a, "555555", title="Alpha Late Mapping")
    answer = notification_reprocess(notification=Notification.objects.get(pk=world.a_no_match.pk))
    assert answer.status == 200, answer
    order = Order.objects.get(notification=world.a_no_match)
    assert order.created_at - arrived > timedelta(days=3)  # created: the reprocess time

    listed = a_client.get(reverse("admin:fulfillment_order_changelist")).content.decode()
    assert "purchase arrived" in listed.lower()
    assert short_datetime(arrived) in listed  # the list's column
    assert short_datetime(order.created_at) in listed

    page = a_client.get(reverse("admin:fulfillment_order_change", args=[order.pk])).content
    page = page.decode()
    assert "Purchase arrived" in page
    assert date_format(localtime(arrived), "DATETIME_FORMAT") in page

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=world.a_user).key}")
    data = api.get(f"/api/v1/orders/{order.pk}/").json()
    assert parse_datetime(data["purchase_received_at"]) == arrived
    assert parse_datetime(data["created_at"]) == order.created_at
    listed_api = api.get("/api/v1/orders/").json()
    rows = listed_api["results"] if isinstance(listed_api, dict) else listed_api
    row = next(r for r in rows if r["id"] == order.pk)
    assert parse_datetime(row["purchase_received_at"]) == arrived

    # Read-only: a PATCH naming it changes nothing.
    api.patch(
        f"/api/v1/orders/{order.pk}/",
        {"purchase_received_at": "2020-01-01T00:00:00Z"},
        format="json",
    )
    again = api.get(f"/api/v1/orders/{order.pk}/").json()
    assert parse_datetime(again["purchase_received_at"]) == arrived


def test_an_order_no_notification_made_has_no_purchase_time(world):
    Order.objects.filter(pk=world.a_hold.pk).update(notification=None)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=world.a_user).key}")
    assert api.get(f"/api/v1/orders/{world.a_hold.pk}/").json()["purchase_received_at"] is None


def test_the_release_selected_action_asks_first_then_charges_what_it_named(world, a_client):
    second = notify(world.a, order_body(order_id="11110012")).orders.get()
    ledger_record(publisher_id=world.a.pk, amount=Decimal("10.00"), kind=LedgerKind.DEPOSIT)
    changelist = reverse("admin:fulfillment_order_changelist")
    chosen = {"action": "release_orders", "_selected_action": [world.a_hold.pk, second.pk]}
    asked = a_client.post(changelist, {**chosen, "index": 0})
    assert asked.status_code == 200 and charges(world.a) == 0
    page = asked.content.decode()
    assert "Releasing now charges 1 order, $7.00 in all" in page
    assert f"Order #{second.pk}</a>" in page and "needs $3.00 more" in page
    assert 'id="confirm-release"' in page and 'name="csrfmiddlewaretoken"' in page
    named = [order.pk for order, _items, _cost in asked.context["charge"]]
    assert named == [world.a_hold.pk]

    confirm = {"action": "release_orders", "_selected_action": named, "index": 0}
    a_client.post(changelist, {**confirm, "confirmed": "yes"})
    assert Order.objects.get(pk=world.a_hold.pk).status == OrderStatus.IN_PRODUCTION
    assert Order.objects.get(pk=second.pk).status == OrderStatus.HOLD
    assert charges(world.a) == 1
