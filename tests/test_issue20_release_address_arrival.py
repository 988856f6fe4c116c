"""Issue 20, points 14, 18 and 19: *release all* asks first; an incomplete address can take
the billing address SamCart sent; the order shows when its purchase arrived."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from fulfillment.models import LedgerEntry, LedgerKind, Order, OrderStatus, Publisher
from fulfillment.services.ledger import ledger_record
from tests.admin_world import notify, order_body
from tests.factories import make_publisher_user

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
