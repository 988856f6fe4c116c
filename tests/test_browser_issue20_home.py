"""Issue 20, points 8 and 17, in a real Chromium: the home page a publisher and TrepStar staff
land on after logging in, and the orders list on a 390×844 phone (no sideways scrolling)."""

from __future__ import annotations

import pytest

from fulfillment.models import Order, OrderStatus
from fulfillment.services.orders import orders_flag_cart_refunded
from tests.admin_world import box_body, notify, order_body
from tests.browser import BROWSER_MARKS, PASSWORD, login
from tests.factories import make_project, make_publisher, make_publisher_user, make_staff_user

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = BROWSER_MARKS

PHONE = {"width": 390, "height": 844}
LONG = {
    "first": "Maximiliana-Evangelina",
    "last": "Worthington-Fairweather-Montgomery",
    "email": "maximiliana.evangelina.worthington-fairweather@very-long-domain.example",
}


def realistic_orders():
    """A publisher with long names, boxes of 3 items, orders on hold and in production."""
    publisher = make_publisher(
        name="The Extraordinarily Long-Named Harbour Press Cooperative", balance="40.00"
    )
    make_project(publisher, "279813", title="Tide Tables and Coastal Almanac, Revised Edition")
    make_project(publisher, "294010", title="Lighthouse Keepers' Illustrated Workbook Vol. II")
    make_project(publisher, "298020", title="Harbour Charts Companion Deluxe Box Set")
    products = [("279813", 2), ("294010", 1), ("298020", 3)]
    for n in range(6):
        notify(publisher, box_body(order_id=str(7100 + n), products=products, **LONG))
    notify(publisher, order_body(order_id="7200", complete_address=False, **LONG))
    assert Order.objects.filter(publisher=publisher, status=OrderStatus.HOLD).exists()
    assert Order.objects.filter(publisher=publisher, status=OrderStatus.IN_PRODUCTION).exists()
    return publisher


def page_width(page) -> int:
    """Return how wide the page's content is (more than the viewport: it scrolls sideways)."""
    return page.evaluate("document.scrollingElement.scrollWidth")


def list_overflow(page) -> int:
    """Return how far the orders table runs past its own box (Django's responsive styles let
    the table scroll sideways inside `.results` while the page itself does not)."""
    return page.evaluate(
        "(() => { const box = document.querySelector('#changelist .results');"
        " const table = document.querySelector('#result_list');"
        " return Math.max(box.scrollWidth - box.clientWidth,"
        " table.getBoundingClientRect().right - window.innerWidth); })()"
    )


def test_the_orders_list_fits_a_390px_phone_for_a_publisher_and_for_staff(browser, live_server):
    publisher = realistic_orders()
    make_publisher_user(publisher, "harbour-phone", PASSWORD)
    make_staff_user("staff-phone", PASSWORD)
    for username in ("harbour-phone", "staff-phone"):
        page = login(browser, live_server.url, username, viewport=PHONE)
        page.goto("/admin/fulfillment/order/")
        expect(page.locator("#result_list tbody tr")).to_have_count(7)
        assert page_width(page) <= PHONE["width"]
        assert list_overflow(page) <= 0
        expect(page.locator("#result_list th.field-number").first).to_be_visible()
        for column in ("status_column", "customer", "cost_column"):
            expect(page.locator(f"#result_list td.field-{column}").first).to_be_visible()
        expect(page.locator("#result_list td.field-items_column").first).to_be_hidden()
        page.context.close()


def test_a_publisher_lands_on_its_home_and_follows_a_link_to_its_hold_orders(browser, live_server):
    publisher = make_publisher(name="Harbour Press", balance="5.00")
    make_project(publisher, "279813", title="Tide Tables", unit_cost="4.00", shipping_cost="3.00")
    held = notify(publisher, order_body(order_id="7301")).orders.get()
    make_publisher_user(publisher, "harbour-home", PASSWORD, role="viewer")
    page = login(browser, live_server.url, "harbour-home")
    home = page.locator(f"#ts-home-{publisher.pk}")
    expect(home.locator("h2")).to_have_text("Harbour Press")
    expect(home.locator(".ts-home-balance")).to_contain_text("$5.00")
    expect(home.locator(".ts-home-hold")).to_contain_text(
        "they cost $7.00 against a balance of $5.00: $2.00 short"
    )
    expect(page.locator("#ts-staff-home")).to_have_count(0)
    expect(page.locator(".app-fulfillment")).to_be_visible()  # the app list, below
    home.locator(".ts-home-hold th a").click()
    page.wait_for_url("**/admin/fulfillment/order/?status__exact=hold")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    expect(page.locator("#result_list th.field-number")).to_have_text(f"#{held.pk}")
    page.context.close()

    phone = login(browser, live_server.url, "harbour-home", viewport=PHONE)
    expect(phone.locator(f"#ts-home-{publisher.pk}")).to_be_visible()
    assert page_width(phone) <= PHONE["width"]
    phone.context.close()


def test_staff_land_on_their_work_lists_and_reach_a_refunded_order(browser, live_server):
    publisher = make_publisher(name="Harbour Press", balance="100.00")
    make_project(publisher, "279813", title="Tide Tables")
    made = notify(publisher, order_body(order_id="7401")).orders.get()
    assert made.status == OrderStatus.IN_PRODUCTION
    orders_flag_cart_refunded(
        publisher_id=publisher.pk, order_id="7401", product_ids=(), event_type="Refund"
    )
    make_staff_user("staff-home", PASSWORD)
    page = login(browser, live_server.url, "staff-home")
    work = page.locator("#ts-staff-home")
    expect(work.locator("h2")).to_have_text("Waiting for TrepStar staff")
    refunds = work.locator("#ts-work-refunds")
    expect(refunds.locator(".ts-count")).to_have_text("1")
    expect(refunds).to_contain_text(f"order #{made.pk} (Harbour Press, in production, refunded")
    refunds.get_by_role("link", name="in production").click()
    page.wait_for_url(
        "**/admin/fulfillment/order/?cart_refunded__exact=1&status__exact=in_production"
    )
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    page.goto(f"/admin/fulfillment/order/ship/?ids={made.pk}")
    expect(page.locator(f"#refund-flag-{made.pk}")).to_contain_text("— do not ship")
    expect(page.locator(f"input[type=checkbox][name=order][value='{made.pk}']")).not_to_be_checked()
    page.context.close()
