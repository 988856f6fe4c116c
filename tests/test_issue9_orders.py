"""Issue 9 (publisher experience), order page side: points 5, 6, 7, 8, 11, 13 and 16.

Test client and real database only: the admin order page, its form, the API order update and
the services behind them.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from fulfillment.models import (
    HoldReason,
    LedgerKind,
    Order,
    OrderEvent,
    OrderEventKind,
    OrderLine,
    OrderStatus,
    Project,
    Publisher,
)
from fulfillment.services.ledger import ledger_record
from fulfillment.services.lines import order_line_update
from fulfillment.services.orders import order_delete, order_update
from fulfillment.services.release import orders_release
from tests.admin_world import World, line_field, notify, order_body, page_form_data

pytestmark = pytest.mark.django_db
CHANGELIST = "admin:fulfillment_order_changelist"


@pytest.fixture
def staff_client(world: World) -> Client:
    client = Client()
    client.force_login(world.staff)
    return client


def page(order: Order) -> str:
    return reverse("admin:fulfillment_order_change", args=[order.pk])


def form_data(order: Order, **changes: object) -> dict[str, object]:
    """The order form's POST data as the page sends it, with `changes` applied."""
    return page_form_data(order, **changes)


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def fund(publisher: Publisher, amount: str) -> None:
    ledger_record(publisher_id=publisher.pk, amount=Decimal(amount), kind=LedgerKind.DEPOSIT)
    publisher.refresh_from_db()


def incomplete(publisher: Publisher, order_id: str, *, billing_street: str = "") -> Order:
    """A hold order whose shipping street SamCart left empty (address incomplete)."""
    data = json.loads(order_body(order_id=order_id, complete_address=False))
    if billing_street:
        data["customer"]["billing_address"] = billing_street
        data["customer"]["billing_city"] = "Portland"
        data["customer"]["billing_zip"] = "97201"
    order = notify(publisher, json.dumps(data).encode()).orders.get()
    assert order.hold_reason == HoldReason.ADDRESS_INCOMPLETE
    return order


def visible_text(html: str) -> str:
    """The page's text without tags, scripts or attribute values (what a person reads)."""
    html = re.sub(r"<(script|style|datalist)\b.*?</\1>", " ", html, flags=re.S)
    html = re.sub(r"<input\b[^>]*>", " ", html)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# 5. The refunded badge asks to delete only on hold ---------------------------------------


@pytest.mark.parametrize("state", ["deleted", "in_production"])
def test_a_refunded_order_not_on_hold_shows_no_delete_prompt(world, a_client, state):
    order = world.a_hold
    if state == "deleted":
        order_delete(order=order, actor=None)
    else:
        fund(world.a, "20.00")
        orders_release(publisher=world.a, order_ids=[order.pk], actor=None)
    Order.objects.filter(pk=order.pk).update(cart_refunded=True)

    for url in (page(order), reverse(CHANGELIST) + "?status__exact=" + state):
        content = a_client.get(url).content.decode()
        assert "delete?" not in content, url
        assert "refunded in SamCart" in content, url


def test_a_refunded_hold_order_still_asks_to_delete(world, a_client):
    Order.objects.filter(pk=world.a_hold.pk).update(cart_refunded=True)
    content = a_client.get(page(world.a_hold)).content.decode()
    assert "refunded in SamCart — delete?" in content


# 6. Quantity errors land on the field; the page shows no unsaved value -----------------------


@pytest.mark.parametrize("quantity", ["0", "-1", "10001", "abc", ""])
def test_a_bad_quantity_is_a_field_error_and_the_page_keeps_the_stored_figures(
    world, a_client, quantity
):
    order = world.a_hold
    line = order.lines.get()
    response = a_client.post(page(order), form_data(order, **{line_field(line): quantity}))

    assert response.status_code == 200  # the form again, not a redirect with a message
    form = response.context["adminform"].form
    assert line_field(line) in form.errors
    assert "from 1 to 10,000" in " ".join(form.errors[line_field(line)])
    content = response.content.decode()
    assert "Constraint" not in content and "line_quantity_positive" not in content
    text = visible_text(content)
    assert not quantity or f"× {quantity}" not in text  # neither the items nor the breakdown
    assert "$5.00 × 1 + $2.00 shipping" in text and "$7.00" in text
    line.refresh_from_db()
    assert (line.quantity, Order.objects.get(pk=order.pk).cost) == (1, Decimal("7.00"))


@pytest.mark.parametrize("quantity", [0, -1, 10_001, "3"])
def test_the_line_service_itself_bounds_the_quantity(world, quantity):
    line = world.a_hold.lines.get()
    with pytest.raises(ValidationError) as caught:
        order_line_update(line=line, quantity=quantity, actor=None)
    assert "quantity" in caught.value.message_dict
    assert OrderLine.objects.get(pk=line.pk).quantity == 1


def test_order_update_takes_no_quantity(world):
    """A box's quantities are its lines' (`services.lines`), not a field of the order."""
    with pytest.raises(TypeError):
        order_update(order=world.a_hold, actor=None, quantity=2)


def test_a_service_error_lands_on_its_field_not_in_a_message(world, a_client):
    order = world.a_hold
    line = order.lines.get()
    changes = {"ship_country": "Narnia", line_field(line): 2}
    response = a_client.post(page(order), form_data(order, **changes))

    assert response.status_code == 200
    form = response.context["adminform"].form
    assert "ship_country" in form.errors
    assert not texts(response)  # no message at the top: the error is on the field
    assert "× 2" not in visible_text(response.content.decode())
    assert OrderLine.objects.get(pk=line.pk).quantity == 1


# 7. The country is validated and suggested; missing parts are named -------------------------


def test_narnia_is_refused_with_what_to_type(world, a_client):
    order = world.a_hold
    response = a_client.post(page(order), form_data(order, ship_country="Narnia"))

    errors = " ".join(response.context["adminform"].form.errors["ship_country"])
    assert "Narnia" in errors and "two-letter code" in errors
    assert Order.objects.get(pk=order.pk).ship_country == "United States"


@pytest.mark.parametrize(
    ("typed", "code"), [("USA", "US"), ("UK", "GB"), ("Deutschland", "DE"), ("de", "DE")]
)
def test_country_aliases_are_accepted(world, a_client, typed, code):
    order = world.a_hold
    response = a_client.post(page(order), form_data(order, ship_country=typed))
    assert response.status_code == 302
    assert Order.objects.get(pk=order.pk).ship_country_code == code


def test_the_country_box_suggests_known_names(world, a_client):
    content = a_client.get(page(world.a_hold)).content.decode()
    box = re.search(r'<input[^>]*name="ship_country"[^>]*>', content).group()
    list_id = re.search(r'list="([^"]+)"', box).group(1)
    datalist = re.search(rf'<datalist id="{list_id}">(.*?)</datalist>', content, re.S).group(1)
    for name in ("Germany", "United States", "United Kingdom", "Canada"):
        assert f'<option value="{name}">' in datalist


def test_the_api_refuses_an_unknown_country_on_its_field(world):
    api = APIClient()
    api.force_authenticate(world.a_user)
    url = f"/api/v1/orders/{world.a_hold.pk}/"

    response = api.patch(url, {"ship_country": "Narnia"}, format="json")
    assert response.status_code == 400
    assert "Narnia" in " ".join(response.json()["ship_country"])
    ok = api.patch(url, {"ship_country": "Deutschland"}, format="json")
    assert ok.status_code == 200 and ok.json()["ship_country_code"] == "DE"


def test_missing_parts_are_named_on_the_page_the_list_and_the_api(world, a_client):
    order = incomplete(world.a, "21210001")
    Order.objects.filter(pk=order.pk).update(ship_country="Narnia", ship_country_code="")
    missing = "missing: street, a known country"

    assert missing in a_client.get(page(order)).content.decode()
    assert missing in a_client.get(reverse(CHANGELIST)).content.decode()
    api = APIClient()
    api.force_authenticate(world.a_user)
    body = api.get(f"/api/v1/orders/{order.pk}/").json()
    assert body["address_missing"] == ["street", "a known country"]
    complete = api.get(f"/api/v1/orders/{world.a_hold.pk}/").json()
    assert complete["address_missing"] == []


# 8. Fixing an address offers the release, or does it with auto-release ----------------------


def test_fixing_the_address_offers_the_release_with_a_button(world, a_client):
    fund(world.a, "20.00")
    order = incomplete(world.a, "21210002")
    response = a_client.post(page(order), form_data(order, ship_street="2 New St"), follow=True)

    stored = Order.objects.get(pk=order.pk)
    assert (stored.status, stored.hold_reason) == (OrderStatus.HOLD, HoldReason.PAYMENT_REQUIRED)
    assert f"Order #{order.pk} can be released now" in " ".join(texts(response))
    content = response.content.decode()
    offer = re.search(
        r'<form method="post" action="([^"]+)" class="ts-inline-form">.*?</form>', content, re.S
    )
    assert offer and 'name="csrfmiddlewaretoken"' in offer.group()
    assert 'value="release_orders"' in offer.group() and "Release it" in offer.group()
    assert 'name="confirmed" value="yes"' in offer.group()  # names the order and its cost
    # The event of the reason change is written.
    assert OrderEvent.objects.filter(
        order=order, detail__startswith="Hold reason now payment required"
    ).exists()

    # The button works: it posts the release action with the CSRF token.
    csrf = Client(enforce_csrf_checks=True)
    csrf.force_login(world.a_user)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', offer.group()).group(1)
    csrf.cookies["csrftoken"] = a_client.cookies["csrftoken"].value
    released = csrf.post(
        offer.group(1),
        {
            "csrfmiddlewaretoken": token,
            "action": "release_orders",
            "confirmed": "yes",
            "_selected_action": order.pk,
            "index": 0,
        },
    )
    assert released.status_code == 302
    assert Order.objects.get(pk=order.pk).status == OrderStatus.IN_PRODUCTION


def test_fixing_the_address_with_auto_release_releases_in_the_same_save(world, a_client):
    Publisher.objects.filter(pk=world.a.pk).update(auto_release=True)
    fund(world.a, "20.00")
    order = incomplete(world.a, "21210003")
    response = a_client.post(page(order), form_data(order, ship_street="2 New St"), follow=True)

    stored = Order.objects.get(pk=order.pk)
    assert stored.status == OrderStatus.IN_PRODUCTION and stored.charged_at is not None
    assert f"Order #{order.pk} was released" in " ".join(texts(response))
    kinds = list(OrderEvent.objects.filter(order=order).values_list("kind", "detail"))
    assert any(d.startswith("Hold reason now payment required") for _, d in kinds)
    assert any(k == OrderEventKind.RELEASED for k, _ in kinds)


def test_fixing_the_address_without_money_offers_nothing(world, a_client):
    order = incomplete(world.a, "21210004")  # balance $1.00, cost $7.00
    response = a_client.post(page(order), form_data(order, ship_street="2 New St"), follow=True)
    assert "can be released now" not in " ".join(texts(response))
    assert Order.objects.get(pk=order.pk).hold_reason == HoldReason.PAYMENT_REQUIRED


# 11. Order history: labels, old → new, cost only when it moved -----------------------------


def test_history_says_labels_old_and_new_values_and_cost_only_when_it_moved(world, a_client):
    order = world.a_hold
    a_client.post(page(order), form_data(order, ship_street="2 New St", ship_city="Salem"))
    line = order.lines.get()
    a_client.post(page(order), form_data(order, **{line_field(line): 2}))

    edits = list(
        OrderEvent.objects.filter(order=order, kind=OrderEventKind.EDITED)
        .order_by("id")
        .values_list("detail", flat=True)
    )
    assert edits[0] == "Street: 4410 Larkspur Lane → 2 New St; City: Austin → Salem."
    assert edits[1] == "Alpha Almanac: quantity 1 → 2. Cost $7.00 → $12.00."
    content = a_client.get(page(order)).content.decode()
    assert "ship_street" not in visible_text(content)
    assert "Street: 4410 Larkspur Lane → 2 New St" in content


def test_history_shortens_long_values_and_renders_them_safely(world, a_client):
    order = world.a_hold
    long_name = "<b>" + "x" * 150 + "\u202e"
    order_update(order=order, actor=None, ship_name=long_name)
    detail = OrderEvent.objects.filter(order=order, kind=OrderEventKind.EDITED).latest("id").detail
    assert len(detail) < 200 and "…" in detail
    content = a_client.get(page(order)).content.decode()
    assert "<b>xxx" not in content and "&lt;b&gt;xxx" in content


# 13. A payment hold shows the balance and the shortfall; a charged order its charged figures --


def test_a_payment_hold_shows_the_balance_the_shortfall_and_how_to_add_funds(world, a_client):
    text = visible_text(a_client.get(page(world.a_hold)).content.decode())
    assert "Balance $1.00; this order needs $6.00 more." in text
    assert "To add funds, pay TrepStar and write to" in text
    assert world.a.idpub in text


def test_a_charged_order_shows_the_figures_it_was_charged_at(world, a_client):
    fund(world.a, "20.00")
    orders_release(publisher=world.a, order_ids=[world.a_hold.pk], actor=None)
    Project.objects.filter(pk=world.a_project.pk).update(unit_cost=Decimal("9.40"))

    text = visible_text(a_client.get(page(world.a_hold)).content.decode())
    assert "$7.00" in text
    assert "$9.40" not in text  # today's price would not add up to the $7.00 charged


# 16. The billing address SamCart sent, on an address-incomplete order -----------------------


def test_an_address_incomplete_order_shows_the_billing_address_sent(world, a_client):
    order = incomplete(world.a, "21210005", billing_street="77 Billing Way")
    text = visible_text(a_client.get(page(order)).content.decode())
    assert "Billing address from SamCart" in text
    assert "77 Billing Way" in text and "Portland" in text and "97201" in text
    # Not on a complete order.
    other = visible_text(a_client.get(page(world.a_hold)).content.decode())
    assert "Billing address from SamCart" not in other


def test_a_staff_viewer_sees_the_same_blocks(world, staff_client):
    """The staff view of an incomplete order renders the same blocks (no 500)."""
    order = incomplete(world.a, "21210006")
    response = staff_client.get(page(order))
    assert response.status_code == 200
    assert "missing: street" in response.content.decode()


# Siblings ---------------------------------------------------------------------------------


def test_a_test_order_is_not_told_it_needs_money(world, a_client):
    order = notify(world.a, order_body(order_id="21210007"), test=True).orders.get()
    text = visible_text(a_client.get(page(order)).content.decode())
    assert "needs" not in text and "To add funds" not in text


def test_a_deleted_order_after_a_price_change_does_not_claim_a_charge(world, a_client):
    order_delete(order=world.a_hold, actor=None)
    Project.objects.filter(pk=world.a_project.pk).update(unit_cost=Decimal("9.40"))
    text = visible_text(a_client.get(page(world.a_hold)).content.decode())
    assert "$7.00" in text and "$9.40" not in text and "charged" not in text
