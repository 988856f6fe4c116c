"""Issue 8, findings 2 and 11: prices are TrepStar's, and hold costs follow them (SPEC §7).

- 2 (free printing): a project a publisher adds is unconfirmed; its orders hold with
  `price_pending` whatever the balance; staff confirming the prices re-prices them and, with
  auto release, releases them. A publisher can set neither prices nor their confirmation.
- 11 (stale hold costs): a price change re-prices hold orders in the same transaction, so the
  order list, the API, the account page, the hold summary and the order page agree, and a
  release charges what they show.

Everything goes through real HTTP (Django's test client, DRF's client) and the real services.
"""

from __future__ import annotations

import re
import threading
import time
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connections, transaction
from django.test import Client
from django.urls import reverse
from django.utils.html import strip_tags
from rest_framework.test import APIClient

from fulfillment.models import LedgerEntry, LedgerKind, Order, OrderStatus, Project
from fulfillment.selectors import hold_summary
from fulfillment.services.ledger import ledger_record
from fulfillment.services.projects import project_update
from fulfillment.services.release import orders_release
from tests.admin_world import order_body
from tests.factories import (
    make_project,
    make_publisher,
    make_publisher_user,
    make_staff_user,
    post_notify,
)

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    """Return a test client with `user` logged in."""
    client = Client()
    client.force_login(user)
    return client


def api_for(user) -> APIClient:
    """Return an API client authenticated as `user` (session)."""
    api = APIClient()
    api.force_authenticate(user)
    return api


def charges_of(publisher) -> list[Decimal]:
    """Return the amounts of the publisher's charge entries, oldest first."""
    return list(
        LedgerEntry.objects.filter(publisher=publisher, kind=LedgerKind.CHARGE)
        .order_by("pk")
        .values_list("amount", flat=True)
    )


def staff_project_form(project: Project, **changes: object) -> dict[str, object]:
    """Return the staff change form of `project` as a browser would post it (box ticked)."""
    data: dict[str, object] = {
        "publisher": project.publisher_id,
        "title": project.title,
        "is_active": "on",
        "unit_cost": str(project.unit_cost),
        "shipping_cost": str(project.shipping_cost),
        "prices_confirmed": "on",
        "ecommerce_id_string": project.ecommerce_id_string,
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def change_url(project: Project) -> str:
    return reverse("admin:fulfillment_project_change", args=[project.pk])


# --- Finding 2: free printing ---------------------------------------------------------------


def test_a_project_a_publisher_adds_holds_its_orders_until_staff_confirm_prices():
    """The finding's story, end to end: 777001 added in the admin, 10,000 copies, no charge."""
    publisher = make_publisher(name="Lighthouse Press", balance="6000.00")
    publisher.auto_release = True
    publisher.save(update_fields=["auto_release"])
    manager = logged_in(make_publisher_user(publisher))

    response = manager.post(
        reverse("admin:fulfillment_project_add"),
        {"title": "Almanac 2027", "ecommerce_id_string": "777001", "is_active": "on"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    project = Project.objects.get(publisher=publisher, title="Almanac 2027")
    assert (project.unit_cost, project.shipping_cost) == (Decimal("0.00"), Decimal("0.00"))
    assert getattr(project, "prices_confirmed", False) is False

    answer = post_notify(
        Client(), publisher, order_body(order_id="91000001", product_id="777001", quantity=10000)
    )
    assert answer.status_code == 200
    order = Order.objects.get(publisher=publisher, lines__external_product_id="777001")
    quantity = order.lines.get().quantity
    assert (order.status, order.hold_reason, quantity) == ("hold", "price_pending", 10000)
    assert charges_of(publisher) == []
    publisher.refresh_from_db()
    assert publisher.balance == Decimal("6000.00")

    staff = logged_in(make_staff_user())
    response = staff.post(
        change_url(project),
        staff_project_form(project, unit_cost="0.50", shipping_cost="5.00"),
        follow=True,
    )
    assert response.status_code == 200
    shown = [str(m) for m in response.context["messages"]]
    assert any("1 hold order" in m and "Released 1 order ($5,005.00)" in m for m in shown), shown

    project.refresh_from_db()
    order.refresh_from_db()
    publisher.refresh_from_db()
    assert project.prices_confirmed is True
    assert (order.status, order.hold_reason, order.cost) == (
        OrderStatus.IN_PRODUCTION,
        "",
        Decimal("5005.00"),
    )
    assert charges_of(publisher) == [Decimal("-5005.00")]
    assert publisher.balance == Decimal("995.00")


def test_confirming_without_auto_release_re_prices_and_waits_for_payment():
    from fulfillment.services.projects import project_prices_set

    publisher = make_publisher(balance="100.00")
    project = make_project(
        publisher, "777001", unit_cost="0.00", shipping_cost="0.00", prices_confirmed=False
    )
    post_notify(Client(), publisher, order_body(order_id="91000002", product_id="777001"))
    order = Order.objects.get(publisher=publisher)
    assert (order.hold_reason, order.cost) == ("price_pending", Decimal("0.00"))
    staff = make_staff_user()

    change = project_prices_set(
        project=project, unit_cost=Decimal("4.00"), shipping_cost=Decimal("1.00"), actor=staff
    )

    order.refresh_from_db()
    assert (change.confirmed, change.repriced, change.released) == (True, 1, None)
    assert (order.status, order.hold_reason, order.cost) == ("hold", "payment_required", 5)
    assert charges_of(publisher) == []
    assert order.events.filter(actor=staff).exists()  # who re-priced it is on the order page


def test_staff_may_save_prices_unconfirmed_and_orders_keep_waiting():
    publisher = make_publisher(balance="100.00")
    project = make_project(
        publisher, "777001", unit_cost="0.00", shipping_cost="0.00", prices_confirmed=False
    )
    post_notify(Client(), publisher, order_body(order_id="91000003", product_id="777001"))
    staff = logged_in(make_staff_user())

    form = staff_project_form(project, unit_cost="3.00", prices_confirmed=None)
    assert staff.post(change_url(project), form).status_code == 302

    project.refresh_from_db()
    order = Order.objects.get(publisher=publisher)
    assert (project.unit_cost, project.prices_confirmed) == (Decimal("3.00"), False)
    assert (order.status, order.hold_reason, order.cost) == ("hold", "price_pending", 3)


def test_confirming_zero_prices_is_a_form_error_not_free_printing():
    from fulfillment.services.projects import ERROR_CONFIRM_FREE

    publisher = make_publisher(balance="100.00")
    project = make_project(
        publisher, "777001", unit_cost="0.00", shipping_cost="0.00", prices_confirmed=False
    )
    staff = logged_in(make_staff_user())

    response = staff.post(change_url(project), staff_project_form(project, title="Renamed"))

    assert response.status_code == 200
    assert ERROR_CONFIRM_FREE in response.content.decode()
    project.refresh_from_db()
    assert project.title != "Renamed"  # the form was refused as a whole
    assert project.prices_confirmed is False


def test_the_staff_form_ticks_prices_confirmed_and_the_list_shows_and_filters_it():
    publisher = make_publisher()
    pending = make_project(publisher, "1", title="Pending one", prices_confirmed=False)
    make_project(publisher, "2", title="Confirmed one")
    staff = logged_in(make_staff_user())

    form = staff.get(change_url(pending)).context["adminform"].form
    assert form["prices_confirmed"].value() is True  # saving prices confirms them

    listing = staff.get(reverse("admin:fulfillment_project_changelist"))
    assert "prices_confirmed" in listing.context["cl"].list_display
    filtered = staff.get(
        reverse("admin:fulfillment_project_changelist"), {"prices_confirmed__exact": "0"}
    )
    assert [p.title for p in filtered.context["cl"].result_list] == ["Pending one"]


def test_a_publisher_sees_that_prices_are_pending_and_cannot_set_them_in_the_admin():
    from fulfillment.admin.projects import PRICES_PENDING

    publisher = make_publisher()
    manager = logged_in(make_publisher_user(publisher))
    manager.post(
        reverse("admin:fulfillment_project_add"),
        {
            "title": "Sneaky",
            "ecommerce_id_string": "777001",
            "is_active": "on",
            "unit_cost": "0.01",
            "shipping_cost": "0.00",
            "prices_confirmed": "on",
        },
    )
    project = Project.objects.get(title="Sneaky")
    assert (project.unit_cost, project.prices_confirmed) == (Decimal("0.00"), False)

    page = manager.get(change_url(project))
    fields = page.context["adminform"].form.fields
    assert not {"unit_cost", "shipping_cost", "prices_confirmed"} & fields.keys()
    assert PRICES_PENDING in page.content.decode()

    manager.post(
        change_url(project),
        {
            "title": "Sneaky",
            "ecommerce_id_string": "777001",
            "is_active": "on",
            "unit_cost": "0.01",
            "prices_confirmed": "on",
        },
    )
    project.refresh_from_db()
    assert (project.unit_cost, project.prices_confirmed) == (Decimal("0.00"), False)


@pytest.mark.parametrize("who", ["publisher", "staff"])
def test_the_api_shows_prices_confirmed_and_no_one_sets_prices_through_it(who):
    publisher = make_publisher()
    project = make_project(publisher, "777001", unit_cost="0.00", prices_confirmed=False)
    user = make_publisher_user(publisher) if who == "publisher" else make_staff_user()
    api = api_for(user)

    response = api.patch(
        f"/api/v1/projects/{project.pk}/",
        {"unit_cost": "0.01", "shipping_cost": "0.01", "prices_confirmed": True},
        format="json",
    )

    assert response.status_code == 200, response.content  # read-only fields are ignored
    project.refresh_from_db()
    assert (project.unit_cost, project.shipping_cost, project.prices_confirmed) == (
        Decimal("0.00"),
        Decimal("2.00"),
        False,
    )
    assert api.get(f"/api/v1/projects/{project.pk}/").json()["prices_confirmed"] is False


# --- Finding 11: hold costs follow the prices ------------------------------------------------


@pytest.fixture
def seven_dollar_hold():
    """A publisher with no money and one hold order at $7.00 ($5.00 × 1 + $2.00)."""
    publisher = make_publisher()
    project = make_project(publisher, "279813", unit_cost="5.00", shipping_cost="2.00")
    post_notify(Client(), publisher, order_body(order_id="92000001"))
    order = Order.objects.get(publisher=publisher)
    assert (order.status, order.cost) == (OrderStatus.HOLD, Decimal("7.00"))
    return publisher, project, order


def order_page_cost(client: Client, order: Order) -> str:
    """Return the text of the cost line of the order's admin page."""
    response = client.get(reverse("admin:fulfillment_order_change", args=[order.pk]))
    for fieldset in response.context["adminform"]:
        for line in fieldset:
            for field in line:
                if field.is_readonly and field.field["name"] == "cost_summary":
                    return strip_tags(field.contents())
    raise AssertionError("the order page has no cost line")


def account_hold_line(client: Client) -> str:
    """Return the "orders on hold" line of the account page."""
    page = client.get(reverse("account")).content.decode()
    found = re.search(r'id="hold-summary">(.*?)</p>', page, re.S)
    assert found, "the account page has no hold summary"
    return strip_tags(found.group(1))


def assert_everywhere(publisher, order: Order, staff_user, shown: str, not_shown: str) -> None:
    """Check the order list, API, account page, hold summary and order page all agree."""
    publisher_user = make_publisher_user(publisher)
    page = logged_in(publisher_user)
    listing = page.get(reverse("admin:fulfillment_order_changelist")).content.decode()
    assert shown in listing and not_shown not in listing
    assert order_page_cost(page, order).startswith(f"{shown} (")
    assert shown in account_hold_line(page)
    assert hold_summary(publisher).total == Decimal(shown.lstrip("$"))
    for user in (publisher_user, staff_user):
        api = api_for(user)
        assert api.get(f"/api/v1/orders/{order.pk}/").json()["cost"] == shown.lstrip("$")
        listed = api.get("/api/v1/orders/", {"status": "hold"}).json()["results"]
        assert [o["cost"] for o in listed if o["id"] == order.pk] == [shown.lstrip("$")]


def test_staff_raising_a_price_in_the_admin_re_prices_hold_orders_at_once(seven_dollar_hold):
    publisher, project, order = seven_dollar_hold
    staff_user = make_staff_user()
    staff = logged_in(staff_user)

    response = staff.post(change_url(project), staff_project_form(project, unit_cost="50.00"))

    assert response.status_code == 302
    order.refresh_from_db()
    assert order.cost == Decimal("52.00")
    assert_everywhere(publisher, order, staff_user, "$52.00", "$7.00")
    ledger_record(publisher_id=publisher.pk, amount=Decimal("100.00"), kind=LedgerKind.DEPOSIT)
    result = orders_release(publisher=publisher, order_ids=[order.pk], actor=staff_user)
    assert [o.pk for o in result.released] == [order.pk]
    assert charges_of(publisher) == [Decimal("-52.00")]
    assert "$52.00" in result.message


def test_a_price_change_through_the_service_re_prices_hold_orders(seven_dollar_hold):
    publisher, project, order = seven_dollar_hold

    project_update(project=project, unit_cost=Decimal("50.00"))

    order.refresh_from_db()
    assert order.cost == Decimal("52.00")
    assert hold_summary(publisher).total == Decimal("52.00")


def test_a_price_change_leaves_charged_orders_alone(seven_dollar_hold):
    publisher, project, charged = seven_dollar_hold
    ledger_record(publisher_id=publisher.pk, amount=Decimal("7.00"), kind=LedgerKind.DEPOSIT)
    orders_release(publisher=publisher, order_ids=[charged.pk], actor=None)
    post_notify(Client(), publisher, order_body(order_id="92000002"))
    held = Order.objects.get(external_order_id="92000002")
    assert held.status == OrderStatus.HOLD  # the balance is zero again

    project_update(project=project, shipping_cost=Decimal("3.00"))

    charged.refresh_from_db()
    held.refresh_from_db()
    assert (charged.status, charged.cost) == (OrderStatus.IN_PRODUCTION, Decimal("7.00"))
    assert charges_of(publisher) == [Decimal("-7.00")]
    assert (held.status, held.cost) == (OrderStatus.HOLD, Decimal("8.00"))


def test_the_order_page_no_longer_contradicts_itself(seven_dollar_hold):
    _, project, order = seven_dollar_hold
    staff = logged_in(make_staff_user())
    staff.post(change_url(project), staff_project_form(project, unit_cost="50.00"))

    line = order_page_cost(staff, order)

    assert line.startswith("$52.00 ($50.00 × 1 + $2.00 shipping"), line


# --- A sibling found on the way: a notification racing a price confirmation -----------------


def _wait_for_a_lock_wait() -> None:
    """Return once another session of this database waits on a row lock (bounded)."""
    with connections["default"].cursor() as cursor:
        for _ in range(3000):
            # pg_locks is live (pg_stat_activity would be frozen within this transaction).
            cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
            if cursor.fetchone()[0]:
                return
            time.sleep(0.01)
    raise AssertionError("the notification never waited for the publisher lock")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_notification_racing_a_price_confirmation_gets_the_confirmed_price():
    from fulfillment.services.projects import project_prices_set

    publisher = make_publisher(balance="100.00")
    project = make_project(
        publisher, "777001", unit_cost="0.00", shipping_cost="0.00", prices_confirmed=False
    )
    answers: list[int] = []

    def deliver() -> None:
        body = order_body(order_id="93000001", product_id="777001")
        answers.append(post_notify(Client(), publisher, body).status_code)
        connections.close_all()

    thread = threading.Thread(target=deliver)
    with transaction.atomic():
        # Staff confirm: the publisher row stays locked until this transaction commits.
        project_prices_set(
            project=project, unit_cost=Decimal("4.00"), shipping_cost=Decimal("1.00"), actor=None
        )
        thread.start()
        _wait_for_a_lock_wait()  # the notification matched the project and waits for the lock
    thread.join(60)

    assert answers == [200]
    order = Order.objects.get(publisher=publisher)
    assert order.hold_reason != "price_pending", "held for a price that was confirmed"
    assert (order.status, order.cost) == (OrderStatus.IN_PRODUCTION, Decimal("5.00"))


def test_a_project_with_orders_cannot_move_to_another_publisher(seven_dollar_hold):
    """A sibling of finding 11: its orders would stay with one publisher, its prices another."""
    from fulfillment.services.projects import ERROR_MOVE_WITH_ORDERS, project_save

    publisher, project, _ = seven_dollar_hold
    other = make_publisher()
    staff = logged_in(make_staff_user())

    response = staff.post(change_url(project), staff_project_form(project, publisher=other.pk))

    assert response.status_code == 200
    assert ERROR_MOVE_WITH_ORDERS in response.content.decode()
    project.refresh_from_db()
    assert project.publisher_id == publisher.pk
    project.publisher = other
    with pytest.raises(ValidationError) as refused:
        project_save(project=project)
    assert refused.value.message_dict == {"publisher": [ERROR_MOVE_WITH_ORDERS]}
    assert Project.objects.get(pk=project.pk).publisher_id == publisher.pk
