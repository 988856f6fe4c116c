"""The path a new publisher takes, as README and docs/publisher.md describe it, in Chromium.

Log in, read the Notify URL on the account page, send a sale with the real `samcart_send`
command (a separate process) to the URL copied from the page, find the order, fix a "no project
matched" by setting an eCommerceIDString and reprocess it from the offer, edit a hold order's
address, see a two-product SamCart order as one box of two items and change one item's
quantity and remove the other, release an order once funds are in, and see the ledger. Every
page on the way must show no error, no 404, no raw internal field name and no "None".
Screenshots at 1366 × 768 go to test-artifacts/screenshots/walk/.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from fulfillment.models import Order, OrderStatus
from fulfillment.services.deposits import deposit_record
from tests.browser import BROWSER_MARKS, PASSWORD, save_shot
from tests.factories import make_project, make_publisher, make_publisher_user

sync_api = pytest.importorskip("playwright.sync_api")
ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "test-artifacts" / "screenshots" / "walk"
# Internal names a person should never read (`ship_city`, `hold_reason`, …).
INTERNAL = re.compile(r"\b(ship|customer|external|hold|cart|notify|unit|is)_[a-z_]+\b")
ERRORS = ("Traceback", "Server Error", "Page not found", "Constraint", "IntegrityError")

pytestmark = BROWSER_MARKS


class Walk:
    """A logged-in page that checks every page it shows and keeps a screenshot of each."""

    def __init__(self, page) -> None:
        self.page = page
        self.step = 0
        self.statuses: list[tuple[str, int]] = []
        page.on("response", self._record)

    def _record(self, response) -> None:
        if response.request.resource_type == "document":
            self.statuses.append((response.url, response.status))

    def check(self, name: str) -> str:
        """Assert the page is clean; return its visible text."""
        self.page.wait_for_load_state()
        self.step += 1
        save_shot(self.page, SHOTS / f"{self.step:02d}-{name}.png", full_page=True)
        url, status = self.statuses[-1]
        assert status < 400, (name, url, status)
        text = self.page.inner_text("body")
        for error in ERRORS:
            assert error not in text, (name, error)
        assert not INTERNAL.findall(text), (name, INTERNAL.findall(text))
        assert not re.search(r"(^|\s)None(?! available)(\s|$)", text), (name, "None")
        return text

    def goto(self, path: str, name: str) -> str:
        self.page.goto(path)
        return self.check(name)

    def click(self, selector: str, name: str) -> str:
        self.page.click(selector)
        return self.check(name)


def samcart_send(url: str, *args: str) -> str:
    """Run the real `manage.py samcart_send` in its own process; return what it printed."""
    done = subprocess.run(
        [sys.executable, "manage.py", "samcart_send", "--url", url, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "DEBUG": "1"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_new_publisher_follows_the_readme_from_login_to_ledger(browser, live_server, settings):
    settings.PUBLIC_BASE_URL = ""  # as in production without it: the page uses its own address
    SHOTS.mkdir(parents=True, exist_ok=True)
    publisher = make_publisher(name="Harbour Light Press", email="orders@harbour.example")
    make_project(publisher, "279813", title="Keeper's Almanac", unit_cost="6.50")
    workbook = make_project(publisher, "", title="Tide Workbook", unit_cost="3.20")
    make_publisher_user(publisher, "harbour", PASSWORD)

    context = browser.new_context(base_url=live_server.url, viewport={"width": 1366, "height": 768})
    context.set_default_timeout(15_000)
    walk = Walk(context.new_page())

    # 1. Log in; the admin is the home page.
    walk.goto("/", "login")
    walk.page.fill("#id_username", "harbour")
    walk.page.fill("#id_password", PASSWORD)
    walk.click("input[type=submit]", "admin-home")

    # 2. The account page: the Notify URL to paste into SamCart, on this server's address.
    walk.page.click("text=Account & Notify URL")
    walk.check("account")
    url = walk.page.input_value("#notify-url")
    assert url.startswith(f"{live_server.url}/samcart/notify/?idpub={publisher.idpub}&key=")

    # 3. A sale, sent by the real command to the copied URL, waits on hold ($0 balance).
    printed = samcart_send(url, "--product", "279813", "--order-id", "70001", "--quantity", "2")
    assert printed.startswith("200 ") and '"outcome": "created"' in printed
    assert "\\u" not in printed  # real characters, not JSON escapes
    text = walk.goto("/admin/fulfillment/order/", "orders")
    assert "70001" in text and "on hold" in text
    order = Order.objects.get(publisher=publisher, external_order_id="70001")

    # 4. A product no project lists: "no project matched", then fixed and reprocessed.
    printed = samcart_send(url, "--product", "294010", "--order-id", "70002")
    assert '"outcome": "no_match"' in printed
    text = walk.goto("/admin/fulfillment/notification/", "notifications")
    assert "no project matched" in text
    walk.goto(f"/admin/fulfillment/project/{workbook.pk}/change/", "project")
    walk.page.fill("#id_ecommerce_id_string", "294010")
    text = walk.click("input[name=_save]", "project-saved")
    assert "1 notification named SamCart product ID 294010" in text
    walk.click("#reprocess-offer", "reprocess-offer")
    text = walk.click("#reprocess-these", "reprocessed")
    assert "orders created" in text
    assert Order.objects.filter(publisher=publisher, external_order_id="70002").exists()

    # 5. Edit the hold order's address, then release it once funds are in.
    walk.goto(f"/admin/fulfillment/order/{order.pk}/change/", "order")
    walk.page.fill("#id_ship_city", "Port Isaac")
    text = walk.click("input[name=_save]", "order-saved")
    assert "Port Isaac" in Order.objects.get(pk=order.pk).ship_city

    # 5b. One SamCart order of two products is one box of two items (SPEC §18): the list says
    # so; on its page one item's quantity changes and the other is removed, then Save.
    printed = samcart_send(url, "--product", "279813", "--product", "294010", "--order-id", "70003")
    assert '"outcome": "created"' in printed
    text = walk.goto("/admin/fulfillment/order/", "orders-box")
    assert "2 items: Keeper's Almanac, Tide Workbook" in text
    box = Order.objects.get(publisher=publisher, external_order_id="70003")
    almanac = box.lines.get(project__title="Keeper's Almanac")
    tide = box.lines.get(project=workbook)
    text = walk.goto(f"/admin/fulfillment/order/{box.pk}/change/", "box")
    assert "Items in this box" in text and "Shipping once: the highest of the items" in text
    walk.page.fill(f"#id_line_{almanac.pk}_quantity", "3")
    walk.page.check(f"#id_line_{tide.pk}_remove")
    walk.click("input[name=_save]", "box-saved")
    text = walk.goto(f"/admin/fulfillment/order/{box.pk}/change/", "box-after")
    assert "1 item: Keeper's Almanac × 3" in text and "removed" in text
    assert walk.page.locator(f"#line-{tide.pk} s").first.inner_text() == "Tide Workbook"
    box.refresh_from_db()
    almanac.refresh_from_db()
    assert almanac.quantity == 3 and box.lines.get(pk=tide.pk).removed_at is not None
    assert box.cost == Decimal("6.50") * 3 + Decimal("2.00")  # the Almanac's shipping, once

    deposit_record(publisher=publisher, amount=Decimal("50.00"), actor=None)  # TrepStar's part
    walk.goto(f"/admin/fulfillment/order/{order.pk}/change/", "order-funded")
    text = walk.click("text=Release this order", "released")
    assert "Released 1 order" in text
    assert Order.objects.get(pk=order.pk).status == OrderStatus.IN_PRODUCTION

    # 6. The ledger: the deposit and the charge, with the balance after each.
    text = walk.goto("/admin/fulfillment/ledgerentry/", "ledger")
    charged = Order.objects.get(pk=order.pk).cost
    assert "$50.00" in text and f"−${charged:,.2f}" in text and f"${50 - charged:,.2f}" in text
    walk.goto("/account/", "account-after")
    for seen_url, status in walk.statuses:
        assert status < 400, (seen_url, status)
