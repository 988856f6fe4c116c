"""Issue 20, point 22, in a real Chromium: a manager switches the buyer's shipping e-mail on
and previews it; staff ship with a carrier on the ship page; the buyer's e-mail reaches a real
SMTP server with the carrier's tracking link, and the preview shows that e-mail."""

from __future__ import annotations

import pytest

from fulfillment.models import Order, OrderStatus
from fulfillment.services.alerts import alerts_send_due
from tests.browser import BROWSER_MARKS, PASSWORD, login
from tests.factories import make_project, make_publisher, make_publisher_user, make_staff_user
from tests.test_buyer_email import in_production

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = BROWSER_MARKS


def test_the_buyer_is_told_when_the_order_ships(browser, live_server, settings, smtp_server):
    settings.PUBLIC_BASE_URL = live_server.url
    publisher = make_publisher(
        balance="100.00", name="Harbour Press", email="hello@harbour.example"
    )
    make_project(publisher, "279813", title="Tide Tables")
    make_publisher_user(publisher, "harbour-manager", PASSWORD)
    make_staff_user("ship-staff", PASSWORD)
    order = in_production(publisher)

    manager = login(browser, live_server.url, "harbour-manager")
    manager.goto("/account/")
    box = manager.locator("#id_buyer_shipping_email")
    expect(box).not_to_be_checked()
    box.check()
    manager.locator("form.ts-alerts button[type=submit]").click()
    expect(manager.locator("#id_buyer_shipping_email")).to_be_checked()

    staff = login(browser, live_server.url, "ship-staff")
    staff.goto(f"/admin/fulfillment/order/ship/?ids={order.pk}")
    staff.fill(f"input[name=tracking_{order.pk}]", "1Z999AA10123456784")
    staff.select_option(f"select[name=carrier_{order.pk}]", label="UPS")
    staff.click("input[type=submit][value='Mark as shipped']")
    expect(staff.locator("ul.messagelist")).to_contain_text("Marked as shipped")
    assert Order.objects.get(pk=order.pk).status == OrderStatus.SHIPPED

    assert alerts_send_due() == 1
    [message] = smtp_server.inbox.messages
    assert message["From"].addresses[0].display_name == "Harbour Press"
    assert message["Reply-To"] == "hello@harbour.example"
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "https://www.ups.com/track?tracknum=1Z999AA10123456784" in text

    manager.goto("/account/")
    manager.click("#buyer-email-preview")
    expect(manager.locator("#preview-text")).to_contain_text(
        "https://www.ups.com/track?tracknum=1Z999AA10123456784"
    )
    link = manager.locator("#preview-html a", has_text="Follow your parcel")
    expect(link).to_have_attribute("href", "https://www.ups.com/track?tracknum=1Z999AA10123456784")
    expect(manager.locator("#preview-headers")).to_contain_text("Harbour Press")
    expect(manager.locator("#preview-state")).to_contain_text(f"#{order.pk}")
    manager.context.close()
    staff.context.close()
