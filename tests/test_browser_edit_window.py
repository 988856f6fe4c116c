"""The edit window in a real Chromium (SPEC §15): a publisher sees when production starts,
fixes the address of a paid order, cancels it and sees the refund on the account page."""

from __future__ import annotations

import pytest

from fulfillment.models import LedgerEntry, LedgerKind, Order, OrderStatus
from tests.admin_world import notify, order_body
from tests.browser import BROWSER_MARKS, PASSWORD, login
from tests.factories import make_project, make_publisher, make_publisher_user

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = BROWSER_MARKS


def test_see_production_time_edit_the_address_cancel_and_see_the_refund(browser, live_server):
    publisher = make_publisher(name="Window Books", balance="20.00", production_delay_minutes=60)
    make_project(publisher, "279813", title="Tide Tables")  # $5.00 + $2.00 shipping
    make_publisher_user(publisher, "window", PASSWORD)
    order = notify(publisher, order_body(order_id="41410001")).orders.get()
    assert order.status == OrderStatus.SCHEDULED
    page = login(browser, live_server.url, "window")

    page.goto("/account/")
    expect(page.locator("#scheduled-orders")).to_contain_text("production starts at")
    page.goto(f"/admin/fulfillment/order/{order.pk}/change/")
    expect(page.locator(".field-status_summary")).to_contain_text("production starts at")
    expect(page.locator("#box-items")).to_contain_text("Tide Tables")
    assert page.locator("input.ts-line-quantity").count() == 0  # paid: the quantity stays

    page.fill("#id_ship_street", "")
    page.click("input[name=_save]")
    expect(page.locator(".field-ship_street .errorlist")).to_contain_text("must stay complete")
    page.fill("#id_ship_street", "12 Harbour Road")
    page.click("input[name=_save]")
    assert Order.objects.get(pk=order.pk).ship_street == "12 Harbour Road"

    page.goto(f"/admin/fulfillment/order/{order.pk}/change/")
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Cancel this order (refund)…").click()
    expect(page.locator(".messagelist")).to_contain_text(
        f"Order #{order.pk} cancelled (1 item: Tide Tables): $7.00 refunded; balance now $20.00."
    )
    page.goto("/account/")
    expect(page.locator("#balance")).to_have_text("$20.00")
    expect(page.locator("#recent-ledger")).to_contain_text("Refund $7.00")
    assert Order.objects.get(pk=order.pk).status == OrderStatus.DELETED
    assert LedgerEntry.objects.filter(order=order, kind=LedgerKind.REFUND).count() == 1
    page.context.close()
