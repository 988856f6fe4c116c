"""Issue 20, points 8, 11, 13 (the hold-reason "—"), 16 and 17: the admin home pages of a
publisher and of staff, a new project's unconfirmed prices, SamCart refunds of paid orders
(the Notify answer, the order page, the ship page, the staff work list), cancelled orders
shown as refunded (list, page, API, filter), and the hold-reason filter's empty choice.
Real HTTP through Django's test client, real Notify POSTs, real services."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from fulfillment.clock import when, zone_named
from fulfillment.models import (
    Alert,
    AlertKind,
    HoldReason,
    LedgerKind,
    Notification,
    Order,
    OrderStatus,
    Outcome,
    Project,
)
from fulfillment.services.ledger import ledger_record
from fulfillment.services.orders import order_delete
from fulfillment.services.window import order_cancel
from tests.admin_world import PASSWORD, notify, order_body
from tests.factories import (
    make_project,
    make_publisher,
    make_publisher_user,
    make_staff_user,
    post_notify,
    sample,
)

pytestmark = pytest.mark.django_db

HOME = "/admin/"
ORDERS = "/admin/fulfillment/order/"
SHIP = "/admin/fulfillment/order/ship/"


def logged_in(username: str) -> Client:
    """Return a test client logged in as `username`."""
    client = Client()
    assert client.login(username=username, password=PASSWORD)
    return client


def refund_body(order_id: str, event: str = "Refund") -> bytes:
    """Return SamCart's Refund sample for another order id."""
    data = json.loads(sample("refund"))
    data["order"]["id"] = int(order_id)
    data["type"] = event
    return json.dumps(data).encode()


def paid_publisher(name: str = "Harbour Press", *, delay: int = 0, balance: str = "100.00"):
    """A funded publisher with one confirmed $7.00 project (SamCart product 279813)."""
    publisher = make_publisher(name=name, balance=balance, production_delay_minutes=delay)
    make_project(publisher, "279813", title="Tide Tables", unit_cost="5.00", shipping_cost="2.00")
    return publisher


# -- point 8: the publisher's home ----------------------------------------------------------


def test_a_publisher_home_shows_balance_hold_shortfall_problems_and_check():
    publisher = make_publisher(name="Harbour Press", balance="5.00")
    make_project(publisher, "279813", title="Tide Tables", unit_cost="4.00", shipping_cost="3.00")
    held = notify(publisher, order_body(order_id="5001")).orders.get()  # $7.00 > $5.00
    notify(publisher, order_body(order_id="5002", product_id="999999"))  # no match
    make_publisher_user(publisher, "harbour", PASSWORD, role="viewer")
    text = logged_in("harbour").get(HOME).content.decode()
    assert held.status == OrderStatus.HOLD
    assert "<strong>$5.00</strong>" in text
    assert "they cost $7.00</a> against a balance of $5.00" in text
    assert "$2.00 short" in text
    assert "?status__exact=hold" in text
    assert "1 matched no project" in text and "?outcome__exact=no_match" in text
    assert "Off: no SamCart API key" in text
    assert 'id="ts-staff-home"' not in text
    assert "app-fulfillment" in text  # Django's app list stays below


def test_a_publisher_home_names_scheduled_orders_with_when_production_starts():
    publisher = paid_publisher(delay=60)
    publisher.time_zone = "America/New_York"
    publisher.save(update_fields=["time_zone"])
    order = notify(publisher, order_body(order_id="5101")).orders.get()
    assert order.status == OrderStatus.SCHEDULED
    make_publisher_user(publisher, "harbour", PASSWORD)
    text = logged_in("harbour").get(HOME).content.decode()
    assert f"#{order.pk}</a> Rosalind Okafor: production starts" in text
    start = text.split("production starts ", 1)[1][:20]
    local = when(order.production_at, zone_named("America/New_York"))
    assert start == local and local.endswith("EST")  # the publisher's zone, named


def test_a_publisher_home_says_what_a_release_would_charge_now():
    publisher = paid_publisher(balance="0.00")
    notify(publisher, order_body(order_id="5301")).orders.get()
    ledger_record(publisher_id=publisher.pk, amount=Decimal("10.00"), kind=LedgerKind.DEPOSIT)
    make_publisher_user(publisher, "harbour", PASSWORD)
    text = logged_in("harbour").get(HOME).content.decode()
    assert "they cost $7.00</a> against a balance of $10.00." in text
    assert "short" not in text.split("ts-home-hold", 1)[1].split("</tr>", 1)[0]
    assert "A release now would charge 1 of them ($7.00)." in text


def test_a_publisher_home_shows_only_its_own_publisher():
    mine = paid_publisher("Harbour Press", balance="0.00")
    theirs = paid_publisher("Secret Lantern Books", balance="3.00")
    notify(theirs, order_body(order_id="5201", first="Zebulon"))
    make_publisher_user(mine, "harbour", PASSWORD)
    text = logged_in("harbour").get(HOME).content.decode()
    assert "Harbour Press" in text
    assert "Secret Lantern Books" not in text and "Zebulon" not in text and "$3.00" not in text


def test_a_login_of_no_publisher_gets_the_plain_index():
    from django.contrib.auth.models import User

    User.objects.create_user("nobody", password=PASSWORD, is_staff=True)
    response = logged_in("nobody").get(HOME)
    assert response.status_code == 200
    assert "ts-home" not in response.content.decode()


# -- point 8: the staff's home ---------------------------------------------------------------


def test_staff_home_lists_each_work_list_with_counts_and_links():
    publisher = paid_publisher("Harbour Press")
    make_project(publisher, "294010", title="Unpriced Almanac", prices_confirmed=False)
    made = notify(publisher, order_body(order_id="6001")).orders.get()
    assert made.status == OrderStatus.IN_PRODUCTION
    post_notify(Client(), publisher, refund_body("6001"))
    Notification.objects.create(
        publisher=publisher, raw_body=b"{}", received_at=timezone.now() - timedelta(minutes=5)
    )  # stored, never processed: stuck
    failed = Notification.objects.create(
        publisher=publisher, raw_body=b"{}", outcome=Outcome.ERROR, next_attempt_at=None
    )
    Alert.objects.create(
        publisher=publisher,
        kind=AlertKind.LOW_BALANCE,
        cause="c1",
        recipients="a@example.com",
        subject="Low",
        body_text="x",
        body_html="x",
        failed_at=timezone.now(),
    )
    low = make_publisher(name="Thin Wallet Press", balance="4.00", low_balance_threshold="25")
    make_staff_user("trep", PASSWORD)
    text = logged_in("trep").get(HOME).content.decode()

    def row(name: str) -> str:
        return text.split(f'id="ts-work-{name}"', 1)[1].split("</tr>", 1)[0]

    assert "Unpriced Almanac" in row("prices") and ">1<" in row("prices")
    assert "prices_confirmed__exact=0" in row("prices")
    assert f"order #{made.pk}" in row("refunds") and "in production" in row("refunds")
    assert "cart_refunded__exact=1&amp;status__exact=in_production" in row("refunds")
    assert "?stuck=1" in row("stuck") and ">1<" in row("stuck")
    assert f"#{failed.pk}" in row("failed-notifications")
    assert "low balance" in row("failed-alerts") and "delivery=failed" in row("failed-alerts")
    assert "Thin Wallet Press" in row("low-balance") and "$4.00 &lt; $25.00" in row("low-balance")
    assert low.pk and "app-fulfillment" in text


def test_staff_home_is_empty_handed_when_nothing_waits():
    make_staff_user("trep", PASSWORD)
    text = logged_in("trep").get(HOME).content.decode()
    assert text.count('class="ts-count">0<') == 6


# -- point 8: a new project starts with prices not confirmed ---------------------------------


def test_a_project_staff_add_starts_unconfirmed_and_its_orders_wait_for_prices():
    publisher = make_publisher(name="Harbour Press", balance="50.00")
    make_staff_user("trep", PASSWORD)
    client = logged_in("trep")
    form = client.get("/admin/fulfillment/project/add/").context["adminform"].form
    assert form.initial.get("prices_confirmed") is False  # before: ticked
    response = client.post(
        "/admin/fulfillment/project/add/",
        {
            "publisher": publisher.pk,
            "title": "New Atlas",
            "is_active": "on",
            "unit_cost": "0.00",
            "shipping_cost": "0.00",
            "ecommerce_id_string": "{279813}",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    project = Project.objects.get(title="New Atlas")
    assert project.prices_confirmed is False
    order = notify(publisher, order_body(order_id="7001")).orders.get()
    assert (order.status, order.hold_reason) == (OrderStatus.HOLD, HoldReason.PRICE_PENDING)
    row = client.get(ORDERS).content.decode().split('class="field-cost_column">', 1)[1]
    assert row.startswith("price pending<")  # before: $0.00
    edit = client.get(f"/admin/fulfillment/project/{project.pk}/change/").context["adminform"]
    assert edit.form.initial["prices_confirmed"] is True  # saving prices confirms them


# -- point 16: a SamCart refund of an order already paid -------------------------------------


def test_refund_of_an_order_in_production_tells_the_publisher_to_ask_trepstar():
    publisher = paid_publisher()
    order = notify(publisher, order_body(order_id="8001")).orders.get()
    assert order.status == OrderStatus.IN_PRODUCTION
    answer = post_notify(Client(), publisher, refund_body("8001")).json()
    detail = Notification.objects.get(pk=answer["notification"]).detail
    assert "delete held orders yourself" not in detail  # before: the only advice
    assert f"Order #{order.pk} is already paid and in production" in detail
    assert "only TrepStar can still stop it" in detail
    assert settings.SUPPORT_EMAIL in detail and "SamCart order 8001" in detail

    make_publisher_user(publisher, "harbour", PASSWORD)
    page = logged_in("harbour").get(f"{ORDERS}{order.pk}/change/").content.decode()
    notice = page.split('class="ts-refund-notice">', 1)[1].split("</strong>", 1)[0]
    assert notice.startswith("Refunded in SamCart on ")
    assert "only TrepStar can still stop it" in notice and settings.SUPPORT_EMAIL in notice


def test_refund_answer_says_what_each_box_can_still_do():
    publisher = paid_publisher(delay=60)
    scheduled = notify(publisher, order_body(order_id="8101")).orders.get()
    poor = make_publisher(name="Poor Press")
    make_project(poor, "279813")
    held = notify(poor, order_body(order_id="8102")).orders.get()
    answer = post_notify(Client(), publisher, refund_body("8101")).json()
    detail = Notification.objects.get(pk=answer["notification"]).detail
    assert f"Order #{scheduled.pk} is scheduled: cancel it before production starts" in detail
    assert "to get its $7.00 back" in detail
    answer = post_notify(Client(), poor, refund_body("8102", "Cancel")).json()
    detail = Notification.objects.get(pk=answer["notification"]).detail
    assert f"Order #{held.pk} is on hold: delete it if it should not be made." in detail


def test_the_ship_page_flags_a_refunded_order_and_ships_it_only_when_ticked():
    publisher = paid_publisher()
    refunded = notify(publisher, order_body(order_id="8201")).orders.get()
    other = notify(publisher, order_body(order_id="8202")).orders.get()
    post_notify(Client(), publisher, refund_body("8201"))
    make_staff_user("trep", PASSWORD)
    client = logged_in("trep")
    page = client.get(f"{SHIP}?ids={refunded.pk},{other.pk}").content.decode()
    flag = page.split(f'id="refund-flag-{refunded.pk}"', 1)[1].split("</tr>", 1)[0]
    assert "Refunded in SamCart on " in flag and "— do not ship" in flag
    assert "Harbour Press" in flag and "SamCart order 8201" in flag
    assert f'id="refund-flag-{other.pk}"' not in page
    # The refunded order is sent only when "ship anyway" is ticked; the other always is.
    assert f'<input type="checkbox" name="order" value="{refunded.pk}">' in page
    assert f'<input type="hidden" name="order" value="{refunded.pk}">' not in page
    assert f'<input type="hidden" name="order" value="{other.pk}">' in page
    # The form as a person sends it without ticking "ship anyway": only the other order.
    client.post(SHIP, {"order": [str(other.pk)], f"tracking_{refunded.pk}": "1Z"})
    refunded.refresh_from_db()
    other.refresh_from_db()
    assert (refunded.status, other.status) == (OrderStatus.IN_PRODUCTION, OrderStatus.SHIPPED)
    client.post(SHIP, {"order": [str(refunded.pk)]})  # ticked: staff confirmed with them
    refunded.refresh_from_db()
    assert refunded.status == OrderStatus.SHIPPED


def test_publishers_never_reach_the_ship_page():
    publisher = paid_publisher()
    order = notify(publisher, order_body(order_id="8301")).orders.get()
    make_publisher_user(publisher, "harbour", PASSWORD)
    assert logged_in("harbour").get(f"{SHIP}?ids={order.pk}").status_code == 403


# -- point 11: a cancelled order shows its refund --------------------------------------------


def cancelled_order(publisher) -> Order:
    """Make a scheduled $7.00 order of `publisher` and cancel it in its window."""
    order = notify(publisher, order_body(order_id=str(9000 + Order.objects.count()))).orders.get()
    assert order.status == OrderStatus.SCHEDULED
    return order_cancel(order=order, actor=None)


def test_a_cancelled_order_shows_cancelled_refunded_in_list_page_api_and_filter():
    publisher = paid_publisher(delay=60)
    cancelled = cancelled_order(publisher)
    poor = make_publisher(name="Poor Press")  # a hold order deleted: never paid, no refund
    make_project(poor, "279813")
    deleted = notify(poor, order_body(order_id="9901")).orders.get()
    order_delete(order=deleted, actor=None)
    make_publisher_user(publisher, "harbour", PASSWORD)
    client = logged_in("harbour")

    listing = client.get(ORDERS).content.decode()
    assert "cancelled — refunded $7.00" in listing
    assert "ts-cancelled" in listing  # before: the struck-through "deleted" badge
    page = client.get(f"{ORDERS}{cancelled.pk}/change/").content.decode()
    assert "cancelled — refunded $7.00" in page
    api = client.get(f"/api/v1/orders/{cancelled.pk}/").json()
    assert api["status"] == "deleted"  # the SPEC §3 contract string, unchanged
    assert api["status_display"] == "cancelled — refunded $7.00"

    filtered = client.get(ORDERS, {"status__exact": "cancelled"})
    assert [o.pk for o in filtered.context["cl"].result_list] == [cancelled.pk]
    assert "cancelled — refunded</a>" in filtered.content.decode()
    staff = make_staff_user("trep", PASSWORD)
    assert staff
    shown = logged_in("trep").get(ORDERS, {"status__exact": "cancelled"}).context["cl"]
    assert [o.pk for o in shown.result_list] == [cancelled.pk]  # not the plain deleted one
    plain = logged_in("trep").get(ORDERS, {"status__exact": "deleted"}).context["cl"]
    assert {o.pk for o in plain.result_list} == {cancelled.pk, deleted.pk}


def test_api_status_display_of_other_orders_says_the_status_in_words():
    publisher = make_publisher(name="Harbour Press")
    make_project(publisher, "279813")
    order = notify(publisher, order_body(order_id="9950")).orders.get()
    make_publisher_user(publisher, "harbour", PASSWORD)
    api = logged_in("harbour").get(f"/api/v1/orders/{order.pk}/").json()
    assert api["status_display"] == "on hold — payment required"


@pytest.mark.parametrize("value", ["cancelled", "nonsense", "", "deleted"])
def test_the_status_filter_never_fails_on_any_value(value):
    publisher = paid_publisher(delay=60)
    cancelled_order(publisher)
    make_publisher_user(publisher, "harbour", PASSWORD)
    response = logged_in("harbour").get(ORDERS, {"status__exact": value})
    assert response.status_code in (200, 302)


# -- point 13: the hold-reason filter's empty choice is named --------------------------------


def test_the_hold_reason_filter_names_not_on_hold_and_it_lists_orders_not_on_hold():
    publisher = paid_publisher()
    made = notify(publisher, order_body(order_id="9960")).orders.get()
    make_publisher_user(publisher, "harbour", PASSWORD)
    client = logged_in("harbour")
    page = client.get(ORDERS).content.decode()
    block = page.split("By hold reason", 1)[1].split("</ul>", 1)[0]
    assert "not on hold" in block
    assert ">—<" not in block  # before: an unexplained dash
    listed = client.get(ORDERS, {"hold_reason__exact": ""}).context["cl"].result_list
    assert [o.pk for o in listed] == [made.pk]
