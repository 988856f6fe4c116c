"""The edit window before production (SPEC §15): scheduled orders, edits, cancel with refund."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from rest_framework.test import APIClient

from fulfillment.models import (
    LedgerEntry,
    LedgerKind,
    Order,
    OrderEvent,
    OrderEventKind,
    OrderStatus,
)
from fulfillment.services import window
from fulfillment.services.deposits import deposit_record
from fulfillment.services.errors import NotEditable
from fulfillment.services.lines import order_line_update
from fulfillment.services.orders import EDITABLE_WHEN_SCHEDULED, order_remove, order_update
from fulfillment.services.release import orders_release
from fulfillment.services.window import order_cancel, orders_start_production
from fulfillment.tasks import SCHEDULE
from tests.factories import (
    make_project,
    make_publisher,
    make_publisher_user,
    only_line,
    post_notify,
    sample,
)
from tests.invariants import assert_money_invariants, order_body

pytestmark = pytest.mark.django_db
COST = Decimal("7.00")  # make_project: 5.00 a copy + 2.00 shipping


def _scheduled(client, *, delay: int = 60, balance: str = "100.00", order_id: int = 4100):
    publisher = make_publisher(balance=balance, production_delay_minutes=delay)
    make_project(publisher, "279813")
    post_notify(client, publisher, order_body(order_id=order_id))
    return publisher, Order.objects.get(publisher=publisher)


def test_a_paid_order_with_a_window_is_scheduled_and_charged_with_no_task_of_its_own(client):
    before = timezone.now()
    publisher, order = _scheduled(client)

    assert order.status == OrderStatus.SCHEDULED
    assert order.production_at - order.charged_at == timedelta(minutes=60)
    assert before + timedelta(minutes=59) < order.production_at
    assert LedgerEntry.objects.get(order=order, kind=LedgerKind.CHARGE).amount == -COST
    charged = OrderEvent.objects.get(order=order, kind=OrderEventKind.CHARGED)
    assert "Production starts at" in charged.detail and "(edit window)" in charged.detail
    # The sweep ends windows (issue 21): the order row is the record, no task row per order.
    assert not DBTaskResult.objects.exists()
    assert assert_money_invariants(publisher).balance == Decimal("93.00")


def test_without_a_window_orders_go_to_production_at_once(client):
    _, order = _scheduled(client, delay=0)
    assert order.status == OrderStatus.IN_PRODUCTION
    assert order.production_at is None
    assert not DBTaskResult.objects.exists()


def test_test_orders_never_charge_so_never_schedule(client):
    publisher = make_publisher(balance="100.00", production_delay_minutes=60)
    make_project(publisher, "279813")
    post_notify(client, publisher, sample("order_products_array"), test="1")
    order = Order.objects.get()
    assert (order.status, order.is_test) == (OrderStatus.HOLD, True)


def test_a_released_hold_order_with_a_window_is_scheduled(client):
    publisher, order = _scheduled(client, balance="0.00")
    assert order.status == OrderStatus.HOLD
    deposit_record(publisher=publisher, amount=Decimal("50.00"), actor=None)

    result = orders_release(publisher=publisher, order_ids=[order.pk], actor=None)

    order.refresh_from_db()
    assert [o.pk for o in result.released] == [order.pk]
    assert order.status == OrderStatus.SCHEDULED
    assert order.production_at is not None
    assert not DBTaskResult.objects.exists()
    assert_money_invariants(publisher)


def test_the_window_ends_once_when_due(client):
    publisher, order = _scheduled(client)
    assert orders_start_production() == 0  # not due yet
    later = timezone.now() + timedelta(minutes=61)

    assert orders_start_production(now=later) == 1
    assert orders_start_production(now=later) == 0
    order.refresh_from_db()
    assert order.status == OrderStatus.IN_PRODUCTION
    assert OrderEvent.objects.filter(order=order, kind=OrderEventKind.PRODUCTION_STARTED).count()
    with pytest.raises(NotEditable):
        order_cancel(order=order, actor=None)
    assert_money_invariants(publisher)


def test_one_sweep_ends_every_due_window_batch_after_batch(client, monkeypatch):
    """After a flash sale more windows end at once than one batch holds: the sweep goes on
    until every due one started, each once, and leaves those not due yet."""
    monkeypatch.setattr(window, "SWEEP_BATCH", 2)
    publisher = make_publisher(balance="100.00", production_delay_minutes=60)
    make_project(publisher, "279813")
    for n in range(5):
        post_notify(client, publisher, order_body(order_id=4200 + n))
    later = timezone.now() + timedelta(minutes=61)
    not_due = Order.objects.order_by("pk").last()
    Order.objects.filter(pk=not_due.pk).update(production_at=later + timedelta(minutes=1))

    assert orders_start_production(now=later) == 4
    assert orders_start_production(now=later) == 0
    statuses = list(Order.objects.order_by("pk").values_list("status", flat=True))
    assert statuses == [OrderStatus.IN_PRODUCTION] * 4 + [OrderStatus.SCHEDULED]
    assert OrderEvent.objects.filter(kind=OrderEventKind.PRODUCTION_STARTED).count() == 4
    assert_money_invariants(publisher)


def test_a_start_production_task_queued_before_the_sweep_still_ends_its_window(client):
    publisher, order = _scheduled(client)
    Order.objects.filter(pk=order.pk).update(production_at=timezone.now())

    assert window.start_production.call([order.pk]) == 1
    order.refresh_from_db()
    assert order.status == OrderStatus.IN_PRODUCTION
    assert_money_invariants(publisher)


def test_the_schedule_sweeps_windows_every_10_seconds():
    every, job = SCHEDULE["start_due_production"]
    assert every == timedelta(seconds=10)
    assert job.func() == 0  # nothing due: it runs and starts nothing


def test_edit_a_scheduled_order_address_but_not_its_quantity_nor_empty_it(client):
    publisher, order = _scheduled(client)
    user = make_publisher_user(publisher)

    saved = order_update(order=order, actor=user, ship_street="2 New Street")
    assert saved.ship_street == "2 New Street" and saved.cost == COST
    with pytest.raises(TypeError, match="Not editable"):
        order_update(order=order, actor=user, quantity=3)
    with pytest.raises(NotEditable, match="only orders on hold"):  # lines change on hold only
        order_line_update(line=only_line(order), quantity=3, actor=user)
    with pytest.raises(ValidationError) as street:
        order_update(order=order, actor=user, ship_street="")
    assert "street" in street.value.message_dict["ship_street"][0]
    order.refresh_from_db()
    assert (order.ship_street, only_line(order).quantity, order.status) == (
        "2 New Street",
        1,
        OrderStatus.SCHEDULED,
    )


def test_cancel_refunds_once_and_says_who_and_how_much(client):
    publisher, order = _scheduled(client)
    user = make_publisher_user(publisher, "maria")

    order_cancel(order=order, actor=user)
    with pytest.raises(NotEditable):
        order_cancel(order=order, actor=user)

    order.refresh_from_db()
    assert order.status == OrderStatus.DELETED
    refund = LedgerEntry.objects.get(order=order, kind=LedgerKind.REFUND)
    assert refund.amount == COST and refund.created_by == user
    event = OrderEvent.objects.get(order=order, kind=OrderEventKind.CANCELLED)
    assert event.detail == "Cancelled by maria: refunded $7.00; balance now $100.00."
    assert assert_money_invariants(publisher).balance == Decimal("100.00")
    assert orders_start_production(now=timezone.now() + timedelta(days=1)) == 0


def test_a_samcart_refund_only_flags_a_scheduled_order(client):
    publisher, order = _scheduled(client)
    refund = sample("refund").replace(b"35211874", b"4100")
    post_notify(client, publisher, refund)
    order.refresh_from_db()
    assert (order.status, order.cart_refunded) == (OrderStatus.SCHEDULED, True)


def test_api_shows_edits_and_cancels_a_scheduled_order(client):
    publisher, order = _scheduled(client)
    api = APIClient()
    api.force_authenticate(make_publisher_user(publisher))
    url = f"/api/v1/orders/{order.pk}/"

    shown = api.get(url).json()
    assert shown["status"] == "scheduled" and shown["production_at"]
    assert api.patch(url, {"ship_city": "Dallas"}, format="json").status_code == 200
    assert api.patch(url, {"ship_city": ""}, format="json").status_code == 400
    assert api.patch(url, {"quantity": 2}, format="json").status_code == 400
    assert api.delete(url).status_code == 204
    assert api.delete(url).status_code == 400

    order.refresh_from_db()
    assert (order.status, order.ship_city) == (OrderStatus.DELETED, "Dallas")
    assert LedgerEntry.objects.filter(order=order, kind=LedgerKind.REFUND).count() == 1
    assert_money_invariants(publisher)


def test_admin_and_account_page_show_production_time_cancel_and_refund(client):
    publisher, order = _scheduled(client)
    browser = Client()
    browser.force_login(make_publisher_user(publisher))

    listing = browser.get("/admin/fulfillment/order/").content.decode()
    assert "scheduled — production starts at" in listing
    page = browser.get(f"/admin/fulfillment/order/{order.pk}/change/").content.decode()
    assert "Cancel this order (refund)" in page and 'name="quantity"' not in page
    account = browser.get("/account/").content.decode()
    assert "Scheduled (edit window)" in account and f"Order #{order.pk}" in account

    answer = browser.post(
        "/admin/fulfillment/order/",
        {"action": "cancel_orders", "_selected_action": [order.pk], "index": 0},
        follow=True,
    )
    title = only_line(order).project.title
    assert (
        f"Order #{order.pk} cancelled (1 item: {title}): $7.00 refunded; balance now $100.00."
        in answer.content.decode()
    )
    account = browser.get("/account/").content.decode()
    assert "Refund $7.00" in account
    assert "Scheduled (edit window)" not in account


def test_the_account_page_sets_the_window_within_its_range():
    publisher = make_publisher()
    browser = Client()
    browser.force_login(make_publisher_user(publisher))
    form = {"publisher": publisher.idpub, "low_balance_threshold": "25"}

    browser.post("/account/alerts/", {**form, "production_delay_minutes": "90"})
    publisher.refresh_from_db()
    assert publisher.production_delay_minutes == 90
    refused = browser.post("/account/alerts/", {**form, "production_delay_minutes": "4321"})
    assert refused.status_code == 302
    publisher.refresh_from_db()
    assert publisher.production_delay_minutes == 90


@pytest.mark.parametrize("country", ["", "   "])
def test_a_scheduled_order_keeps_its_country_in_every_path(client, country):
    """Issue 17.4: emptying the country of a paid order (or typing spaces) is refused by the
    service, the API and the admin form alike; the check judged a copy that kept the old
    country code, so all three answered yes and the order went to production without one."""
    publisher, order = _scheduled(client)
    user = make_publisher_user(publisher)

    with pytest.raises(ValidationError) as refused:
        order_update(order=order, actor=user, ship_country=country)
    assert "a known country" in refused.value.message_dict["ship_street"][0]

    api = APIClient()
    api.force_authenticate(user)
    answer = api.patch(f"/api/v1/orders/{order.pk}/", {"ship_country": country}, format="json")
    assert answer.status_code == 400, answer.content

    browser = Client()
    browser.force_login(user)
    data = {name: getattr(order, name) for name in EDITABLE_WHEN_SCHEDULED}
    data.update(ship_country=country, _save="Save")
    page = browser.post(f"/admin/fulfillment/order/{order.pk}/change/", data)
    assert page.status_code == 200 and "a known country" in page.content.decode()

    order.refresh_from_db()
    assert (order.ship_country, order.ship_country_code) == ("United States", "US")
    assert order.status == OrderStatus.SCHEDULED


def test_the_window_ends_at_production_at_even_before_a_worker_moves_the_order(client):
    """Issue 17.7: with no worker running, after `production_at` the order is still stored as
    scheduled, yet every path refuses to edit or cancel it: the service, the API's PATCH and
    DELETE, the admin's form, action and button, the account page. (PATCH answered 200 and
    DELETE refunded: the paths judged the stored status, not the moment.)"""
    publisher, order = _scheduled(client)
    Order.objects.filter(pk=order.pk).update(production_at=timezone.now() - timedelta(seconds=7))
    order.refresh_from_db()
    user = make_publisher_user(publisher)

    with pytest.raises(NotEditable, match="edit window ended"):
        order_update(order=order, actor=user, ship_city="Dallas")
    with pytest.raises(NotEditable, match="edit window ended"):
        order_cancel(order=order, actor=user)

    api = APIClient()
    api.force_authenticate(user)
    url = f"/api/v1/orders/{order.pk}/"
    assert api.patch(url, {"ship_city": "Dallas"}, format="json").status_code == 400
    assert api.delete(url).status_code == 400

    browser = Client()
    browser.force_login(user)
    page = browser.get(f"/admin/fulfillment/order/{order.pk}/change/").content.decode()
    assert "Cancel this order (refund)" not in page and 'name="ship_city"' not in page
    answer = browser.post(
        "/admin/fulfillment/order/",
        {"action": "cancel_orders", "_selected_action": [order.pk], "index": 0},
        follow=True,
    )
    assert "edit window ended" in answer.content.decode()
    assert "Scheduled (edit window)" not in browser.get("/account/").content.decode()

    order.refresh_from_db()
    assert order.status == OrderStatus.SCHEDULED and order.ship_city != "Dallas"
    assert not LedgerEntry.objects.filter(order=order, kind=LedgerKind.REFUND).exists()
    assert orders_start_production() == 1  # the worker, when it runs, moves it on
    assert assert_money_invariants(publisher).balance == Decimal("93.00")


def test_order_remove_decides_delete_or_cancel_on_the_locked_row(client):
    """Issue 17.16: the API chose delete-or-cancel from the status it had read; `order_remove`
    decides under the locks, so an order read on hold and paid since is cancelled with its
    refund (not refused as "not on hold"), and a hold order is deleted."""
    publisher, order = _scheduled(client, balance="0.00")
    stale = Order.objects.get(pk=order.pk)
    assert stale.status == OrderStatus.HOLD
    deposit_record(publisher=publisher, amount=Decimal("7.00"), actor=None)
    orders_release(publisher=publisher, order_ids=[order.pk], actor=None)

    removed = order_remove(order=stale, actor=None)
    assert removed.status == OrderStatus.DELETED
    assert LedgerEntry.objects.filter(order=order, kind=LedgerKind.REFUND).count() == 1
    with pytest.raises(NotEditable):
        order_remove(order=stale, actor=None)

    post_notify(client, publisher, order_body(order_id=4101))  # $7.00 back: paid, scheduled
    post_notify(client, publisher, order_body(order_id=4102))  # nothing left: on hold
    held = Order.objects.get(publisher=publisher, status=OrderStatus.HOLD)
    assert order_remove(order=held, actor=None).status == OrderStatus.DELETED
    assert OrderEvent.objects.filter(order=held, kind=OrderEventKind.DELETED).count() == 1
    assert assert_money_invariants(publisher).balance == Decimal("0.00")
