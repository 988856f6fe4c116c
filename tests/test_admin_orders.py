"""SPEC §8 admin behaviour: orders, projects, notifications and publishers, through the client."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from fulfillment import ecommerce_ids
from fulfillment.models import (
    LedgerKind,
    Notification,
    Order,
    OrderEventKind,
    OrderStatus,
    Outcome,
    Project,
    Publisher,
)
from fulfillment.services.accounts import MANAGER_GROUP
from fulfillment.services.ledger import ledger_record
from fulfillment.services.orders import EDITABLE_ON_HOLD
from tests.admin_world import World, line_field, notify, order_body, page_form_data
from tests.factories import make_project

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:fulfillment_order_changelist"


@pytest.fixture
def staff_client(world: World) -> Client:
    client = Client()
    client.force_login(world.staff)
    return client


def form_data(order: Order, **changes: object) -> dict[str, object]:
    """Return the order change form's POST data as the page sends it, `changes` applied."""
    return page_form_data(order, **changes)


def only_line(order: Order):
    """Return the one line of a one-item box."""
    return order.lines.get()


def texts(response) -> list[str]:
    """Return the messages shown after a request."""
    return [str(m) for m in get_messages(response.wsgi_request)]


def act(client: Client, action: str, ids: list[int], model: str = "order", **extra: str):
    """POST an admin action on the changelist and follow the redirect."""
    return client.post(
        reverse(f"admin:fulfillment_{model}_changelist"),
        {"action": action, "_selected_action": ids, "index": 0, **extra},
        follow=True,
    )


# Orders -----------------------------------------------------------------------------------


def test_list_shows_status_with_reason_money_and_badges(world, a_client):
    test_order = notify(world.a, order_body(order_id="11110003"), test=True).orders.get()
    Order.objects.filter(pk=world.a_hold.pk).update(cart_refunded=True)
    content = a_client.get(reverse(CHANGELIST)).content.decode()
    assert "on hold — payment required" in content
    assert "$7.00" in content
    assert "refunded in SamCart — delete?" in content
    assert 'class="ts-badge ts-test">TEST' in content
    assert "Rosalind Okafor" in content and "11110001" in content
    assert f"#{test_order.pk}" in content


def test_list_search_by_customer_email_and_cart_ids(world, a_client):
    other = notify(world.a, order_body(order_id="11110004", first="Maud", email="maud@x.example"))
    maud = other.orders.get()
    for term in ("Maud", "maud@x.example", "11110004"):
        result = a_client.get(reverse(CHANGELIST), {"q": term}).context["cl"].result_list
        assert [o.pk for o in result] == [maud.pk]
    result = a_client.get(reverse(CHANGELIST), {"q": "279813"}).context["cl"].result_list
    assert {o.pk for o in result} == {maud.pk, world.a_hold.pk}


def test_list_filters_by_status_and_hold_reason(world, a_client):
    incomplete = notify(world.a, order_body(order_id="11110005", complete_address=False))
    held = incomplete.orders.get()
    params = {"hold_reason__exact": "address_incomplete"}
    result = a_client.get(reverse(CHANGELIST), params).context["cl"].result_list
    assert [o.pk for o in result] == [held.pk]
    result = a_client.get(reverse(CHANGELIST), {"status__exact": "shipped"}).context["cl"]
    assert list(result.result_list) == []


def test_edit_on_hold_recomputes_cost_and_records_event(world, a_client):
    order = world.a_hold
    line = only_line(order)
    url = reverse("admin:fulfillment_order_change", args=[order.pk])
    changes = {line_field(line): 3, "ship_street": "9 New Road"}
    response = a_client.post(url, form_data(order, **changes))
    assert response.status_code == 302
    order.refresh_from_db()
    line.refresh_from_db()
    assert (line.quantity, order.ship_street) == (3, "9 New Road")
    assert order.cost == Decimal("17.00")  # 5.00 × 3 + 2.00
    details = list(order.events.filter(kind=OrderEventKind.EDITED).values_list("detail", "actor"))
    assert ("Alpha Almanac: quantity 1 → 3. Cost $7.00 → $17.00.", world.a_user.pk) in details
    assert ("Street: 4410 Larkspur Lane → 9 New Road.", world.a_user.pk) in details


def test_edit_page_shows_events_and_editable_fields_on_hold(world, a_client):
    url = reverse("admin:fulfillment_order_change", args=[world.a_hold.pk])
    response = a_client.get(url)
    content = response.content.decode()
    assert 'name="_save"' in content
    assert set(EDITABLE_ON_HOLD) <= set(response.context["adminform"].form.fields)
    assert "From SamCart order 11110001" in content  # the `created` event's detail
    assert "Release this order" in content and "Delete this order" in content


def test_edit_clearing_the_street_puts_order_on_address_hold(world, a_client):
    url = reverse("admin:fulfillment_order_change", args=[world.a_hold.pk])
    a_client.post(url, form_data(world.a_hold, ship_street=""))
    world.a_hold.refresh_from_db()
    assert world.a_hold.hold_reason == "address_incomplete"


def test_invalid_quantity_is_a_form_error_not_a_save(world, a_client):
    url = reverse("admin:fulfillment_order_change", args=[world.a_hold.pk])
    line = only_line(world.a_hold)
    response = a_client.post(url, form_data(world.a_hold, **{line_field(line): 0}))
    assert response.status_code == 200
    assert line_field(line) in response.context["adminform"].form.errors
    line.refresh_from_db()
    assert line.quantity == 1


def test_order_in_production_is_read_only(world, staff_client):
    order = world.b_production
    url = reverse("admin:fulfillment_order_change", args=[order.pk])
    content = staff_client.get(url).content.decode()
    assert 'name="_save"' not in content
    assert "Mark as shipped" in content
    before = order.events.count()
    line = only_line(order)
    changes = {line_field(line): 9, "ship_street": "Elsewhere"}
    response = staff_client.post(url, form_data(order, **changes))
    assert response.status_code == 403
    order.refresh_from_db()
    line.refresh_from_db()
    assert (line.quantity, order.ship_street, order.events.count()) == (
        1,
        "4410 Larkspur Lane",
        before,
    )


def test_orders_are_never_added_or_hard_deleted(world, a_client):
    assert a_client.get(reverse("admin:fulfillment_order_add")).status_code == 403
    delete = reverse("admin:fulfillment_order_delete", args=[world.a_hold.pk])
    assert a_client.post(delete, {"post": "yes"}).status_code == 403
    actions = a_client.get(reverse(CHANGELIST)).context["action_form"].fields["action"].choices
    names = [name for name, _ in actions]
    assert "delete_selected" not in names and "delete_orders" in names
    act(a_client, "delete_selected", [world.a_hold.pk])
    assert Order.objects.filter(pk=world.a_hold.pk, status=OrderStatus.HOLD).exists()


def test_release_action_charges_covered_orders(world, a_client):
    ledger_record(publisher_id=world.a.pk, amount=Decimal("20.00"), kind=LedgerKind.DEPOSIT)
    response = act(a_client, "release_orders", [world.a_hold.pk], confirmed="yes")
    world.a_hold.refresh_from_db()
    assert world.a_hold.status == OrderStatus.IN_PRODUCTION
    assert any("Released 1 order" in m for m in texts(response))
    assert Publisher.objects.get(pk=world.a.pk).balance == Decimal("14.00")


def test_release_action_says_why_an_order_stays(world, a_client):
    response = act(a_client, "release_orders", [world.a_hold.pk], confirmed="yes")
    assert Order.objects.get(pk=world.a_hold.pk).status == OrderStatus.HOLD
    assert any("Released no order" in m and "$6.00 more" in m for m in texts(response))


def test_delete_action_sets_status_deleted_and_refuses_others(world, staff_client):
    response = staff_client.post(
        reverse(CHANGELIST),
        {
            "action": "delete_orders",
            "_selected_action": [world.b_hold.pk, world.b_production.pk],
            "index": 0,
            "confirmed": "yes",
        },
        follow=True,
    )
    assert Order.objects.get(pk=world.b_hold.pk).status == OrderStatus.DELETED
    assert Order.objects.get(pk=world.b_production.pk).status == OrderStatus.IN_PRODUCTION
    messages = " ".join(texts(response))
    assert f"Deleted order #{world.b_hold.pk}" in messages
    assert "only orders on hold" in messages


def test_release_and_delete_buttons_on_the_order_page(world, a_client):
    url = reverse(CHANGELIST)
    data = {"action": "delete_orders", "_selected_action": world.a_hold.pk, "index": 0}
    a_client.post(url, {**data, "confirmed": "yes"})
    assert Order.objects.get(pk=world.a_hold.pk).status == OrderStatus.DELETED
    content = a_client.get(reverse("admin:fulfillment_order_change", args=[world.a_hold.pk]))
    assert "Release this order" not in content.content.decode()


def test_staff_ship_orders_with_tracking_numbers(world, staff_client):
    ship = reverse("admin:fulfillment_order_ship")
    response = act(staff_client, "ship_orders", [world.b_production.pk])
    assert response.redirect_chain[-1][0].startswith(ship)
    assert f'name="tracking_{world.b_production.pk}"' in response.content.decode()
    staff_client.post(
        ship, {"order": [world.b_production.pk], f"tracking_{world.b_production.pk}": "1Z999"}
    )
    order = Order.objects.get(pk=world.b_production.pk)
    assert (order.status, order.tracking_number) == (OrderStatus.SHIPPED, "1Z999")
    assert order.events.filter(kind=OrderEventKind.SHIPPED, actor=world.staff).exists()


def test_publishers_cannot_ship(world, a_client):
    names = [
        n
        for n, _ in a_client.get(reverse(CHANGELIST))
        .context["action_form"]
        .fields["action"]
        .choices
    ]
    assert "ship_orders" not in names
    ship = reverse("admin:fulfillment_order_ship")
    assert a_client.get(ship, {"ids": world.a_hold.pk}).status_code == 403


# Notifications ----------------------------------------------------------------------------


def test_publisher_cannot_reprocess_a_created_notification(world, a_client):
    created = notify(world.a, order_body(order_id="11110006"))
    response = act(a_client, "reprocess", [created.pk], model="notification")
    assert Notification.objects.get(pk=created.pk).attempts == created.attempts
    assert any("you can reprocess notifications whose outcome" in m for m in texts(response))
    page = a_client.get(reverse("admin:fulfillment_notification_change", args=[created.pk]))
    assert "Reprocess</button>" not in page.content.decode()
    button = reverse("admin:fulfillment_notification_reprocess", args=[created.pk])
    a_client.post(button)
    assert Notification.objects.get(pk=created.pk).attempts == created.attempts


def test_publisher_reprocesses_own_no_match_after_fixing_the_project(world, a_client):
    # QuerySet.update re-indexes the SamCart ids (issue 8, finding 9).
    Project.objects.filter(pk=world.a_project.pk).update(ecommerce_id_string="{279813}{555555}")
    response = act(a_client, "reprocess", [world.a_no_match.pk], model="notification")
    notification = Notification.objects.get(pk=world.a_no_match.pk)
    assert notification.outcome == Outcome.CREATED
    assert notification.orders.count() == 1
    assert any("orders created" in m for m in texts(response))
    act(a_client, "reprocess", [world.a_no_match.pk], model="notification")
    assert notification.orders.count() == 1  # idempotent (and now refused: it is `created`)


def test_staff_reprocess_any_notification_idempotently(world, staff_client):
    response = act(staff_client, "reprocess", [world.b_created.pk], model="notification")
    assert Notification.objects.get(pk=world.b_created.pk).outcome == Outcome.DUPLICATE
    assert Order.objects.filter(notification=world.b_created).count() == 1
    assert any("Already received" in m for m in texts(response))


def test_notification_page_pretty_prints_json_and_escapes_bytes(world, a_client):
    url = reverse("admin:fulfillment_notification_change", args=[world.a_no_match.pk])
    content = a_client.get(url).content.decode()
    assert "  &quot;type&quot;: &quot;Order&quot;," in content
    assert "No active project" in content
    assert 'name="_save"' not in content
    raw = Notification.objects.create(
        publisher=world.a, raw_body=b"\xff<script>x</script>", outcome=Outcome.REJECTED
    )
    content = a_client.get(reverse("admin:fulfillment_notification_change", args=[raw.pk]))
    text = content.content.decode()
    assert "\\xff&lt;script&gt;x&lt;/script&gt;" in text
    assert "<script>x</script>" not in text


def test_notification_filters_by_outcome_and_type(world, a_client):
    url = reverse("admin:fulfillment_notification_changelist")
    result = a_client.get(url, {"outcome__exact": "no_match"}).context["cl"].result_list
    assert [n.pk for n in result] == [world.a_no_match.pk]
    result = a_client.get(url, {"event_type": "Refund"}).context["cl"].result_list
    assert list(result) == []


# Projects ---------------------------------------------------------------------------------


def project_data(project: Project, **changes: object) -> dict[str, object]:
    data = {
        "title": project.title,
        "ecommerce_id_string": project.ecommerce_id_string,
        "is_active": "on",
        "unit_cost": project.unit_cost,
        "shipping_cost": project.shipping_cost,
    }
    data.update(changes)
    return data


def test_project_advanced_settings_validate_and_index(world, a_client):
    url = reverse("admin:fulfillment_project_change", args=[world.a_project.pk])
    page = a_client.get(url).content.decode()
    assert "Advanced Settings" in page and ecommerce_ids.EXAMPLE in page
    response = a_client.post(url, project_data(world.a_project, ecommerce_id_string="{12 34"))
    assert response.status_code == 200
    assert escape(ecommerce_ids.ERROR_INVALID) in response.content.decode()
    a_client.post(url, project_data(world.a_project, ecommerce_id_string=" { 111 } {222}"))
    project = Project.objects.get(pk=world.a_project.pk)
    assert project.ecommerce_id_string == "{111}{222}"
    assert set(project.cart_ids.values_list("external_id", flat=True)) == {"111", "222"}


def test_project_shared_id_warns(world, a_client):
    other = make_project(world.a, "{444}", title="Alpha Bundle")
    url = reverse("admin:fulfillment_project_change", args=[world.a_project.pk])
    response = a_client.post(
        url, project_data(world.a_project, ecommerce_id_string="{279813}{444}"), follow=True
    )
    warnings = [m for m in texts(response) if "also listed by" in m]
    assert warnings and "444" in warnings[0] and other.title in warnings[0]


def test_prices_are_read_only_for_publishers_and_editable_by_staff(world, a_client, staff_client):
    url = reverse("admin:fulfillment_project_change", args=[world.a_project.pk])
    a_client.post(url, project_data(world.a_project, unit_cost="0.01", title="Cheap"))
    project = Project.objects.get(pk=world.a_project.pk)
    assert (project.title, project.unit_cost) == ("Cheap", Decimal("5.00"))
    staff_data = project_data(project, unit_cost="6.25", publisher=world.a.pk)
    assert staff_client.post(url, staff_data).status_code == 302
    assert Project.objects.get(pk=project.pk).unit_cost == Decimal("6.25")


# Publishers and ledger --------------------------------------------------------------------


def test_staff_record_a_deposit_that_auto_releases(world, staff_client):
    Publisher.objects.filter(pk=world.a.pk).update(auto_release=True)
    url = reverse("admin:fulfillment_publisher_balance", args=[world.a.pk])
    response = staff_client.post(
        url, {"kind": "deposit", "amount": "30.00", "note": "Wire"}, follow=True
    )
    assert Publisher.objects.get(pk=world.a.pk).balance == Decimal("24.00")
    assert Order.objects.get(pk=world.a_hold.pk).status == OrderStatus.IN_PRODUCTION
    assert any("Deposit of $30.00" in m for m in texts(response))
    assert world.a.ledger.filter(
        kind=LedgerKind.DEPOSIT, note="Wire", created_by=world.staff
    ).exists()


def test_adjustment_below_zero_is_refused_with_a_message(world, staff_client):
    url = reverse("admin:fulfillment_publisher_balance", args=[world.a.pk])
    response = staff_client.post(url, {"kind": "adjustment", "amount": "-5.00", "note": "Oops"})
    assert response.status_code == 200
    assert "balance negative" in response.content.decode()
    assert Publisher.objects.get(pk=world.a.pk).balance == Decimal("1.00")
    response = staff_client.post(url, {"kind": "adjustment", "amount": "-0.50", "note": ""})
    assert "needs a note" in response.content.decode()


def test_publisher_settings_form_never_writes_the_balance_back(world, staff_client):
    url = reverse("admin:fulfillment_publisher_change", args=[world.a.pk])
    staff_client.get(url)
    ledger_record(publisher_id=world.a.pk, amount=Decimal("40.00"), kind=LedgerKind.DEPOSIT)
    data = {"name": "Alpha Books Ltd", "email": "alpha@example.com", "require_notify_key": "on"}
    data["production_delay_minutes"] = "0"  # a required field of the form (edit window)
    assert staff_client.post(url, data).status_code == 302
    publisher = Publisher.objects.get(pk=world.a.pk)
    assert (publisher.name, publisher.balance) == ("Alpha Books Ltd", Decimal("41.00"))


def test_publisher_page_shows_notify_url_and_is_read_only_for_publishers(world, a_client):
    url = reverse("admin:fulfillment_publisher_change", args=[world.a.pk])
    content = a_client.get(url).content.decode()
    assert f"idpub={world.a.idpub}&amp;key={world.a.notify_key}" in content
    assert 'name="_save"' not in content and "Deposit or adjustment" not in content
    ledger = a_client.get(reverse("admin:fulfillment_ledgerentry_changelist"))
    assert "$1.00" in ledger.content.decode()
    assert a_client.get(reverse("admin:fulfillment_ledgerentry_add")).status_code == 403


def test_staff_create_a_publisher_login_that_sees_only_its_publisher(world, staff_client, a_client):
    url = reverse("admin:fulfillment_publisher_login", args=[world.b.pk])
    data = {"username": "beta-two", "email": "two@beta.example", "role": "manager"}
    data |= {"password1": "long-enough-9x", "password2": "long-enough-9x"}
    response = staff_client.post(url, data, follow=True)
    assert any("now acts for Beta Secret Press" in m for m in texts(response))
    user = world.b.users.get(username="beta-two")
    assert user.is_staff and user.groups.filter(name=MANAGER_GROUP).exists()
    client = Client()
    assert client.login(username="beta-two", password="long-enough-9x")
    shown = client.get(reverse(CHANGELIST)).context["cl"].result_list
    assert {o.publisher_id for o in shown} == {world.b.pk}
    response = staff_client.post(url, data | {"password2": "other-9x-xx"})
    assert "That username is taken." in response.content.decode()
    assert (
        a_client.get(reverse("admin:fulfillment_publisher_login", args=[world.a.pk])).status_code
        == 403
    )


def test_publisher_form_links_no_login_without_a_role(world, staff_client):
    """Logins are linked on the New login page with a role (tests/test_roles.py), not here."""
    url = reverse("admin:fulfillment_publisher_change", args=[world.a.pk])
    form = staff_client.get(url).context["adminform"].form
    assert "users" not in form.fields
