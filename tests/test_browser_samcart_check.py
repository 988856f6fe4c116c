"""The SamCart check as a publisher's manager lives it, in Chromium (SPEC §17).

A sale reached SamCart but its Notify POST never arrived. The manager enters the SamCart API
key on the account page, presses *Check now*; the queued check really runs (the database task
engine's worker, in this process) against the SamCart stand-in over HTTP; the card then names
the missing line and links the order the check made, on hold for review. The manager opens it,
fixes the address and releases it. Every page must show no error and no raw field name.
Screenshots at 1366 × 768 go to test-artifacts/screenshots/samcart-check/.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Worker

from fulfillment.models import FoundBy, HoldReason, Order, OrderStatus, RunStatus, SamcartCheckRun
from fulfillment.samcart_api.standin import StandinServer
from fulfillment.samcart_api.standin_data import (
    standin_address,
    standin_customer,
    standin_data,
    standin_order,
)
from tests.browser import BROWSER_MARKS, LAPTOP, PASSWORD, save_shot
from tests.factories import make_project, make_publisher, make_publisher_user

sync_api = pytest.importorskip("playwright.sync_api")
ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "test-artifacts" / "screenshots" / "samcart-check"
INTERNAL = re.compile(
    r"\b(ship|customer|external|hold|cart|notify|unit|is|found|samcart)_[a-z_]+\b"
)
ERRORS = ("Traceback", "Server Error", "Page not found", "IntegrityError")
API_KEY = "sc_live_4b1d9e7f20c3a8"
SALE = 880_101

pytestmark = BROWSER_MARKS


@pytest.fixture
def standin(settings):
    """SamCart's API: one paid sale an hour old, whose Notify POST never reached TrepStar."""
    sale = standin_order(SALE, 279813, quantity=2, order_date=timezone.now() - timedelta(hours=1))
    buyer = standin_customer(
        sale["customer_id"],
        first_name="Marguerite",
        last_name="Olsen",
        email="m.olsen@example.com",
        shipping=standin_address(street="4 Old Harbour Road", city="Duluth", state="MN"),
    )
    data = standin_data(api_key=API_KEY, orders=[sale], customers=[buyer])
    with StandinServer(data) as server:
        settings.SAMCART_API_BASE_URL = server.base_url
        yield server


class Page:
    """A logged-in page that checks every page it shows and keeps a screenshot of each."""

    def __init__(self, page) -> None:
        self.page = page
        self.step = 0

    def check(self, name: str) -> str:
        """Assert the page is clean; return its visible text."""
        self.page.wait_for_load_state()
        self.step += 1
        save_shot(self.page, SHOTS / f"{self.step:02d}-{name}.png", full_page=True)
        text = self.page.inner_text("body")
        for error in ERRORS:
            assert error not in text, (name, error)
        # A field shown as Python's None; "None available" and "None of your…" are sentences.
        assert not re.search(r"(^|\s)None(?! available| of)(\s|$)", text), (name, "None")
        assert not INTERNAL.findall(text), (name, INTERNAL.findall(text))
        return text

    def click(self, selector: str, name: str) -> str:
        with self.page.expect_navigation():
            self.page.click(selector)
        return self.check(name)


def run_queued_tasks() -> None:
    """Run what the page queued with django-tasks-db's worker (what `make worker` runs), in
    this process and in batch: it stops when the queue is empty."""
    Worker(
        queue_names=["default"],
        excluded_queue_names=[],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="browser-test",
    ).run()


def test_a_manager_finds_a_lost_sale_fixes_its_address_and_releases_it(
    browser, live_server, standin
):
    SHOTS.mkdir(parents=True, exist_ok=True)
    publisher = make_publisher(name="Lakeshore Press", balance="100.00")
    make_project(publisher, "279813", title="Lake Almanac", unit_cost="6.50", shipping_cost="4.95")
    make_publisher_user(publisher, "lakeshore", PASSWORD)
    context = browser.new_context(base_url=live_server.url, viewport=LAPTOP)
    context.set_default_timeout(15_000)
    page = Page(context.new_page())

    page.page.goto("/admin/login/")
    page.page.fill("#id_username", "lakeshore")
    page.page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]", "admin-home")

    # 1. The account page: no key yet; the manager enters the one SamCart support gave.
    page.page.goto("/account/")
    text = page.check("account-no-key")
    assert "Not configured." in text and "Check now" not in text
    assert page.page.get_attribute("#id_samcart_api_key", "type") == "password"
    page.page.fill("#id_samcart_api_key", API_KEY)
    text = page.click("#save-samcart-key", "key-saved")
    assert "SamCart API key saved (ending in …c3a8)." in text
    assert API_KEY not in page.page.content()
    assert page.page.input_value("#id_samcart_api_key") == ""  # write-only: never filled in

    # 2. Check now: queued, then run by the worker against SamCart's API (the stand-in).
    text = page.click("#check-now", "check-queued")
    assert "Check queued" in text
    run_queued_tasks()
    assert any(r["path"] == "/v1/orders" for r in standin.requests)
    run = SamcartCheckRun.objects.get(publisher=publisher)
    assert (run.status, run.missing, run.created) == (RunStatus.OK, 1, 1)
    order = Order.objects.get(publisher=publisher, external_order_id=str(SALE))
    assert (order.found_by, order.hold_reason) == (FoundBy.SAMCART_CHECK, HoldReason.REVIEW)

    page.page.goto("/account/")
    text = page.check("account-missing-line")
    assert "1 line missing" in text and "1 line compared" in text
    assert f"SamCart order {SALE}, product 279813 (2 copies): order #{order.pk}" in text

    # 3. The order the check made: found by the check, on hold for review; fix the address.
    text = page.click(f"#samcart-missing a[href$='/order/{order.pk}/change/']", "order")
    assert "Found by the SamCart check on" in text and f"(run {run.pk})" in text
    assert "On hold for review: found by the SamCart check" in text
    assert page.page.input_value("#id_ship_street") == "4 Old Harbour Road"
    page.page.fill("#id_ship_street", "17 New Pier Lane")
    page.click("input[name=_save]", "order-saved")
    order.refresh_from_db()
    assert (order.ship_street, order.status) == ("17 New Pier Lane", OrderStatus.HOLD)

    # 4. Release it: a person chose this order, which confirms it; the balance pays it.
    page.page.goto(f"/admin/fulfillment/order/{order.pk}/change/")
    page.check("order-before-release")
    text = page.click("text=Release this order", "released")
    assert "Released 1 order" in text
    order.refresh_from_db()
    assert order.status == OrderStatus.IN_PRODUCTION and order.ship_street == "17 New Pier Lane"
