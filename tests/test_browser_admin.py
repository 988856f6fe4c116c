"""The admin and account page in a real Chromium (Playwright), against the live server.

One browser per module; each test gets fresh contexts (cookies) per user. Screenshots of the
main pages go to test-artifacts/screenshots/ (gitignored) for people to look at.
"""

from __future__ import annotations

import json
import urllib.request
from decimal import Decimal
from pathlib import Path

import pytest

from fulfillment.models import Notification, Order, OrderStatus, Outcome, Project, Publisher
from tests.admin_world import order_body
from tests.browser import BROWSER_MARKS, PASSWORD, save_shot
from tests.browser import login as shared_login
from tests.factories import make_project, make_publisher, make_publisher_user, make_staff_user

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect
SHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"

pytestmark = BROWSER_MARKS


@pytest.fixture
def site(live_server, settings):
    """Make the account page print Notify URLs of the live server."""
    settings.PUBLIC_BASE_URL = live_server.url
    SHOTS.mkdir(parents=True, exist_ok=True)
    return live_server.url


def login(browser, base_url: str, username: str):
    """Log `username` in, in a fresh context at this module's 1280 × 900."""
    return shared_login(browser, base_url, username, viewport={"width": 1280, "height": 900})


def post_json(url: str, body: bytes) -> dict:
    """POST a SamCart body to a Notify URL over real HTTP and return the JSON answer."""
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def shot(page, name: str) -> None:
    save_shot(page, SHOTS / f"{name}.png", full_page=True)


def messages(page) -> str:
    """Return the text of the messages shown after the last step (waiting for them)."""
    page.wait_for_load_state()
    return page.inner_text("ul.messagelist")


def run_action(page, action: str, order_ids: list[int]) -> None:
    """Tick the rows of a changelist, pick an action and press Go."""
    for pk in order_ids:
        page.check(f"input[name=_selected_action][value='{pk}']")
    page.select_option("select[name=action]", action)
    page.click("button[name=index]")


def test_publisher_and_staff_flows(browser, site):
    publisher = make_publisher(name="Lighthouse Press", email="orders@lighthouse.example")
    make_project(
        publisher, "279813", title="Keeper's Almanac", unit_cost="6.50", shipping_cost="4.95"
    )
    make_publisher_user(publisher, "lighthouse", PASSWORD)
    make_staff_user("staffer", PASSWORD)
    page = login(browser, site, "lighthouse")

    # The account page shows the Notify URL; the copy button puts it on the clipboard.
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site)
    page.click("text=Account & Notify URL")
    url = page.input_value("#notify-url")
    assert url.startswith(f"{site}/samcart/notify/?idpub={publisher.idpub}&key=")
    page.click("#copy-notify-url")
    page.wait_for_selector("#copy-status:has-text('Copied.')")
    assert page.evaluate("navigator.clipboard.readText()") == url

    # Replay SamCart samples to the URL copied from the page: two held orders, one no_match.
    assert post_json(url, order_body(order_id="5001"))["outcome"] == "created"
    assert post_json(url, order_body(order_id="5002", first="Ada"))["outcome"] == "created"
    assert post_json(url, order_body(order_id="5003", product_id="424242"))["outcome"] == "no_match"
    keep, drop = Order.objects.filter(publisher=publisher).order_by("external_order_id")

    page.goto("/admin/fulfillment/order/")
    expect(page.get_by_text("on hold — payment required")).to_have_count(2)
    shot(page, "orders-list")

    # Edit the address of one held order.
    page.click(f"text=#{keep.pk}")
    page.fill("#id_ship_street", "12 Harbour Road")
    page.click("input[name=_save]")
    assert "was changed successfully" in messages(page)
    keep.refresh_from_db()
    assert keep.ship_street == "12 Harbour Road"
    page.click(f"text=#{keep.pk}")
    expect(page.locator("table.ts-events td", has_text="edited")).to_have_count(1)
    shot(page, "order-page")

    # Delete the other one from the list.
    page.goto("/admin/fulfillment/order/")
    run_action(page, "delete_orders", [drop.pk])
    assert f"Order #{drop.pk}" in page.inner_text("#delete-orders")
    assert Order.objects.get(pk=drop.pk).status == OrderStatus.HOLD  # asked first
    page.click("#confirm-delete")
    assert f"Deleted order #{drop.pk}" in messages(page)
    assert Order.objects.get(pk=drop.pk).status == OrderStatus.DELETED

    # An invalid eCommerceIDString is refused with the syntax; the fixed one is saved.
    project = Project.objects.get(publisher=publisher)
    page.goto(f"/admin/fulfillment/project/{project.pk}/change/")
    page.fill("#id_ecommerce_id_string", "{279813}{424242")
    page.click("input[name=_save]")
    assert "This is not a valid eCommerceIDString" in page.inner_text(".errorlist")
    shot(page, "project-page-error")
    page.fill("#id_ecommerce_id_string", "{279813}{424242}")
    page.click("input[name=_save]")
    assert "was changed successfully" in messages(page)
    page.goto(f"/admin/fulfillment/project/{project.pk}/change/")
    shot(page, "project-page")

    # Reprocess the no_match notification: its order appears.
    page.goto("/admin/fulfillment/notification/")
    shot(page, "notifications-list")
    no_match = Notification.objects.get(publisher=publisher, outcome=Outcome.NO_MATCH)
    page.goto(f"/admin/fulfillment/notification/{no_match.pk}/change/")
    page.click("button:has-text('Reprocess')")
    assert "orders created" in messages(page)
    new_order = Order.objects.get(publisher=publisher, external_order_id="5003")
    expect(page.locator(f"a:has-text('#{new_order.pk}')")).to_have_count(1)
    shot(page, "notification-page")

    # Staff record a deposit.
    staff = login(browser, site, "staffer")
    staff.goto(f"/admin/fulfillment/publisher/{publisher.pk}/change/")
    staff.click("text=Deposit or adjustment…")
    staff.fill("#id_amount", "100.00")
    staff.fill("#id_note", "Bank transfer")
    staff.click("input[value=Record]")
    assert "Deposit of $100.00 recorded" in messages(staff)
    shot(staff, "publisher-page")

    # The publisher releases everything on hold from the account page.
    page.goto("/account/")
    assert page.inner_text("#balance") == "$100.00"
    assert page.inner_text("#hold-summary") == "2 orders · $22.90"
    shot(page, "account-page")
    page.click("#release-all")
    assert "Releasing now charges 2 orders, $22.90 in all" in page.inner_text("#release-summary")
    page.click("#confirm-release")
    assert "Released 2 orders ($22.90)" in messages(page)
    assert "balance $100.00 → $77.10." in messages(page)
    assert Publisher.objects.get(pk=publisher.pk).balance == Decimal("77.10")

    # Staff mark one order shipped with a tracking number.
    staff.goto("/admin/fulfillment/order/?status__exact=in_production")
    run_action(staff, "ship_orders", [keep.pk])
    staff.fill(f"input[name=tracking_{keep.pk}]", "1Z-TRACK-42")
    staff.click("input[value='Mark as shipped']")
    assert f"Marked as shipped: order #{keep.pk} (1Z-TRACK-42)" in messages(staff)
    keep.refresh_from_db()
    assert (keep.status, keep.tracking_number) == (OrderStatus.SHIPPED, "1Z-TRACK-42")
    shot(staff, "orders-list-staff")
    page.context.close()
    staff.context.close()


def test_rotate_key_asks_first_and_copy_falls_back_without_clipboard_api(browser, site):
    publisher = make_publisher(name="Quarry Road")
    make_publisher_user(publisher, "quarry", PASSWORD)
    other = make_publisher(name="Hidden Rival Press")
    make_project(other, "301477", title="Rival Secret Journal")
    page = login(browser, site, "quarry")
    page.add_init_script("Object.defineProperty(navigator, 'clipboard', {value: undefined})")
    page.goto("/account/")
    old_url = page.input_value("#notify-url")

    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("#rotate-key")
    assert page.input_value("#notify-url") == old_url  # cancelled: nothing changed

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#rotate-key")
    page.wait_for_selector("text=New Notify URL key made")
    new_url = page.input_value("#notify-url")
    assert new_url != old_url
    assert new_url.endswith(Publisher.objects.get(pk=publisher.pk).notify_key)

    page.click("#copy-notify-url")
    selected = page.evaluate(
        "(() => { const f = document.getElementById('notify-url');"
        " return f.value.substring(f.selectionStart, f.selectionEnd); })()"
    )
    assert selected == new_url
    assert page.inner_text("#copy-status") != ""

    for path in ("/admin/fulfillment/project/", "/admin/fulfillment/order/", "/account/"):
        page.goto(path)
        assert "Rival" not in page.content()
    response = page.goto(f"/admin/fulfillment/publisher/{other.pk}/change/")
    assert response.status == 404
    page.context.close()
