"""Issue 9 in a real Chromium at 1366 × 768, the order page: field errors stay on their fields
and nothing unsaved shows, the country list, missing address parts, the billing address SamCart
sent, the release offered after an address fix, the history in words, a payment shortfall.

Screenshots go to test-artifacts/screenshots/issue9/ for people to look at.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from fulfillment.models import HoldReason, Order, OrderStatus
from tests.admin_world import notify, order_body
from tests.browser import BROWSER_MARKS, PASSWORD, login, save_shot
from tests.factories import make_project, make_publisher, make_publisher_user

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect
SHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots" / "issue9"

pytestmark = BROWSER_MARKS


@pytest.fixture
def site(live_server, settings):
    settings.PUBLIC_BASE_URL = live_server.url
    SHOTS.mkdir(parents=True, exist_ok=True)
    return live_server.url


def shot(page, name: str) -> None:
    save_shot(page, SHOTS / f"{name}.png", full_page=False)


def incomplete_order(publisher, order_id: str) -> Order:
    """A hold order with no shipping street, billed to 77 Billing Way, Portland."""
    data = json.loads(order_body(order_id=order_id, complete_address=False))
    data["customer"].update(
        billing_address="77 Billing Way", billing_city="Portland", billing_zip="97201"
    )
    order = notify(publisher, json.dumps(data).encode()).orders.get()
    assert order.hold_reason == HoldReason.ADDRESS_INCOMPLETE
    return order


def test_fix_an_incomplete_address_on_the_order_page_and_release_it(browser, site):
    publisher = make_publisher(name="Harbour Books", balance="20.00")
    make_project(publisher, "279813", title="Tide Tables")  # $5.00 + $2.00 shipping
    make_publisher_user(publisher, "harbour", PASSWORD)
    order = incomplete_order(publisher, "31310001")
    page = login(browser, site, "harbour")

    page.goto(f"/admin/fulfillment/order/{order.pk}/change/")
    body = page.locator("body")
    expect(body).to_contain_text("missing: street")
    expect(body).to_contain_text("Billing address from SamCart")
    expect(body).to_contain_text("77 Billing Way")
    page.locator(".field-billing_address").scroll_into_view_if_needed()
    shot(page, "order-incomplete-billing")

    # Quantity 0: an error on the item's input, no raw constraint, nothing unsaved on the page.
    line = order.lines.get()
    page.fill(f"#id_line_{line.pk}_quantity", "0")
    page.click("input[name=_save]")
    quantity_row = page.locator(f"#line-{line.pk}")
    expect(quantity_row.locator(".errorlist")).to_contain_text("from 1 to 10,000")
    text = body.inner_text()
    assert "Constraint" not in text and "× 0" not in text
    assert "$5.00 × 1 + $2.00 shipping" in text
    quantity_row.scroll_into_view_if_needed()
    shot(page, "order-quantity-zero")

    # An unknown country: an error on the field saying what to type.
    page.fill(f"#id_line_{line.pk}_quantity", "1")
    page.fill("#id_ship_country", "Narnia")
    page.click("input[name=_save]")
    country_row = page.locator(".field-ship_country")
    expect(country_row.locator(".errorlist")).to_contain_text("two-letter code")
    country_row.scroll_into_view_if_needed()
    shot(page, "order-country-narnia")
    assert page.locator("#id_ship_country").get_attribute("list")
    assert page.locator("datalist option[value='Germany']").count() == 1

    # Fix the address with an alias: the page offers the release; the button releases.
    page.fill("#id_ship_country", "Deutschland")
    page.fill("#id_ship_street", "2 New St")
    page.click("input[name=_save]")
    expect(page.locator(".messagelist")).to_contain_text(f"Order #{order.pk} can be released now")
    shot(page, "order-release-offered")
    page.locator(".messagelist button", has_text="Release it").click()
    expect(page.locator(".messagelist")).to_contain_text(f"Released 1 order ($7.00): #{order.pk}")
    stored = Order.objects.get(pk=order.pk)
    assert (stored.status, stored.ship_country_code) == (OrderStatus.IN_PRODUCTION, "DE")

    page.goto(f"/admin/fulfillment/order/{order.pk}/change/")
    history = page.locator(".ts-events").inner_text()
    assert "Street: (empty) → 2 New St" in history
    assert "Country: United States → Deutschland" in history
    assert re.search(r"ship_\w+", history) is None
    page.locator(".ts-events").scroll_into_view_if_needed()
    shot(page, "order-history-words")
    page.context.close()


def test_a_payment_hold_shows_the_shortfall(browser, site):
    publisher = make_publisher(name="Quay Press", balance="3.00")
    make_project(publisher, "279813", title="Quay Guide")
    make_publisher_user(publisher, "quay", PASSWORD)
    order = notify(publisher, order_body(order_id="31310002")).orders.get()
    page = login(browser, site, "quay")

    page.goto(f"/admin/fulfillment/order/{order.pk}/change/")
    row = page.locator(".field-payment_summary")
    expect(row).to_contain_text("Balance $3.00; this order needs $4.00 more.")
    expect(row).to_contain_text("To add funds")
    shot(page, "order-payment-shortfall")
    page.context.close()


def test_use_the_billing_address_samcart_sent_with_one_button(browser, site):
    """Issue 20 #18: the button copies the billing address; the hold reason follows."""
    publisher = make_publisher(name="Quay Books", balance="1.00")
    make_project(publisher, "279813", title="Tide Tables")
    make_publisher_user(publisher, "quay", PASSWORD)
    order = incomplete_order(publisher, "31310020")
    page = login(browser, site, "quay")

    page.goto(f"/admin/fulfillment/order/{order.pk}/change/")
    page.click("#use-billing-address")
    expect(page.locator(".messagelist")).to_contain_text(
        "the shipping address is now the billing address SamCart sent (77 Billing Way"
    )
    expect(page.locator("#id_ship_street")).to_have_value("77 Billing Way")
    assert page.locator("#use-billing-address").count() == 0
    stored = Order.objects.get(pk=order.pk)
    assert stored.hold_reason == HoldReason.PAYMENT_REQUIRED
