"""Issue 9 in a real Chromium at 1366 × 768: the order list fits, buttons say what they do,
bulk delete asks first, empty lists explain themselves, the ledger shows a running balance.

Screenshots go to test-artifacts/screenshots/issue9/ for people to look at.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fulfillment.models import Order, OrderStatus
from tests.admin_world import notify, order_body
from tests.browser import BROWSER_MARKS, LAPTOP, PASSWORD, login, save_shot
from tests.factories import make_project, make_publisher, make_publisher_user, make_staff_user

sync_api = pytest.importorskip("playwright.sync_api")
SHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots" / "issue9"

pytestmark = BROWSER_MARKS


@pytest.fixture
def site(live_server, settings):
    settings.PUBLIC_BASE_URL = live_server.url
    SHOTS.mkdir(parents=True, exist_ok=True)
    return live_server.url


def shot(page, name: str) -> None:
    save_shot(page, SHOTS / f"{name}.png", full_page=False)


@pytest.fixture
def busy_publisher():
    """A publisher with long names and ids in every column, on hold and in production."""
    publisher = make_publisher(name="Lighthouse Press of the Northern Coast", balance="40.00")
    make_project(
        publisher,
        "279813",
        title="The Keeper's Almanac of Tides, Lights and Harbours (Second Edition)",
    )
    for n in range(6):
        notify(
            publisher,
            order_body(
                order_id=f"9812734650193847{n}",
                quantity=1 + n * 2,
                first=f"Bartholomew{n}",
                last="Featherstonehaugh-Cholmondeley",
                email=f"bartholomew.featherstonehaugh{n}@lighthouse-press.example",
            ),
        )
    make_publisher_user(publisher, "lighthouse", PASSWORD)
    make_staff_user("staffer", PASSWORD)
    return publisher


def _fits(page) -> dict:
    """Measure the order list: does the table fit its box, and the page the window?"""
    return page.evaluate(
        """() => {
            const table = document.querySelector('#result_list');
            const box = table.parentElement;
            const heads = [...table.querySelectorAll('thead th')];
            return {
                table: table.scrollWidth, box: box.clientWidth,
                page: document.documentElement.scrollWidth, window: window.innerWidth,
                right: Math.max(...heads.map(h => h.getBoundingClientRect().right)),
                headers: heads.map(h => h.innerText.trim().toLowerCase()),
                widths: heads.map(h => Math.round(h.getBoundingClientRect().width)),
            };
        }"""
    )


@pytest.mark.parametrize("username", ["lighthouse", "staffer"])
def test_order_list_fits_a_1366_pixel_screen(browser, site, busy_publisher, username):
    page = login(browser, site, username)
    page.goto("/admin/fulfillment/order/")
    shot(page, f"order-list-{username}")
    size = _fits(page)
    assert any("created" in h for h in size["headers"]), size
    assert any("cost" in h for h in size["headers"]), size
    assert size["table"] <= size["box"], size
    assert size["page"] <= size["window"], size
    assert size["right"] <= LAPTOP["width"], size


def test_release_looks_primary_and_delete_looks_dangerous(browser, site, busy_publisher):
    page = login(browser, site, "lighthouse")
    order = Order.objects.filter(publisher=busy_publisher, status=OrderStatus.HOLD).first()
    page.goto(f"/admin/fulfillment/order/{order.pk}/change/")
    shot(page, "order-page-buttons")
    release = page.locator("button", has_text="Release this order")
    delete = page.locator("button", has_text="Delete this order")
    release_bg = release.evaluate("b => getComputedStyle(b).backgroundColor")
    delete_bg = delete.evaluate("b => getComputedStyle(b).backgroundColor")
    neutral = page.locator(".object-tools a", has_text="History").evaluate(
        "a => getComputedStyle(a).backgroundColor"
    )
    assert release_bg != neutral and delete_bg != neutral
    red, green, blue = (int(v) for v in delete_bg[4:-1].split(",")[:3])
    assert red > 150 and green < 90 and blue < 90, delete_bg  # red: dangerous


def test_bulk_delete_asks_first_naming_the_orders(browser, site, busy_publisher):
    page = login(browser, site, "lighthouse")
    held = list(
        Order.objects.filter(publisher=busy_publisher, status=OrderStatus.HOLD).order_by("id")
    )[:2]
    page.goto("/admin/fulfillment/order/")
    for order in held:
        page.check(f"input[name=_selected_action][value='{order.pk}']")
    page.select_option("select[name=action]", "delete_orders")
    page.click("button[name=index]")
    shot(page, "bulk-delete-confirm")
    listed = page.inner_text("#delete-orders")
    for order in held:
        assert f"Order #{order.pk}" in listed
    assert "SamCart resend" in page.inner_text("#content")
    assert {o.status for o in Order.objects.filter(pk__in=[o.pk for o in held])} == {
        OrderStatus.HOLD
    }
    page.click("#confirm-delete")
    assert "will not bring them back" in page.inner_text("ul.messagelist")
    assert {o.status for o in Order.objects.filter(pk__in=[o.pk for o in held])} == {
        OrderStatus.DELETED
    }


def test_empty_lists_say_what_to_do(browser, site):
    publisher = make_publisher(name="New Press")
    make_publisher_user(publisher, "newbie", PASSWORD)
    page = login(browser, site, "newbie")
    for path in ("order", "notification", "project", "ledgerentry"):
        page.goto(f"/admin/fulfillment/{path}/")
        shot(page, f"empty-{path}")
        assert page.locator("#empty-list").is_visible(), path
        assert "yet" in page.inner_text("#empty-list"), path
    page.goto("/admin/fulfillment/order/?q=nobody-at-all")
    assert "match" in page.inner_text("#empty-list")


def test_ledger_shows_the_balance_after_each_entry(browser, site, busy_publisher):
    page = login(browser, site, "lighthouse")
    page.goto("/admin/fulfillment/ledgerentry/")
    shot(page, "ledger")
    cells = page.locator("td.field-balance_column").all_inner_texts()
    busy_publisher.refresh_from_db()
    assert cells[0] == f"${busy_publisher.balance:,.2f}"  # newest entry: the balance now
    assert cells[-1] == "$40.00"  # the opening deposit


def test_the_bundle_warning_shows_while_typing(browser, site):
    publisher = make_publisher(name="Bundle Press")
    make_project(publisher, "294010", title="Workbook")
    atlas = make_project(publisher, "300300", title="Atlas")
    make_publisher_user(publisher, "bundler", PASSWORD)
    page = login(browser, site, "bundler")
    page.goto(f"/admin/fulfillment/project/{atlas.pk}/change/")
    warning = page.locator("#shared-id-warning")
    assert warning.is_hidden()
    page.fill("#id_ecommerce_id_string", "{300300}{294010}")
    assert warning.is_visible()
    assert "294010 is also listed by “Workbook”" in warning.inner_text()
    shot(page, "project-bundle-warning")
    page.fill("#id_ecommerce_id_string", "300300")
    assert warning.is_hidden()


def test_a_zero_balance_account_page_says_how_to_add_funds(browser, site, settings):
    settings.SUPPORT_EMAIL = "billing@trepstar.example"
    publisher = make_publisher(name="Empty Wallet Press")
    make_project(publisher, "279813", title="Almanac")
    notify(publisher, order_body(order_id="44400001"))
    make_publisher_user(publisher, "wallet", PASSWORD)
    page = login(browser, site, "wallet")
    page.goto("/account/")
    shot(page, "account-zero-balance")
    assert "billing@trepstar.example" in page.inner_text("#add-funds")
    assert page.locator("#release-all").count() == 0
    assert "covers none" in page.inner_text("#release-note")
