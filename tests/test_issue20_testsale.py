"""Issue 20 #10: test sales from the account page, test orders never "payment required",
and test orders cleaned up (after 7 days, or at once with *Clear test orders*)."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from fulfillment.admin.orders import status_text
from fulfillment.limits import TEST_SALES_PER_MINUTE
from fulfillment.models import (
    HoldReason,
    LedgerEntry,
    LedgerKind,
    Notification,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    Outcome,
)
from fulfillment.services.ledger import ledger_record
from fulfillment.services.pruning import old_test_orders_prune, publisher_test_orders_clear
from fulfillment.services.schedule import schedule_tick
from fulfillment.services.status import hold_reason_label
from fulfillment.tasks import SCHEDULE, prune_test_orders
from tests.admin_world import PASSWORD, notify, order_body
from tests.factories import make_project, make_publisher_user, notify_path

pytestmark = pytest.mark.django_db

SEND = reverse("account-test-sale")
CLEAR = reverse("account-clear-test-orders")


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def send(client: Client, kind: str, product: str = "", **extra: str):
    return client.post(SEND, {"kind": kind, "product": product, **extra})


def sent_notification(response) -> Notification:
    """Return the test notification the redirect after a test sale names."""
    location = response["Location"]
    assert location.endswith("#test-sale"), location
    pk = int(location.split("test_sale=")[1].split("#")[0])
    return Notification.objects.get(pk=pk)


# --- Sending -----------------------------------------------------------------------------


def test_a_mapped_test_sale_goes_through_the_notify_path_and_makes_a_test_order(world, a_client):
    response = send(a_client, "mapped", "279813")
    assert response.status_code == 302
    note = sent_notification(response)
    # Stored as SamCart's POST with test=1 would be: a test notification with its answer.
    assert (note.publisher, note.is_test, note.outcome, note.http_status) == (
        world.a,
        True,
        Outcome.CREATED,
        200,
    )
    assert (note.event_type, note.content_type, note.idpub_given) == (
        "Order",
        "application/json",
        world.a.idpub,
    )
    assert note.remote_addr == "127.0.0.1"
    body = json.loads(bytes(note.raw_body))
    assert body["products"][0]["id"] == 279813
    assert note.external_order_id.startswith("TEST-")  # never a real SamCart order id
    (order,) = Order.objects.filter(lines__notification=note)
    assert (order.is_test, order.status, order.publisher) == (True, OrderStatus.HOLD, world.a)
    assert order.ship_street == "1 Sample Street"
    assert LedgerEntry.objects.filter(order=order).count() == 0  # never charged
    assert texts(response) == ["Test sale sent to your Notify URL. Its answer: 200 created."]
    # The page shows what happened: the answer and links to the notification and the order.
    page = a_client.get(response["Location"]).content.decode()
    assert 'id="test-sale-result"' in page
    assert '<span class="ts-badge ts-outcome-created" id="test-sale-outcome">created' in page
    assert f'href="/admin/fulfillment/notification/{note.pk}/change/"' in page
    assert f'href="/admin/fulfillment/order/{order.pk}/change/"' in page
    assert f"Test order #{order.pk}" in page
    assert note.detail in page.replace("&#x27;", "'")


def test_a_test_sale_is_stored_like_a_post_with_test_1(world, a_client):
    """The same body POSTed to the Notify URL with test=1 gives the same outcome and rows."""
    note = sent_notification(send(a_client, "mapped", "294010"))
    body = json.loads(bytes(note.raw_body))
    body["order"]["id"] = "TEST-SAME-SHAPE"
    posted = Client().post(
        notify_path(world.a, test=True), data=json.dumps(body), content_type="application/json"
    )
    twin = Notification.objects.get(pk=posted.json()["notification"])
    fields = ("is_test", "outcome", "http_status", "event_type", "content_type", "idpub_given")
    assert [getattr(note, f) for f in fields] == [getattr(twin, f) for f in fields]
    mine, theirs = (Order.objects.get(lines__notification=n) for n in (note, twin))
    assert (mine.is_test, mine.status, mine.hold_reason, mine.cost) == (
        theirs.is_test,
        theirs.status,
        theirs.hold_reason,
        theirs.cost,
    )


def test_an_unmapped_test_sale_answers_no_match_and_makes_nothing(world, a_client):
    orders = Order.objects.count()
    response = send(a_client, "unmapped")
    note = sent_notification(response)
    assert (note.is_test, note.outcome, note.http_status) == (True, Outcome.NO_MATCH, 200)
    product = json.loads(bytes(note.raw_body))["products"][0]["id"]
    assert product.startswith("unmapped-test-")
    assert product in note.detail
    assert Order.objects.count() == orders
    assert texts(response) == ["Test sale sent to your Notify URL. Its answer: 200 no_match."]
    page = a_client.get(response["Location"]).content.decode()
    assert "no order made" in page
    assert 'id="test-sale-outcome">no_match' in page


def test_an_incomplete_address_test_sale_holds_a_test_order_address_incomplete(world, a_client):
    note = sent_notification(send(a_client, "incomplete_address", "279813"))
    assert (note.outcome, note.http_status) == (Outcome.CREATED, 200)
    (order,) = Order.objects.filter(lines__notification=note)
    assert (order.is_test, order.status, order.hold_reason, order.ship_street) == (
        True,
        OrderStatus.HOLD,
        HoldReason.ADDRESS_INCOMPLETE,
        "",
    )
    assert "address incomplete" in status_text(order)


def test_the_page_offers_the_choices_and_the_publishers_product_ids(world, a_client):
    page = a_client.get(reverse("account")).content.decode()
    assert 'id="send-test-sale"' in page
    for kind in ("mapped", "unmapped", "incomplete_address"):
        assert f'value="{kind}"' in page
    assert '<option value="279813">279813 — Alpha Almanac</option>' in page
    assert '<option value="294010">294010 — Alpha Workbook</option>' in page
    assert "Beta Hidden Planner" not in page  # B's project is never offered


def test_a_publisher_without_mapped_products_can_send_only_the_unmapped_test(world, a_client):
    world.a.projects.update(is_active=False)
    page = a_client.get(reverse("account")).content.decode()
    assert 'id="test-sale-no-products"' in page
    assert 'value="mapped" id="test-sale-mapped" disabled' in page
    response = send(a_client, "mapped")
    assert "none of your active projects lists a SamCart product ID" in texts(response)[0]
    assert not Notification.objects.filter(publisher=world.a, is_test=True).exists()


# --- Who may send, and hostile input --------------------------------------------------------


def test_a_viewer_sees_no_button_and_a_post_answers_403(world):
    viewer = login(make_publisher_user(world.a, "alpha-viewer", PASSWORD, role="viewer"))
    page = viewer.get(reverse("account")).content.decode()
    assert 'id="send-test-sale"' not in page and 'id="clear-test-orders"' not in page
    assert 'id="test-sale-manager-only"' in page
    before = Notification.objects.count()
    assert send(viewer, "mapped", "279813").status_code == 403
    assert viewer.post(CLEAR, {}).status_code == 403
    assert Notification.objects.count() == before


def test_another_publishers_login_cannot_send_for_a(world):
    """B's manager naming A's publisher ID is refused (404, as every page naming another
    publisher) and nothing is stored for A; B's own test sale stays B's."""
    b_client = login(world.b_user)
    before = Notification.objects.filter(publisher=world.a).count()
    response = send(b_client, "mapped", "279813", publisher=world.a.idpub)
    assert response.status_code in (403, 404)
    assert b_client.post(CLEAR, {"publisher": world.a.idpub}).status_code in (403, 404)
    assert Notification.objects.filter(publisher=world.a).count() == before
    # B may not see A's test sale either: the ?test_sale= of another publisher shows nothing.
    a_note = sent_notification(send(login(world.a_user), "unmapped"))
    page = b_client.get(f"{reverse('account')}?test_sale={a_note.pk}").content.decode()
    assert 'id="test-sale-result"' not in page
    assert a_note.detail not in page


def test_a_product_id_of_another_publisher_or_unmapped_is_refused(world, a_client):
    make_project(world.b, "4242", title="Beta Only")
    before = Notification.objects.count()
    for product in ("4242", "999999", "x" * 300):
        response = send(a_client, "mapped", product)
        assert response.status_code in (302, 400), product
    assert Notification.objects.count() == before


@pytest.mark.parametrize(
    "data",
    [{}, {"kind": "bogus"}, {"kind": ""}, {"kind": ["mapped", "x"]}, {"kind": "\x00"}],
)
def test_bad_parameters_answer_400_never_500(world, a_client, data):
    response = a_client.post(SEND, data)
    assert response.status_code == 400
    said = response.content.decode()
    assert "Choose what the test sale tries" in said or "NUL byte" in said
    assert not Notification.objects.filter(is_test=True).exists()
    assert a_client.get(SEND).status_code == 405


def test_a_malformed_test_sale_id_on_the_page_is_ignored(world, a_client):
    for value in ("abc", "-1", "9" * 40, "²"):
        response = a_client.get(reverse("account"), {"test_sale": value})
        assert response.status_code == 200
        assert 'id="test-sale-result"' not in response.content.decode()


def test_a_publisher_cannot_flood_the_notify_url_with_test_sales(world, a_client):
    if time.time() % 60 > 45:  # the limit counts in fixed minutes: start early in one
        time.sleep(61 - time.time() % 60)
    for _ in range(TEST_SALES_PER_MINUTE):
        assert send(a_client, "unmapped").status_code == 302
    response = send(a_client, "unmapped")
    assert texts(response)[-1] == (
        "No test sale sent: at most 10 test sales a minute. Try again in a minute."
    )
    assert Notification.objects.filter(publisher=world.a, is_test=True).count() == 10
    # The limit is per publisher: B still sends.
    sent_notification(send(login(world.b_user), "unmapped"))


def test_staff_send_a_test_sale_for_the_publisher_they_look_at(world):
    staff = login(world.staff)
    response = send(staff, "mapped", "279813", publisher=world.a.idpub)
    note = sent_notification(response)
    assert note.publisher == world.a
    assert f"publisher={world.a.idpub}" in response["Location"]


# --- Test orders never say "payment required" ---------------------------------------------


def test_a_test_order_never_says_payment_required(world, a_client):
    """A's balance ($1.00) covers nothing: a real order holds "payment required"; a test one
    never says it, in the answer, the events, the list or the order page."""
    note = sent_notification(send(a_client, "mapped", "279813"))
    order = Order.objects.get(lines__notification=note)
    assert order.hold_reason == HoldReason.PAYMENT_REQUIRED  # the stored contract string
    assert hold_reason_label(order) == "test order: never charged"
    assert "payment required" not in note.detail
    assert "Test order: never charged, never produced." in note.detail
    assert "payment required" not in status_text(order)
    for event in order.events.all():
        assert "payment" not in event.detail.lower()
    listing = a_client.get(reverse("admin:fulfillment_order_changelist"), {"is_test__exact": "1"})
    rows = listing.content.decode().split('id="result_list"')[1].split("</table>")[0]
    assert f"#{order.pk}" in rows
    assert "payment required" not in rows and "test order: never charged" in rows
    page = a_client.get(reverse("admin:fulfillment_order_change", args=[order.pk]))
    assert "payment required" not in page.content.decode()
    # The rule itself: a real order of the same kind still says it.
    assert hold_reason_label(world.a_hold) == "payment required"


def test_a_test_orders_fixed_address_does_not_turn_into_payment_required(world, a_client):
    note = sent_notification(send(a_client, "incomplete_address", "279813"))
    order = Order.objects.get(lines__notification=note)
    response = a_client.post(
        reverse("admin:fulfillment_order_change", args=[order.pk]),
        {
            "ship_name": order.ship_name,
            "customer_email": order.customer_email,
            "customer_phone": "",
            "ship_street": "2 Fixed Street",
            "ship_city": order.ship_city,
            "ship_state": order.ship_state,
            "ship_postal_code": order.ship_postal_code,
            "ship_country": order.ship_country,
            **{f"line_{line.pk}_quantity": line.quantity for line in order.lines.all()},
            "_save": "Save",
        },
    )
    assert response.status_code == 302
    order.refresh_from_db()
    assert (order.status, order.ship_street) == (OrderStatus.HOLD, "2 Fixed Street")
    last = order.events.order_by("-id").first()
    assert "Hold reason now test order: never charged (was address incomplete)" in last.detail
    assert "payment" not in " ".join(order.events.values_list("detail", flat=True)).lower()


# --- Cleaning up ----------------------------------------------------------------------------


def _age(order: Order, days: float) -> None:
    Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(days=days))


def _test_order(publisher, order_id: str) -> Order:
    return notify(publisher, order_body(order_id=order_id), test=True).orders.get()


def test_test_orders_older_than_7_days_are_pruned_with_their_lines_and_events(world):
    old_test = _test_order(world.a, "31000001")
    young_test = _test_order(world.a, "31000002")
    old_real = world.a_hold  # a real order on hold, as old
    ledger = list(LedgerEntry.objects.order_by("pk").values_list("pk", "amount"))
    _age(old_test, 8)
    _age(old_real, 8)
    _age(young_test, 6)
    note = old_test.notification
    assert prune_test_orders.call() == 1
    assert not Order.objects.filter(pk=old_test.pk).exists()
    assert not OrderLine.objects.filter(order_id=old_test.pk).exists()
    assert not OrderEvent.objects.filter(order_id=old_test.pk).exists()
    assert Order.objects.filter(pk__in=[young_test.pk, old_real.pk]).count() == 2
    assert old_real.lines.count() == 1 and old_real.events.exists()
    assert Notification.objects.filter(pk=note.pk).exists()  # the history stays
    assert list(LedgerEntry.objects.order_by("pk").values_list("pk", "amount")) == ledger


def test_a_test_order_with_a_ledger_entry_is_never_pruned(world):
    odd = _test_order(world.a, "31000003")
    ledger_record(
        publisher_id=world.a.pk,
        amount=Decimal("1.00"),
        kind=LedgerKind.ADJUSTMENT,
        order=odd,
    )
    _age(odd, 30)
    assert old_test_orders_prune() == 0
    assert publisher_test_orders_clear(publisher=world.a) == 0
    assert Order.objects.filter(pk=odd.pk).exists()


def test_the_test_order_job_runs_hourly_from_the_schedule():
    every, job = SCHEDULE["prune_test_orders"]
    assert (every, job) == (timedelta(hours=1), prune_test_orders)
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)

    def ticked(minutes: int) -> bool:
        now = hour + timedelta(minutes=minutes)
        return "prune_test_orders" in schedule_tick(schedule=SCHEDULE, now=now)

    assert (ticked(0), ticked(59), ticked(60)) == (True, False, True)


def test_clear_test_orders_removes_only_this_publishers_test_orders(world, a_client):
    mine = [_test_order(world.a, "32000001"), _test_order(world.a, "32000002")]
    theirs = _test_order(world.b, "32000003")
    notes = Notification.objects.count()
    ledger = LedgerEntry.objects.count()
    page = a_client.get(reverse("account")).content.decode()
    assert "2 test orders now." in page and 'id="clear-test-orders"' in page
    response = a_client.post(CLEAR, {})
    assert response.status_code == 302
    assert texts(response)[0].startswith("Cleared 2 test orders.")
    assert not Order.objects.filter(pk__in=[o.pk for o in mine]).exists()
    assert Order.objects.filter(pk=theirs.pk).exists()  # another publisher's test order
    assert Order.objects.filter(pk=world.a_hold.pk).exists()  # A's real order
    assert Order.objects.filter(pk__in=[world.b_hold.pk, world.b_production.pk]).count() == 2
    assert Notification.objects.count() == notes
    assert LedgerEntry.objects.count() == ledger
    page = a_client.get(reverse("account")).content.decode()
    assert "0 test orders now." in page and 'id="clear-test-orders"' not in page
