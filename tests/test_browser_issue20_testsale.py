"""Issue 20, point 10, in a real Chromium: a manager sends a test sale from the account page
and sees its answer with links to the notification and the test order; then clears the test
orders with one click. A viewer gets no button."""

from __future__ import annotations

from pathlib import Path

import pytest

from fulfillment.models import Notification, Order, OrderStatus, Outcome
from tests.browser import BROWSER_MARKS, PASSWORD, login, save_shot
from tests.factories import make_project, make_publisher, make_publisher_user

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = BROWSER_MARKS

SHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots" / "issue20"


def shoot(page, name: str) -> None:
    """Keep a picture of the test-sale card for people to look at."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    save_shot(page.locator("#test-sale-card"), SHOTS / f"{name}.png")


def test_a_manager_sends_test_sales_sees_the_answers_and_clears_them(browser, live_server):
    publisher = make_publisher(name="Lantern Books")
    make_project(publisher, "279813", title="Lantern Almanac")
    make_publisher_user(publisher, "lantern-manager", PASSWORD, role="manager")
    make_publisher_user(publisher, "lantern-viewer", PASSWORD, role="viewer")

    page = login(browser, live_server.url, "lantern-manager")
    page.goto("/account/")
    expect(page.locator("#test-sale-product")).to_have_value("279813")
    page.check("#test-sale-mapped")
    page.click("#send-test-sale")
    expect(page.locator("#test-sale-outcome")).to_have_text("created")
    expect(page.locator("#test-sale-status")).to_have_text("200")
    note = Notification.objects.get(publisher=publisher, is_test=True)
    order = Order.objects.get(publisher=publisher)
    assert (order.is_test, order.status) == (True, OrderStatus.HOLD)
    expect(page.locator("#test-sale-detail")).to_contain_text("Test order: never charged")
    expect(page.locator("#test-sale-detail")).not_to_contain_text("payment required")
    expect(page.locator(".messagelist")).to_contain_text("Its answer: 200 created.")
    expect(page.locator("#test-order-count")).to_contain_text("1 test order now.")
    shoot(page, "test-sale-created")

    # The links lead to the order and the notification.
    page.click(f"text=Test order #{order.pk}")
    page.wait_for_url(f"**/admin/fulfillment/order/{order.pk}/change/")
    expect(page.locator("body")).to_contain_text("test order: never charged")
    page.go_back()
    page.click("#test-sale-notification")
    page.wait_for_url(f"**/admin/fulfillment/notification/{note.pk}/change/")
    page.go_back()

    # An unmapped product: no_match, no order.
    page.check("#test-sale-unmapped")
    page.click("#send-test-sale")
    expect(page.locator("#test-sale-outcome")).to_have_text("no_match")
    expect(page.locator("#test-sale-result")).to_contain_text("no order made")
    assert Notification.objects.filter(outcome=Outcome.NO_MATCH, is_test=True).count() == 1

    # An incomplete address: a test order on hold, address incomplete.
    page.check("#test-sale-incomplete_address")
    page.click("#send-test-sale")
    expect(page.locator("#test-sale-outcome")).to_have_text("created")
    expect(page.locator("#test-order-count")).to_contain_text("2 test orders now.")

    page.click("#clear-test-orders")
    expect(page.locator(".messagelist")).to_contain_text("Cleared 2 test orders.")
    expect(page.locator("#test-order-count")).to_contain_text("0 test orders now.")
    assert not Order.objects.filter(publisher=publisher).exists()
    page.context.close()

    viewer = login(browser, live_server.url, "lantern-viewer")
    viewer.goto("/account/")
    expect(viewer.locator("#test-sale-manager-only")).to_be_visible()
    expect(viewer.locator("#send-test-sale")).to_have_count(0)
    viewer.context.close()
