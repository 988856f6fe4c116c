"""Issue 19 (SPEC §18) in the order admin: a box of lines in the list, on its page, in its
edits and in the bulk actions and the ship page. Test client and real database only."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from fulfillment.admin.order_form import ERROR_LINES_NOT_ON_HOLD, ERROR_REMOVE_ALL
from fulfillment.models import (
    LedgerKind,
    Order,
    OrderEventKind,
    OrderLine,
    OrderStatus,
    Project,
    SplitReason,
)
from fulfillment.services.ledger import ledger_record
from fulfillment.services.orders import order_update
from tests.admin_world import World, box_body, line_field, notify, page_form_data
from tests.factories import make_project, make_publisher, make_publisher_user

pytestmark = pytest.mark.django_db
CHANGELIST = "admin:fulfillment_order_changelist"


@pytest.fixture
def staff_client(world: World) -> Client:
    client = Client()
    client.force_login(world.staff)
    return client


@pytest.fixture
def twin(world: World) -> Project:
    """A project of A that lists two SamCart products, dearer shipping than the Almanac."""
    return make_project(
        world.a, "{333001}{333002}", title="Twin Atlas", unit_cost="3.00", shipping_cost="4.50"
    )


@pytest.fixture
def box(world: World, twin: Project) -> Order:
    """A hold box of A: Alpha Almanac × 2 ($5.00, shipping $2.00) and Twin Atlas × 1 ($3.00,
    shipping $4.50): $10.00 + $3.00 + $4.50 once = $17.50."""
    order = notify(world.a, box_body(order_id="19190001", products=[("279813", 2), ("333001", 1)]))
    box = order.orders.get()
    assert box.status == OrderStatus.HOLD and box.cost == Decimal("17.50")
    return box


def page(order: Order) -> str:
    return reverse("admin:fulfillment_order_change", args=[order.pk])


def lines_of(order: Order) -> dict[str, OrderLine]:
    """Return the box's lines by project title."""
    return {line.project.title: line for line in order.lines.select_related("project")}


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def visible_text(html: str) -> str:
    """The page's text without tags, scripts or attribute values (what a person reads)."""
    html = re.sub(r"<(script|style|datalist)\b.*?</\1>", " ", html, flags=re.S)
    html = re.sub(r"<input\b[^>]*>", " ", html)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def row_of(content: str, line: OrderLine) -> str:
    """Return the items table's row of `line`, as HTML."""
    return re.search(rf'<tr id="line-{line.pk}"[^>]*>.*?</tr>', content, re.S).group()


def viewer_client(world: World) -> Client:
    client = Client()
    client.force_login(make_publisher_user(world.a, "alpha-viewer", role="viewer"))
    return client


# The list -----------------------------------------------------------------------------------


def test_the_list_says_what_is_in_each_box_and_its_cost(world, a_client, box):
    content = a_client.get(reverse(CHANGELIST)).content.decode()
    assert "2 items: Alpha Almanac × 2, Twin Atlas" in content
    assert "1 item: Alpha Almanac" in content  # world.a_hold, a one-line box
    assert "$17.50" in content and "on hold — payment required" in content


def test_the_list_leaves_removed_items_out_of_the_summary(world, a_client, box):
    OrderLine.objects.filter(pk=lines_of(box)["Twin Atlas"].pk).update(removed_at=box.created_at)
    content = a_client.get(reverse(CHANGELIST)).content.decode()
    assert "1 item: Alpha Almanac × 2" in content and "2 items" not in content


def test_filtering_by_a_project_finds_a_box_by_any_of_its_lines_once(world, a_client, twin):
    """The parameter is still `project__id__exact`, as when an order was one product."""
    # Two lines of the same project in one box (two of its SamCart products): one row.
    products = [("333001", 1), ("333002", 1), ("279813", 1)]
    box = notify(world.a, box_body(order_id="19190002", products=products)).orders.get()
    assert box.lines.filter(project=twin).count() == 2
    assert Order.objects.filter(lines__project=twin).count() == 2  # a plain join: twice
    result = a_client.get(reverse(CHANGELIST), {"project__id__exact": twin.pk})
    assert [o.pk for o in result.context["cl"].result_list] == [box.pk]
    almanac = a_client.get(reverse(CHANGELIST), {"project__id__exact": world.a_project.pk})
    pks = [o.pk for o in almanac.context["cl"].result_list]
    assert sorted(pks) == sorted([box.pk, world.a_hold.pk])
    assert result.context["cl"].result_count == 1


def test_searching_a_samcart_product_id_finds_a_box_by_any_line_once(world, a_client, box):
    # A bundle: one SamCart product id in two projects makes two lines of one box.
    make_project(world.a, "{444001}", title="Bundle Book", unit_cost="1.00", shipping_cost="0")
    make_project(world.a, "{444001}", title="Bundle DVD", unit_cost="1.00", shipping_cost="0")
    bundle = notify(world.a, box_body(order_id="19190003", products=[("444001", 1)]))
    bundle_box = bundle.orders.get()
    assert bundle_box.lines.count() == 2
    for term, expected in (("333001", [box.pk]), ("444001", [bundle_box.pk])):
        result = a_client.get(reverse(CHANGELIST), {"q": term}).context["cl"]
        assert [o.pk for o in result.result_list] == expected
        assert result.result_count == 1


def test_the_list_page_queries_do_not_grow_with_its_rows(world, a_client, twin):
    def count_queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert a_client.get(reverse(CHANGELIST)).status_code == 200
        return len(captured.captured_queries)

    notify(world.a, box_body(order_id="19190010", products=[("279813", 1), ("333001", 1)]))
    few = count_queries()
    for n in range(11, 17):
        notify(world.a, box_body(order_id=f"191900{n}", products=[("279813", 1), ("333002", 2)]))
    assert count_queries() == few


# The order page -----------------------------------------------------------------------------


def test_the_page_shows_each_line_as_priced_and_the_breakdown(world, a_client, box):
    content = a_client.get(page(box)).content.decode()
    lines = lines_of(box)
    almanac = visible_text(row_of(content, lines["Alpha Almanac"]))
    assert "Alpha Almanac 279813" in almanac and "$5.00 $2.00 $10.00" in almanac
    twin = visible_text(row_of(content, lines["Twin Atlas"]))
    assert "Twin Atlas 333001" in twin and "$3.00 $4.50 $3.00" in twin
    text = visible_text(content)
    assert "Items: price per copy × quantity, added up $13.00" in text
    assert "Shipping once: the highest of the items $4.50" in text
    assert "Box cost $17.50" in text
    assert "$17.50 ($5.00 × 2 + $3.00 × 1 + $4.50 shipping; shipping once: the highest" in text
    assert "Box 1 of SamCart order 19190001 (its only box)." in text


def test_removed_and_refunded_lines_are_marked(world, a_client, box):
    lines = lines_of(box)
    OrderLine.objects.filter(pk=lines["Twin Atlas"].pk).update(removed_at=box.created_at)
    OrderLine.objects.filter(pk=lines["Alpha Almanac"].pk).update(cart_refunded=True)
    content = a_client.get(page(box)).content.decode()
    twin = row_of(content, lines["Twin Atlas"])
    assert "ts-line-removed" in twin and "<s>Twin Atlas</s>" in twin and ">removed<" in twin
    assert 'name="line_' not in twin  # a removed line has no input
    almanac = row_of(content, lines["Alpha Almanac"])
    assert "refunded in SamCart" in almanac and "ts-line-removed" not in almanac


def test_a_second_box_of_the_order_says_why_and_links_the_first(world, a_client, box):
    other = box_body(order_id="19190001", products=[("333002", 1)], street="1 Other Road")
    second = notify(world.a, other).orders.get()
    assert (second.box_number, second.split_reason) == (2, SplitReason.ANOTHER_ADDRESS)
    text = visible_text(a_client.get(page(second)).content.decode())
    assert "Box 2 of SamCart order 19190001 — separate box: ships to another address" in text
    content = a_client.get(page(second)).content.decode()
    assert f'<a href="{page(box)}">order #{box.pk}</a> (box 1, on hold)' in content
    first = a_client.get(page(box)).content.decode()
    assert f'<a href="{page(second)}">order #{second.pk}</a> (box 2, on hold)' in first


def test_page_text_is_escaped(world, a_client, box):
    Project.objects.filter(pk=lines_of(box)["Twin Atlas"].project_id).update(
        title="<script>alert(1)</script>"
    )
    OrderLine.objects.filter(order=box).update(external_product_id="<b>x</b>")
    content = a_client.get(page(box)).content.decode()
    assert "<script>alert(1)</script>" not in content and "<b>x</b>" not in content
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content
    listing = a_client.get(reverse(CHANGELIST)).content.decode()
    assert "<script>alert(1)</script>" not in listing


# Editing the lines on hold ------------------------------------------------------------------


def test_a_manager_changes_a_quantity_and_removes_an_item(world, a_client, box):
    lines = lines_of(box)
    almanac, twin = lines["Alpha Almanac"], lines["Twin Atlas"]
    changes = {line_field(almanac): 3, line_field(twin, "remove"): "on"}
    response = a_client.post(page(box), page_form_data(box, **changes))
    assert response.status_code == 302
    box.refresh_from_db()
    almanac.refresh_from_db()
    twin.refresh_from_db()
    assert almanac.quantity == 3 and twin.removed_at is not None
    assert box.cost == Decimal("17.00")  # $5.00 × 3 + $2.00: the Twin's shipping went with it
    kinds = list(box.events.filter(actor=world.a_user).values_list("kind", "detail"))
    assert (OrderEventKind.LINE_REMOVED, "Removed Twin Atlas × 1 (SamCart product 333001).") in [
        (kind, detail.split(" Cost")[0]) for kind, detail in kinds
    ]
    assert any(d.startswith("Alpha Almanac: quantity 2 → 3.") for _, d in kinds)
    text = visible_text(a_client.get(page(box)).content.decode())
    assert "1 item: Alpha Almanac × 3" in text


def test_a_removed_item_stays_removed_when_samcart_resends(world, a_client, box):
    twin = lines_of(box)["Twin Atlas"]
    a_client.post(page(box), page_form_data(box, **{line_field(twin, "remove"): "on"}))
    products = [("279813", 2), ("333001", 1)]
    notify(world.a, box_body(order_id="19190001", products=products))
    assert box.lines.count() == 2 and Order.objects.filter(external_order_id="19190001").count()
    assert OrderLine.objects.get(pk=twin.pk).removed_at is not None
    assert Order.objects.get(pk=box.pk).cost == Decimal("12.00")


def test_staff_edit_lines_too(world, staff_client, box):
    almanac = lines_of(box)["Alpha Almanac"]
    response = staff_client.post(page(box), page_form_data(box, **{line_field(almanac): 1}))
    assert response.status_code == 302
    assert OrderLine.objects.get(pk=almanac.pk).quantity == 1
    assert Order.objects.get(pk=box.pk).cost == Decimal("12.50")


def test_a_viewer_sees_the_items_but_cannot_change_them(world, box):
    viewer = viewer_client(world)
    content = viewer.get(page(box)).content.decode()
    assert "Twin Atlas" in content and 'name="line_' not in content
    almanac, twin = lines_of(box).values()
    changes = {line_field(almanac): 5, line_field(twin, "remove"): "on"}
    assert viewer.post(page(box), page_form_data(box, **changes)).status_code == 403
    assert [(line.quantity, line.removed_at) for line in lines_of(box).values()] == [
        (2, None),
        (1, None),
    ]


def test_another_publishers_user_cannot_reach_the_box(world, box):
    client = Client()
    client.force_login(world.b_user)
    almanac = lines_of(box)["Alpha Almanac"]
    response = client.post(page(box), page_form_data(box, **{line_field(almanac): 9}))
    assert response.status_code in (302, 404)
    assert OrderLine.objects.get(pk=almanac.pk).quantity == 2


@pytest.mark.parametrize("quantity", ["0", "10001", "abc", ""])
def test_a_bad_line_quantity_is_an_error_on_its_input(world, a_client, box, quantity):
    almanac = lines_of(box)["Alpha Almanac"]
    response = a_client.post(page(box), page_form_data(box, **{line_field(almanac): quantity}))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors[line_field(almanac)]
    assert "from 1 to 10,000" in " ".join(errors)
    assert "from 1 to 10,000" in row_of(response.content.decode(), almanac)
    assert OrderLine.objects.get(pk=almanac.pk).quantity == 2


def test_removing_every_item_is_refused_with_what_to_do(world, a_client, box):
    almanac, twin = lines_of(box).values()
    changes = {line_field(almanac, "remove"): "on", line_field(twin, "remove"): "on"}
    response = a_client.post(page(box), page_form_data(box, **changes))
    assert response.status_code == 200
    assert ERROR_REMOVE_ALL in response.context["adminform"].form.non_field_errors()
    assert "delete the order instead" in response.content.decode()
    assert not OrderLine.objects.filter(order=box, removed_at__isnull=False).exists()


def test_the_only_item_of_a_box_has_no_remove_box(world, a_client):
    line = world.a_hold.lines.get()
    content = a_client.get(page(world.a_hold)).content.decode()
    assert f'name="{line_field(line)}"' in content
    assert f'name="{line_field(line, "remove")}"' not in content
    assert "delete the order instead" in content
    changes = {line_field(line, "remove"): "on"}
    a_client.post(page(world.a_hold), page_form_data(world.a_hold, **changes))
    assert OrderLine.objects.get(pk=line.pk).removed_at is None


def test_a_failing_line_change_saves_nothing_of_the_form(world, a_client, box):
    """All or nothing: a bad country keeps the good quantity from being saved."""
    almanac = lines_of(box)["Alpha Almanac"]
    changes = {line_field(almanac): 4, "ship_country": "Narnia"}
    response = a_client.post(page(box), page_form_data(box, **changes))
    assert response.status_code == 200
    assert OrderLine.objects.get(pk=almanac.pk).quantity == 2


def test_the_form_refuses_a_csrf_less_post(world, box):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.a_user)
    almanac = lines_of(box)["Alpha Almanac"]
    response = client.post(page(box), page_form_data(box, **{line_field(almanac): 7}))
    assert response.status_code == 403
    assert OrderLine.objects.get(pk=almanac.pk).quantity == 2


@pytest.fixture
def scheduled_box(world: World, twin: Project) -> Order:
    """A paid box of A in its 30-minute edit window (scheduled)."""
    type(world.a).objects.filter(pk=world.a.pk).update(production_delay_minutes=30)
    ledger_record(publisher_id=world.a.pk, amount=Decimal("100.00"), kind=LedgerKind.DEPOSIT)
    products = [("279813", 1), ("333001", 1)]
    box = notify(world.a, box_body(order_id="19190020", products=products)).orders.get()
    assert box.status == OrderStatus.SCHEDULED
    return box


def test_a_scheduled_box_changes_its_address_only(world, a_client, scheduled_box):
    content = a_client.get(page(scheduled_box)).content.decode()
    assert 'name="ship_street"' in content and 'name="line_' not in content
    assert "Twin Atlas" in content
    almanac = lines_of(scheduled_box)["Alpha Almanac"]
    response = a_client.post(
        page(scheduled_box), page_form_data(scheduled_box, **{line_field(almanac): 4})
    )
    assert response.status_code == 200
    message = ERROR_LINES_NOT_ON_HOLD.format(order=scheduled_box.pk, status="scheduled")
    assert message in response.context["adminform"].form.non_field_errors()
    assert OrderLine.objects.get(pk=almanac.pk).quantity == 1
    moved = page_form_data(scheduled_box, ship_street="5 Moved Street")
    assert a_client.post(page(scheduled_box), moved).status_code == 302
    assert Order.objects.get(pk=scheduled_box.pk).ship_street == "5 Moved Street"


# Bulk actions and the ship page, per box -----------------------------------------------------


def test_delete_confirmation_and_message_name_the_box_and_its_items(world, a_client, box):
    data = {"action": "delete_orders", "_selected_action": [box.pk], "index": 0}
    confirm = a_client.post(reverse(CHANGELIST), data).content.decode()
    assert f"Order #{box.pk}</a>" in confirm
    assert "2 items: Alpha Almanac × 2, Twin Atlas" in confirm
    assert "with every item in it" in confirm
    done = a_client.post(reverse(CHANGELIST), {**data, "confirmed": "yes"}, follow=True)
    assert Order.objects.get(pk=box.pk).status == OrderStatus.DELETED
    assert f"Deleted order #{box.pk} (2 items: Alpha Almanac × 2, Twin Atlas)" in " ".join(
        texts(done)
    )


def test_cancel_refunds_the_whole_box_and_names_its_items(world, a_client, scheduled_box):
    data = {"action": "cancel_orders", "_selected_action": [scheduled_box.pk], "index": 0}
    response = a_client.post(reverse(CHANGELIST), data, follow=True)
    assert Order.objects.get(pk=scheduled_box.pk).status == OrderStatus.DELETED
    message = " ".join(texts(response))
    assert (
        f"Order #{scheduled_box.pk} cancelled (2 items: Alpha Almanac, Twin Atlas): "
        "$12.50 refunded; balance now $101.00." in message
    )


def test_release_charges_the_box_at_its_edited_lines(world, a_client, box):
    twin = lines_of(box)["Twin Atlas"]
    a_client.post(page(box), page_form_data(box, **{line_field(twin, "remove"): "on"}))
    ledger_record(publisher_id=world.a.pk, amount=Decimal("20.00"), kind=LedgerKind.DEPOSIT)
    data = {"action": "release_orders", "_selected_action": [box.pk], "index": 0}
    data["confirmed"] = "yes"  # the release asks first (issue 20 #14)
    a_client.post(reverse(CHANGELIST), data)
    box.refresh_from_db()
    assert box.status == OrderStatus.IN_PRODUCTION and box.cost == Decimal("12.00")
    assert type(world.a).objects.get(pk=world.a.pk).balance == Decimal("9.00")
    assert box.ledger_entries.get(kind=LedgerKind.CHARGE).amount == -box.cost


def test_the_ship_page_shows_the_box_items_with_one_tracking_number(world, staff_client):
    publisher = make_publisher(balance="100.00")
    make_project(publisher, "{279813}", title="Gamma Guide")
    make_project(publisher, "{294010}", title="Gamma Maps")
    products = [("279813", 1), ("294010", 3)]
    box = notify(publisher, box_body(order_id="19190030", products=products)).orders.get()
    assert box.status == OrderStatus.IN_PRODUCTION
    ship = reverse("admin:fulfillment_order_ship")
    content = staff_client.get(ship, {"ids": box.pk}).content.decode()
    assert "2 items: Gamma Guide, Gamma Maps × 3" in content
    assert content.count(f'name="tracking_{box.pk}"') == 1
    staff_client.post(ship, {"order": [box.pk], f"tracking_{box.pk}": "1Z42"})
    shipped = Order.objects.get(pk=box.pk)
    assert (shipped.status, shipped.tracking_number) == (OrderStatus.SHIPPED, "1Z42")


def test_order_update_still_saves_the_address_of_a_box(world, box):
    """The page's address edit goes through `order_update`, lines untouched."""
    order_update(order=box, actor=None, ship_city="Salem")
    assert Order.objects.get(pk=box.pk).ship_city == "Salem"
    assert [line.quantity for line in lines_of(box).values()] == [2, 1]


def test_a_post_without_the_item_inputs_leaves_the_items(world, a_client, box):
    """A request that does not send a quantity leaves it (an emptied box is an error)."""
    data = {k: v for k, v in page_form_data(box, ship_city="Salem").items() if "line_" not in k}
    assert a_client.post(page(box), data).status_code == 302
    assert Order.objects.get(pk=box.pk).ship_city == "Salem"
    assert [line.quantity for line in lines_of(box).values()] == [2, 1]


def test_a_box_left_with_one_item_offers_no_remove_and_says_why(world, a_client, box):
    twin = lines_of(box)["Twin Atlas"]
    a_client.post(page(box), page_form_data(box, **{line_field(twin, "remove"): "on"}))
    content = a_client.get(page(box)).content.decode()
    assert '_remove"' not in content and "delete the order instead" in content


def test_the_project_filter_counts_boxes_once_with_facets(world, a_client, twin):
    products = [("333001", 1), ("333002", 1)]
    notify(world.a, box_body(order_id="19190040", products=products))
    response = a_client.get(reverse(CHANGELIST), {"_facets": "1"})
    assert response.status_code == 200
    assert "Twin Atlas (1)" in visible_text(response.content.decode())  # two lines, one box
