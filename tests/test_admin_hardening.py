"""Issue 8 in the admin: edit validation, refused/stuck notifications, reprocess confirmation,
staff-only columns and hostile filter values (findings 3, 12, 15, 16, 17)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from fulfillment.admin.base import PublisherScopedAdmin, _filter_name
from fulfillment.models import Notification, Order, OrderStatus, Outcome, Publisher
from tests.admin_world import World, box_body, line_field, notify, order_body, page_form_data
from tests.factories import post_notify

pytestmark = pytest.mark.django_db

ORDER_CHANGE = "admin:fulfillment_order_change"
NOTIFICATIONS = "admin:fulfillment_notification_changelist"
ERROR_QUANTITY = "Enter a whole number of copies from 1 to 10,000."


@pytest.fixture
def staff_client(world: World) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(world.staff)
    return client


@pytest.fixture
def a_web(world: World) -> Client:
    """Publisher A's client that answers 500 like a server instead of raising."""
    client = Client(raise_request_exception=False)
    client.force_login(world.a_user)
    return client


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def form_data(order: Order, **changes: object) -> dict[str, object]:
    """Return the order form's POST data as the page shows it, with `changes` applied; a
    `quantity` change is the box's one line's."""
    if "quantity" in changes:
        changes[line_field(order.lines.get())] = changes.pop("quantity")
    return page_form_data(order, **changes)


def line_quantity(order: Order) -> int:
    """Return the quantity of a one-item box's line, as stored."""
    return order.lines.get().quantity


# Finding 12: a value SamCart sent does not block an unrelated edit ------------------------


@pytest.fixture
def odd_email_order(world: World) -> Order:
    """A hold order of A whose SamCart e-mail is not an e-mail address."""
    body = order_body(order_id="12120001", email="not an email")
    order = notify(world.a, body).orders.get()
    assert order.status == OrderStatus.HOLD and order.customer_email == "not an email"
    return order


def test_quantity_changes_although_samcart_email_is_invalid(odd_email_order, a_web):
    url = reverse(ORDER_CHANGE, args=[odd_email_order.pk])
    response = a_web.post(url, form_data(odd_email_order, quantity=3))
    assert response.status_code == 302, response.context["adminform"].form.errors
    order = Order.objects.get(pk=odd_email_order.pk)
    assert (line_quantity(order), order.customer_email) == (3, "not an email")
    assert order.cost == Decimal("17.00")  # $5.00 × 3 + $2.00


def test_a_changed_email_is_still_validated(odd_email_order, a_web):
    url = reverse(ORDER_CHANGE, args=[odd_email_order.pk])
    response = a_web.post(url, form_data(odd_email_order, customer_email="still wrong"))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["customer_email"] == [
        "Enter a valid email address."
    ]
    assert Order.objects.get(pk=odd_email_order.pk).customer_email == "not an email"


@pytest.mark.parametrize("quantity", ["0", "-1", "10001", "2147483647", "9" * 30, "abc", "1.5"])
def test_admin_quantity_outside_the_limit_is_a_form_error(world, a_web, quantity):
    order = world.a_hold
    url = reverse(ORDER_CHANGE, args=[order.pk])
    response = a_web.post(url, form_data(order, quantity=quantity))
    assert response.status_code == 200
    field = line_field(order.lines.get())
    assert response.context["adminform"].form.errors[field] == [ERROR_QUANTITY]
    assert line_quantity(order) == 1


def test_admin_quantity_at_the_limit_is_saved(world, a_web):
    url = reverse(ORDER_CHANGE, args=[world.a_hold.pk])
    assert a_web.post(url, form_data(world.a_hold, quantity=10_000)).status_code == 302
    assert line_quantity(world.a_hold) == 10_000


# Finding 17: staff-only columns name real columns -----------------------------------------


def scoped_admins() -> list[PublisherScopedAdmin]:
    return [a for a in admin.site._registry.values() if isinstance(a, PublisherScopedAdmin)]


@pytest.mark.parametrize("model_admin", scoped_admins(), ids=lambda a: type(a).__name__)
def test_staff_only_names_are_columns_and_filters_of_the_class(model_admin):
    columns = set(model_admin.list_display)
    filters = {_filter_name(f) for f in model_admin.list_filter}
    assert set(model_admin.staff_only_columns) <= columns
    assert set(model_admin.staff_only_filters) <= filters
    assert not [e for e in model_admin.check() if e.id.startswith("fulfillment.")]


def test_the_admin_check_reports_a_staff_only_name_that_is_no_column():
    class Broken(PublisherScopedAdmin):
        list_display = ("created_at", "publisher")
        list_filter = ("kind",)
        staff_only_columns = ("publisher_name",)
        staff_only_filters = ("publisher",)

    from fulfillment.models import LedgerEntry

    errors = Broken(LedgerEntry, admin.site).check()
    ids = sorted(e.id for e in errors if e.id.startswith("fulfillment."))
    assert ids == ["fulfillment.E201", "fulfillment.E202"]


def test_publisher_ledger_list_has_no_publisher_column(world, a_web, staff_client):
    url = reverse("admin:fulfillment_ledgerentry_changelist")
    response = a_web.get(url)
    shown = response.context["cl"].list_display
    assert not [c for c in shown if "publisher" in c]
    assert "column-publisher" not in response.content.decode()
    staff = staff_client.get(url)
    assert "publisher_name" in staff.context["cl"].list_display


def test_no_publisher_sees_a_publisher_column_or_filter_anywhere(world, a_web):
    for model_admin in scoped_admins():
        opts = model_admin.model._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        response = a_web.get(url)
        if response.status_code == 403:
            continue
        assert response.status_code == 200, url
        cl = response.context["cl"]
        assert not [c for c in cl.list_display if "publisher" in c], url
        assert not [f for f in cl.filter_specs if f.title.startswith("publisher")], url


# Finding 3: accepted by default, refused one filter away ---------------------------------


@pytest.fixture
def refused(world: World) -> list[Notification]:
    """Three wrong-key requests to A from one address."""
    client = Client(REMOTE_ADDR="203.0.113.9")
    for i in range(3):
        post_notify(client, world.a, order_body(order_id=f"1313000{i}"), key="wrong")
    rows = list(Notification.objects.filter(publisher=world.a, http_status=403))
    assert len(rows) == 3
    return rows


def listed(client: Client, **params: str) -> set[int]:
    return {n.pk for n in client.get(reverse(NOTIFICATIONS), params).context["cl"].result_list}


def test_notification_list_shows_accepted_by_default_and_refused_on_request(
    world, refused, a_web, staff_client
):
    refused_ids = {n.pk for n in refused}
    mine = Notification.objects.filter(publisher=world.a).exclude(http_status=403)
    accepted = set(mine.values_list("pk", flat=True))
    assert accepted and listed(a_web) == accepted
    assert listed(a_web, refused="1") == refused_ids
    assert listed(a_web, refused="all") == accepted | refused_ids
    assert not listed(staff_client) & refused_ids
    assert listed(staff_client, refused="1") == refused_ids


def test_notification_list_header_counts_refused_requests_of_the_last_day(world, refused, a_web):
    from fulfillment.models import RefusedRequestTally  # new in issue 8

    old = refused[0]
    Notification.objects.filter(pk=old.pk).update(received_at=timezone.now() - timedelta(days=2))
    now = timezone.now()
    RefusedRequestTally.objects.create(
        publisher=world.a,
        hour=now.replace(minute=0, second=0, microsecond=0),
        count=34,
        last_remote_addr="198.51.100.7",
        last_at=now,
    )
    page = a_web.get(reverse(NOTIFICATIONS)).content.decode()
    assert "36 requests with a wrong key in the last 24 h, last from 198.51.100.7" in page
    assert '<a href="?refused=1">Show refused requests</a>' in page
    b_client = Client()
    b_client.force_login(world.b_user)
    page = b_client.get(reverse(NOTIFICATIONS)).content.decode()
    assert "No request with a wrong key in the last 24 h." in page


# Finding 16: stuck notifications ---------------------------------------------------------


@pytest.fixture
def stuck(world: World) -> Notification:
    """A's notification stored two minutes ago whose processing never ran."""
    row = Notification.objects.create(
        publisher=world.a,
        raw_body=order_body(order_id="16160001"),
        content_type="application/json",
        idpub_given=world.a.idpub,
    )
    Notification.objects.filter(pk=row.pk).update(received_at=timezone.now() - timedelta(minutes=2))
    return row


def test_stuck_notifications_have_a_filter_and_a_badge(world, stuck, a_web):
    fresh = Notification.objects.create(publisher=world.a, raw_body=b"{}")
    assert listed(a_web, stuck="1") == {stuck.pk}
    page = a_web.get(reverse(NOTIFICATIONS)).content.decode()
    assert "stuck (never processed)" in page and "?stuck=1" in page
    assert page.count("stuck — reprocess it") == 1
    assert fresh.pk in listed(a_web, outcome__exact="")


def test_publisher_reprocesses_a_stuck_notification_from_its_page(world, stuck, a_web):
    page = reverse("admin:fulfillment_notification_change", args=[stuck.pk])
    assert "Reprocess</button>" in a_web.get(page).content.decode()
    url = reverse("admin:fulfillment_notification_reprocess", args=[stuck.pk])
    response = a_web.post(url, follow=True)
    assert response.status_code == 200
    stuck.refresh_from_db()
    assert stuck.outcome == Outcome.CREATED
    assert stuck.orders.count() == 1


# Finding 15: reprocess after a re-mapping asks first --------------------------------------


@pytest.fixture
def remapped(world: World) -> tuple[Notification, Order]:
    """A's box for 279813 in project "Alpha Almanac"; then 279813 moves to another project.

    The notification is marked `error` (as if it had failed later) so A may reprocess it.
    """
    from tests.factories import make_project

    # A two-item box first, so that the box's id and its line's id differ (the page must link
    # boxes, not lines).
    notify(world.a, box_body(order_id="15150000", products=[("279813", 1), ("294010", 1)]))
    notification = notify(world.a, order_body(order_id="15150001"))
    first = notification.orders.get()
    assert first.pk != first.lines.get().pk
    world.a_project.ecommerce_id_string = ""
    from fulfillment.services.projects import project_save

    project_save(project=world.a_project)
    make_project(world.a, "279813", title="Alpha Almanac, new edition")
    Notification.objects.filter(pk=notification.pk).update(outcome=Outcome.ERROR)
    return notification, first


def test_reprocess_action_asks_before_a_second_order_for_a_moved_line(world, remapped, a_web):
    notification, first = remapped
    data = {"action": "reprocess", "_selected_action": [notification.pk], "index": 0}
    page = a_web.post(reverse(NOTIFICATIONS), data)
    assert page.status_code == 200
    content = page.content.decode()
    assert "Create anyway" in content
    assert reverse(ORDER_CHANGE, args=[first.pk]) in content
    assert Order.objects.filter(external_order_id="15150001").count() == 1
    confirm = {"action": "reprocess", "_selected_action": [notification.pk], "allow_remapped": "1"}
    response = a_web.post(reverse(NOTIFICATIONS), confirm, follow=True)
    assert response.status_code == 200
    # The moved line joins the open box of its SamCart order (on hold, same address, §18).
    assert Order.objects.filter(external_order_id="15150001").count() == 1
    titles = [line.project.title for line in first.lines.order_by("id")]
    assert titles == ["Alpha Almanac", "Alpha Almanac, new edition"]
    again = a_web.post(reverse(NOTIFICATIONS), confirm, follow=True)
    assert again.status_code == 200
    assert first.lines.count() == 2  # exactly once: a second consent adds nothing


def test_reprocess_button_asks_and_cancel_creates_nothing(world, remapped, a_web):
    notification, first = remapped
    url = reverse("admin:fulfillment_notification_reprocess", args=[notification.pk])
    page = a_web.post(url)
    content = page.content.decode()
    assert page.status_code == 200 and "Create anyway" in content
    assert reverse(ORDER_CHANGE, args=[first.pk]) in content
    cancel = reverse("admin:fulfillment_notification_change", args=[notification.pk])
    assert f'href="{cancel}"' in content
    assert a_web.get(cancel).status_code == 200
    assert Order.objects.filter(external_order_id="15150001").count() == 1
    response = a_web.post(url, {"allow_remapped": "1"})
    assert response.status_code == 302
    assert Order.objects.filter(external_order_id="15150001").count() == 1  # one box
    assert first.lines.count() == 2  # the moved line joined it


# Hostile filter values on every changelist ----------------------------------------------

BAD_QUERIES = [
    {"status__exact": "\x00"},
    {"q": "\x00"},
    {"project__id__exact": "abc"},
    {"publisher__id__exact": "abc"},
    {"o": "999"},
    {"o": "abc.-x"},
    {"p": "-1"},
    {"p": "abc"},
    {"p": "99999999999999999999"},
    {"outcome__exact": "\x00"},
    {"outcome__exact": "stuck"},
    {"stuck": "\x00"},
    {"refused": "\xff"},
    {"kind__exact": "\x00"},
    {"is_test__exact": "maybe"},
    {"received_at__year": "abc"},
    {"received_at__month": "13", "received_at__year": "2026"},
    {"received_at__day": "99", "received_at__month": "1", "received_at__year": "2026"},
    {"_facets": "1"},
    {"_facets": "1", "refused": "1"},
    {"all": "", "e": "1"},
    {"_to_field": "raw_body"},
    {"nonexistent__lookup": "1"},
    {"q": "x y " * 2048},  # gunicorn's request-line limit (4 KiB) caps real query strings
]
# Our admin classes also refuse searches no field could match (1 MiB: runserver accepts it).
LONG_SEARCH = {"q": "x" * (1024 * 1024)}


@pytest.mark.parametrize("who", ["publisher", "staff"])
def test_every_changelist_answers_bad_filter_values_without_a_500(world, who, a_web, staff_client):
    client = a_web if who == "publisher" else staff_client
    failures = []
    for model_admin in admin.site._registry.values():
        opts = model_admin.model._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        queries = BAD_QUERIES
        if isinstance(model_admin, PublisherScopedAdmin):
            queries = [*BAD_QUERIES, LONG_SEARCH]
        for query in queries:
            status = client.get(url, query).status_code
            if status >= 500:
                failures.append((url, {k: v[:20] for k, v in query.items()}, status))
    assert not failures


def test_an_over_long_search_says_so(world, a_web):
    response = a_web.get(reverse("admin:fulfillment_order_changelist"), {"q": "x" * 300})
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == []
    assert texts(response) == ["Search for at most 256 characters."]
    found = a_web.get(reverse("admin:fulfillment_order_changelist"), {"q": "Rosalind"})
    assert world.a_hold in found.context["cl"].result_list


# Siblings found on the way: staff pages with hostile values --------------------------------


@pytest.mark.parametrize("ids", ["²", "1,²,3", "99999999999999999999", "-1", "%00"])
def test_ship_page_ignores_ids_that_are_not_plain_numbers(world, staff_client, ids):
    # "²".isdigit() is True but int("²") raises: the page answered 500.
    url = reverse("admin:fulfillment_order_ship")
    assert staff_client.get(url, {"ids": ids}).status_code == 302
    assert staff_client.post(url, {"order": ids.split(",")}).status_code == 302
    assert Order.objects.get(pk=world.b_production.pk).status == OrderStatus.IN_PRODUCTION


@pytest.mark.parametrize("kind", ["deposit", "adjustment"])
def test_a_deposit_the_balance_cannot_hold_is_a_form_error(world, staff_client, kind):
    # The balance column holds 10 digits before the point; on PostgreSQL this answered 500.
    url = reverse("admin:fulfillment_publisher_balance", args=[world.b.pk])
    data = {"kind": kind, "amount": "9999999999.99", "note": "typo"}
    response = staff_client.post(url, data)
    assert response.status_code == 200
    assert response.context["form"].errors["amount"] == [
        "Enter at most $1,000,000.00 either way; record a larger sum in parts."
    ]
    assert Publisher.objects.get(pk=world.b.pk).balance == world.b.balance
