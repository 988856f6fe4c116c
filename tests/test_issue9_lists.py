"""Issue 9 (publisher experience), list side: one queue rule, bulk delete asks first, API
filter values said both ways, deposit messages, running balance, filters that apply.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from fulfillment.models import LedgerKind, Order, OrderStatus, Publisher
from fulfillment.services.deposits import deposit_record
from fulfillment.services.release import orders_release
from fulfillment.services.wording import QUEUE_RULE
from tests.admin_world import World, notify, order_body, release_all

pytestmark = pytest.mark.django_db
CHANGELIST = "admin:fulfillment_order_changelist"


@pytest.fixture
def staff_client(world: World) -> Client:
    client = Client()
    client.force_login(world.staff)
    return client


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def held(publisher: Publisher, *order_ids: str, quantity: int = 1) -> list[Order]:
    """Post SamCart orders for `publisher` and return the new hold orders, oldest first."""
    return [
        notify(publisher, order_body(order_id=oid, quantity=quantity)).orders.get()
        for oid in order_ids
    ]


# 9. One queue rule --------------------------------------------------------------------------


def test_release_all_and_release_one_give_the_same_answer(world, a_client):
    """Issue 9 #9: "release all" said #8 waits behind #5 while releasing #8 alone worked."""
    big = held(world.a, "55500001", quantity=10)[0]  # $52.00: more than the balance
    small = world.a_hold  # older, $7.00
    younger = held(world.a, "55500002")[0]  # $7.00
    deposit_record(publisher=world.a, amount=Decimal("10.00"), actor=None)  # balance $11.00

    response = release_all(a_client)

    message = " ".join(texts(response))
    assert "waits behind" not in message
    statuses = dict(
        Order.objects.filter(pk__in=[big.pk, small.pk, younger.pk]).values_list("pk", "status")
    )
    # Oldest first: #small ($7) goes, #big ($52) stays with its shortfall, #younger ($7) is not
    # covered by the $4 left either: each judged on its own, as releasing it alone would.
    assert statuses[small.pk] == OrderStatus.IN_PRODUCTION
    assert statuses[big.pk] == statuses[younger.pk] == OrderStatus.HOLD
    assert f"order #{big.pk} needs $48.00 more" in message
    assert f"order #{younger.pk} needs $3.00 more" in message


def test_a_younger_order_the_balance_covers_goes_even_when_an_older_one_waits(world):
    big = held(world.a, "55500011", quantity=10)[0]  # $52.00
    cheap = held(world.a, "55500012")[0]  # $7.00
    deposit_record(publisher=world.a, amount=Decimal("15.00"), actor=None)  # $16.00

    result = orders_release(publisher=world.a, order_ids=[big.pk, cheap.pk], actor=None)

    assert [o.pk for o in result.released] == [cheap.pk]
    assert [o.pk for o, _ in result.kept] == [big.pk]


def test_the_queue_rule_is_one_sentence_used_on_the_deposit_page(world, staff_client):
    Publisher.objects.filter(pk=world.a.pk).update(auto_release=True)
    page = staff_client.get(reverse("admin:fulfillment_publisher_balance", args=[world.a.pk]))
    assert escape(QUEUE_RULE.replace("your", "the publisher's")) in page.content.decode()


# 12. Deposit message -----------------------------------------------------------------------


def test_deposit_message_says_before_after_and_what_it_released(world, staff_client):
    Publisher.objects.filter(pk=world.a.pk).update(auto_release=True)
    second = held(world.a, "55500021", quantity=10)[0]  # $52.00, stays
    url = reverse("admin:fulfillment_publisher_balance", args=[world.a.pk])

    response = staff_client.post(
        url, {"kind": "deposit", "amount": "20.00", "note": ""}, follow=True
    )

    message = " ".join(texts(response))
    assert "Deposit of $20.00 recorded" in message
    assert "Balance $1.00 → $21.00." in message
    assert f"released 1 order ($7.00): #{world.a_hold.pk}; balance now $14.00." in message
    assert f"1 order still on hold: order #{second.pk} needs $38.00 more" in message


def test_adjustment_message_says_before_and_after(world, staff_client):
    url = reverse("admin:fulfillment_publisher_balance", args=[world.a.pk])
    response = staff_client.post(
        url, {"kind": "adjustment", "amount": "2.50", "note": "refund of a typo"}, follow=True
    )
    assert any("Balance $1.00 → $3.50." in m for m in texts(response))


# 4. Bulk delete asks first ------------------------------------------------------------------


def test_bulk_delete_shows_a_confirmation_naming_the_orders_and_deletes_nothing(world, a_client):
    other = held(world.a, "55500031")[0]
    deposit_record(publisher=world.a, amount=Decimal("50.00"), actor=None)
    made = held(world.a, "55500032")[0]
    assert made.status == OrderStatus.IN_PRODUCTION
    ids = [world.a_hold.pk, other.pk, made.pk]

    page = a_client.post(
        reverse(CHANGELIST), {"action": "delete_orders", "_selected_action": ids, "index": 0}
    )

    content = page.content.decode()
    assert page.status_code == 200
    assert f"Order #{world.a_hold.pk}" in content and f"Order #{other.pk}" in content
    assert "resend" in content and "not</strong> bring them back" in content
    assert "Skipped" in content and f"Order #{made.pk}</a>" in content
    assert set(Order.objects.filter(pk__in=ids[:2]).values_list("status", flat=True)) == {
        OrderStatus.HOLD
    }

    done = a_client.post(
        reverse(CHANGELIST),
        {"action": "delete_orders", "_selected_action": ids[:2], "index": 0, "confirmed": "yes"},
        follow=True,
    )
    assert set(Order.objects.filter(pk__in=ids[:2]).values_list("status", flat=True)) == {
        OrderStatus.DELETED
    }
    assert any("will not bring them back" in m for m in texts(done))


# 10. API filter values ----------------------------------------------------------------------


@pytest.mark.parametrize("value", ["on_hold", "bogus", "on hold"])
def test_an_unknown_status_answers_400_naming_codes_and_labels(world, a_client, value):
    response = a_client.get(reverse("api-orders"), {"status": value})
    assert response.status_code == 400
    error = response.json()["status"][0]
    assert "hold (on hold)" in error and "in_production (in production)" in error


def test_a_page_that_is_not_a_page_answers_400(world, a_client):
    for page in ("abc", "0", "999"):
        response = a_client.get(reverse("api-orders"), {"page": page})
        assert response.status_code == 400, page
        assert "page number from 1 to 1" in response.json()["page"][0]


def test_the_schema_enumerates_every_choice_filter(world, a_client):
    schema = a_client.get(reverse("api-schema"), {"format": "json"}).json()
    params = {
        p["name"]: p
        for p in schema["paths"]["/api/v1/orders/"]["get"]["parameters"]
        if p["in"] == "query"
    }
    assert params["status"]["schema"]["enum"] == [
        "deleted",
        "hold",
        "in_production",
        "scheduled",
        "shipped",
    ]
    assert "hold (on hold)" in params["status"]["description"]
    assert set(params["hold_reason"]["schema"]["enum"]) == {
        "payment_required",
        "address_incomplete",
        "price_pending",
        "review",
    }
    assert params["found_by"]["schema"]["enum"] == ["notify", "samcart_check"]


# 16. Filters that apply; 13. running balance ------------------------------------------------


def test_publishers_are_not_offered_the_unknown_publisher_outcome(world, a_client, staff_client):
    url = reverse("admin:fulfillment_notification_changelist")
    assert "outcome__exact=unknown_publisher" not in a_client.get(url).content.decode()
    assert "outcome__exact=unknown_publisher" in staff_client.get(url).content.decode()


def test_ledger_shows_the_balance_after_each_entry_even_when_filtered(world, a_client):
    deposit_record(publisher=world.a, amount=Decimal("30.00"), actor=None)  # 1 → 31
    orders_release(publisher=world.a, order_ids=[world.a_hold.pk], actor=None)  # 31 → 24
    url = reverse("admin:fulfillment_ledgerentry_changelist")

    everything = a_client.get(url).content.decode()
    charges = a_client.get(url, {"kind__exact": LedgerKind.CHARGE}).content.decode()

    assert "balance after" in everything.lower()
    assert '<td class="field-balance_column">$24.00</td>' in everything
    assert '<td class="field-balance_column">$31.00</td>' in everything
    # The filtered list still shows the real balance after the charge, not a partial sum.
    assert '<td class="field-balance_column">$24.00</td>' in charges
    assert '<td class="field-balance_column">$31.00</td>' not in charges


def test_an_empty_list_says_what_to_do_and_a_filtered_one_how_to_clear(world, a_client):
    Order.objects.filter(publisher=world.a).delete()
    url = reverse(CHANGELIST)
    empty = a_client.get(url).content.decode()
    assert "No orders yet." in empty and reverse("account") in empty
    filtered = a_client.get(url, {"q": "nobody"}).content.decode()
    assert "No orders match “nobody”" in filtered and "Show all orders" in filtered
