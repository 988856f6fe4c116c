"""Issue 19 (one box per cart order) on the pages around the orders: the notification page,
reprocess, projects, grouping minutes, the account page's hold card, the hold digest and the
ledger (SPEC §18)."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import strip_tags

from fulfillment.account_form import GROUPING_HELP, GROUPING_RANGE
from fulfillment.models import (
    Alert,
    AlertKind,
    LedgerEntry,
    LedgerKind,
    Notification,
    Order,
    OrderLine,
    OrderStatus,
    Outcome,
    Project,
    Publisher,
)
from fulfillment.services.alerts import alerts_collect
from fulfillment.services.projects import project_save
from fulfillment.services.wording import money
from tests.admin_world import World, notify, order_body
from tests.factories import make_project, make_publisher, make_publisher_user, post_notify

pytestmark = pytest.mark.django_db

HOSTILE = '<img src=x onerror="alert(1)">'


def cart(order_id: str, *products: tuple[str, int], **who: str) -> bytes:
    """Return a SamCart order of several products, (product id, quantity) each."""
    data = json.loads(order_body(order_id=order_id, **who))
    first = data["products"][0]
    data["products"] = [{**first, "id": int(p), "quantity": q} for p, q in products]
    return json.dumps(data).encode()


def page_text(client: Client, url: str) -> str:
    """GET a page (200 expected) and return its HTML."""
    response = client.get(url)
    assert response.status_code == 200, url
    return response.content.decode()


def upsell(world: World, quantity: int = 2) -> Notification:
    """A later POST of A's held SamCart order 11110001 with the workbook: it joins the box."""
    notification = notify(
        world.a, order_body(order_id="11110001", product_id="294010", quantity=quantity)
    )
    assert notification.outcome == Outcome.CREATED
    assert world.a_hold.lines.count() == 2
    return notification


# The notification page: what it did ------------------------------------------------------


def test_the_notification_page_names_the_box_it_started_and_the_one_it_joined(world, a_client):
    later = upsell(world)
    box = world.a_hold
    first = box.notification
    started = page_text(a_client, reverse("admin:fulfillment_notification_change", args=[first.pk]))
    joined = page_text(a_client, reverse("admin:fulfillment_notification_change", args=[later.pk]))
    link = reverse("admin:fulfillment_order_change", args=[box.pk])
    assert f'<a href="{link}">Order #{box.pk}</a> (started): 1 item: Alpha Almanac' in started
    assert f'<a href="{link}">Order #{box.pk}</a> (joined): 1 item: Alpha Workbook × 2' in joined
    assert "Alpha Workbook" not in strip_tags(started).split("What SamCart sent")[0]
    # The list counts the boxes each notification started or added items to.
    response = a_client.get(reverse("admin:fulfillment_notification_changelist"))
    totals = {n.pk: n.order_total for n in response.context["cl"].result_list}
    assert (totals[first.pk], totals[later.pk], totals[world.a_no_match.pk]) == (1, 1, 0)


def test_the_notification_page_escapes_a_project_title_and_says_removed_lines(world, a_client):
    make_project(world.a, "300300", title=HOSTILE)
    later = notify(world.a, order_body(order_id="11110001", product_id="300300"))
    OrderLine.objects.filter(notification=later).update(removed_at=world.a_hold.created_at)
    content = page_text(a_client, reverse("admin:fulfillment_notification_change", args=[later.pk]))
    assert HOSTILE not in content
    assert "1 item: &lt;img src=x onerror=&quot;alert(1)&quot;&gt; (1 removed since)" in content


# Reprocess: the confirmation names lines in their boxes -----------------------------------


def test_reprocess_confirmation_names_the_existing_line_and_its_box(world, a_client):
    notification = notify(world.a, order_body(order_id="15150001"))
    box = notification.orders.get()
    world.a_project.ecommerce_id_string = ""
    project_save(project=world.a_project)
    make_project(world.a, "279813", title="Alpha Almanac, new edition")
    Notification.objects.filter(pk=notification.pk).update(outcome=Outcome.ERROR)
    url = reverse("admin:fulfillment_notification_reprocess", args=[notification.pk])

    page = a_client.post(url)
    content = page.content.decode()
    assert page.status_code == 200 and "Create anyway" in content
    link = reverse("admin:fulfillment_order_change", args=[box.pk])
    named = " ".join(strip_tags(content).split())
    assert f"Order #{box.pk} — Alpha Almanac, 1 copy; the box is on hold" in named
    assert f'href="{link}"' in content
    assert OrderLine.objects.filter(external_order_id="15150001").count() == 1

    assert a_client.post(url, {"allow_remapped": "1"}).status_code == 302
    titles = OrderLine.objects.filter(order=box).values_list("project__title", flat=True)
    assert sorted(titles) == ["Alpha Almanac", "Alpha Almanac, new edition"]  # one box


# Projects: a line of a box is an order of its project ------------------------------------


def test_a_project_whose_only_line_joined_another_box_cannot_move(world):
    upsell(world)
    workbook = Project.objects.get(publisher=world.a, title="Alpha Workbook")
    workbook.publisher = world.b
    with pytest.raises(ValidationError) as refused:
        project_save(project=workbook)
    assert "publisher" in refused.value.message_dict
    assert Project.objects.get(pk=workbook.pk).publisher_id == world.a.pk
    spare = make_project(world.a, "300301", title="Spare")  # no line: it may move
    spare.publisher = world.b
    project_save(project=spare)
    assert Project.objects.get(pk=spare.pk).publisher_id == world.b.pk


# Grouping minutes: managers on the account page, staff on the publisher form --------------


def settings_post(publisher: Publisher, **fields: str) -> dict[str, str]:
    """Return the account page's settings form as a manager posts it."""
    return {"publisher": publisher.idpub, "production_delay_minutes": "0", **fields}


def messages_of(response) -> str:
    """Return the page's messages as one text."""
    return " ".join(str(m) for m in response.context["messages"])


def test_a_manager_sets_grouping_minutes_in_advanced_settings(world, a_client):
    content = page_text(a_client, reverse("account"))
    advanced = content.split('id="advanced-settings"')[1].split("</fieldset>")[0]
    assert "<legend>Advanced Settings</legend>" in advanced
    assert 'name="grouping_minutes"' in advanced and "disabled" not in advanced
    assert GROUPING_HELP in advanced

    url = reverse("account-alerts")
    done = a_client.post(url, settings_post(world.a, grouping_minutes="25"), follow=True)
    assert "grouping 25 minutes" in messages_of(done)
    world.a.refresh_from_db()
    assert world.a.grouping_minutes == 25
    # A form sent without the field (an older page) keeps the grouping.
    a_client.post(url, settings_post(world.a))
    world.a.refresh_from_db()
    assert world.a.grouping_minutes == 25


@pytest.mark.parametrize("bad", ["61", "-1", "ten", "1e3", "60.5"])
def test_grouping_minutes_outside_0_to_60_is_a_form_error(world, a_client, bad):
    url = reverse("account-alerts")
    refused = a_client.post(url, settings_post(world.a, grouping_minutes=bad), follow=True)
    assert refused.status_code == 200
    assert f"Settings not saved: Grouping (minutes): {GROUPING_RANGE}" in messages_of(refused)
    world.a.refresh_from_db()
    assert world.a.grouping_minutes == 0


def test_a_viewer_sees_grouping_read_only_and_may_not_post_it(world):
    viewer = make_publisher_user(world.a, role="viewer")
    client = Client()
    client.force_login(viewer)
    content = page_text(client, reverse("account"))
    field = re.search(r'<input[^>]*name="grouping_minutes"[^>]*>', content)
    assert field and "disabled" in field.group(0)
    answer = client.post(reverse("account-alerts"), settings_post(world.a, grouping_minutes="5"))
    assert answer.status_code == 403
    world.a.refresh_from_db()
    assert world.a.grouping_minutes == 0


def test_staff_set_grouping_minutes_on_the_publisher_form(world):
    staff = Client()
    staff.force_login(world.staff)
    url = reverse("admin:fulfillment_publisher_change", args=[world.a.pk])
    assert GROUPING_HELP in page_text(staff, url)
    form = {"name": world.a.name, "email": world.a.email, "production_delay_minutes": "0"}
    assert staff.post(url, {**form, "grouping_minutes": "30"}).status_code == 302
    world.a.refresh_from_db()
    assert world.a.grouping_minutes == 30
    refused = staff.post(url, {**form, "grouping_minutes": "61"})
    assert refused.status_code == 200 and GROUPING_RANGE in refused.content.decode()
    assert staff.post(url, form).status_code == 302  # sent without it: kept
    world.a.refresh_from_db()
    assert world.a.grouping_minutes == 30
    # A's manager reads the publisher row, never changes it.
    manager = Client()
    manager.force_login(world.a_user)
    assert manager.post(url, {**form, "grouping_minutes": "5"}).status_code == 403
    world.a.refresh_from_db()
    assert world.a.grouping_minutes == 30


# The hold card and the hold digest name boxes with their items ----------------------------


def test_the_account_page_names_each_box_on_hold_with_its_items(world, a_client):
    upsell(world)
    box = Order.objects.get(pk=world.a_hold.pk)
    content = page_text(a_client, reverse("account"))
    card = strip_tags(content.split('id="hold-boxes"')[1].split("</ul>")[0])
    expected = f"Order #{box.pk} — 2 items: Alpha Almanac, Alpha Workbook × 2 — {money(box.cost)}"
    assert expected in card
    assert box.cost == Decimal("17.00")  # 5 + 2 × 5 + one shipping of 2


def test_the_hold_card_takes_the_same_queries_for_one_box_or_many(world, a_client):
    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            page_text(a_client, reverse("account"))
        return len(captured)

    few = count()
    for n in range(12):
        notify(world.a, cart(str(56_000_000 + n), ("279813", 1), ("294010", 3)))
    assert count() == few
    content = page_text(a_client, reverse("account"))
    card = content.split('id="hold-boxes"')[1].split("</ul>")[0]
    assert card.count("<li><a href=") == 10  # the first ten, oldest first
    assert "… 13 on hold in all" in card


def test_the_hold_digest_names_boxes_with_their_items_and_cost(client):
    publisher = make_publisher(balance="0.00")
    make_project(publisher, "279813", title="Almanac")
    make_project(publisher, "294010", title=HOSTILE)
    post_notify(client, publisher, cart("57000001", ("279813", 1), ("294010", 2)))
    box = Order.objects.get(publisher=publisher)
    assert alerts_collect() == 1
    digest = Alert.objects.get(kind=AlertKind.HOLD_ORDERS)
    items = f"2 items: Almanac, {HOSTILE} × 2"
    assert f"Order #{box.pk} — {items} — $17.00 ({box.ship_name})" in digest.body_text
    assert HOSTILE not in digest.body_html
    assert "Almanac, &lt;img src=x onerror=&quot;alert(1)&quot;&gt; × 2 — $17.00" in (
        digest.body_html
    )


@pytest.mark.parametrize("boxes", [1, 8])
def test_the_hold_digest_reads_every_box_s_lines_in_one_query(client, boxes):
    publisher = make_publisher(balance="0.00")
    make_project(publisher, "279813")
    make_project(publisher, "294010")
    for n in range(boxes):
        post_notify(client, publisher, cart(str(58_000_000 + n), ("279813", 1), ("294010", 1)))
    with CaptureQueriesContext(connection) as captured:
        assert alerts_collect() == 1
    reads = [q["sql"] for q in captured if q["sql"].startswith("SELECT")]
    assert sum('FROM "fulfillment_orderline"' in sql for sql in reads) == 1
    assert sum('FROM "fulfillment_project"' in sql for sql in reads) <= 1
    assert Alert.objects.get().body_text.count(" — 2 items: ") == boxes


# The ledger: a box's several charges and refunds -----------------------------------------


def test_the_ledger_numbers_a_box_s_charges_and_names_its_items(client):
    publisher = make_publisher(balance="100.00", grouping_minutes=10)
    make_project(publisher, "279813", title="Almanac")
    make_project(publisher, "294010", title="Workbook")
    post_notify(client, publisher, order_body(order_id="59000001"))
    box = Order.objects.get(publisher=publisher)
    assert box.status == OrderStatus.SCHEDULED
    post_notify(client, publisher, order_body(order_id="59000001", product_id="294010"))
    charges = LedgerEntry.objects.filter(order=box, kind=LedgerKind.CHARGE)
    assert sorted(charges.values_list("amount", flat=True)) == [Decimal("-7.00"), Decimal("-5.00")]
    manager = Client()
    manager.force_login(make_publisher_user(publisher))
    url = reverse("admin:fulfillment_ledgerentry_changelist")

    def rows() -> list[tuple[str, str]]:
        response = manager.get(url)
        html = response.content.decode()
        kinds = re.findall(r'<td class="field-kind_column">(.*?)</td>', html)
        boxes = re.findall(r'<td class="field-order_column">(.*?)</td>', html)
        return [(kind, strip_tags(order)) for kind, order in zip(kinds, boxes, strict=True)]

    items = f"Order #{box.pk}: 2 items: Almanac, Workbook"
    assert rows() == [("Charge 2 of 2", items), ("Charge 1 of 2", items), ("Deposit", "—")]
    # Filtered to charges, the numbers still count the box's charges.
    response = manager.get(url, {"kind__exact": "charge"})
    assert "Charge 2 of 2" in response.content.decode()

    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            manager.get(url)
        return len(captured)

    few = count()
    for n in range(5):
        post_notify(client, publisher, cart(str(59_100_000 + n), ("279813", 1), ("294010", 1)))
    assert count() == few


# The SamCart check card: boxes waiting for review name their items ------------------------


def test_the_samcart_card_names_the_items_of_boxes_waiting_for_review(world, a_client):
    from fulfillment.models import HoldReason
    from fulfillment.selectors import samcart_check_card
    from fulfillment.services.samcart_keys import publisher_set_samcart_key

    publisher_set_samcart_key(publisher=world.a, key="sc-key-0123456789", actor=None)
    upsell(world)
    review = Order.objects.filter(pk=world.a_hold.pk)
    review.update(hold_reason=HoldReason.REVIEW)
    content = page_text(a_client, reverse("account"))
    named = " ".join(strip_tags(content).split())
    expected = "SamCart order 11110001, 2 items: Alpha Almanac, Alpha Workbook × 2, Rosalind Okafor"
    assert expected in named
    world.a.refresh_from_db()

    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            card = samcart_check_card(world.a)
        assert all(order.items_text for order in card.awaiting_review)
        return len(captured)

    few = count()
    for n in range(4):
        notify(world.a, cart(str(57_500_000 + n), ("279813", 1), ("294010", 1)))
    Order.objects.filter(publisher=world.a, status=OrderStatus.HOLD).update(
        hold_reason=HoldReason.REVIEW
    )
    assert count() == few


def test_deleting_a_project_in_a_box_names_the_box_not_the_line(world):
    upsell(world)
    make_project(world.a, "300302", title=HOSTILE)
    notify(world.a, order_body(order_id="11110001", product_id="300302"))
    staff = Client()
    staff.force_login(world.staff)
    for title in ("Alpha Workbook", HOSTILE):
        project = Project.objects.get(publisher=world.a, title=title)
        url = reverse("admin:fulfillment_project_delete", args=[project.pk])
        content = page_text(staff, url)
        named = " ".join(strip_tags(content).split())
        assert "Cannot delete project" in content
        box = world.a_hold
        link = reverse("admin:fulfillment_order_change", args=[box.pk])
        assert f'<a href="{link}">#{box.pk}</a>' in content
        assert f"Order #{box.pk} (SamCart order 11110001, on hold) has" in named
        assert "Order line" not in content and HOSTILE not in content
        assert staff.post(url, {"post": "yes"}).status_code in (200, 403)
        assert Project.objects.filter(pk=project.pk).exists()
