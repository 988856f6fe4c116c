"""Issue 20, points 20 and 21, in a real Chromium: the monthly statement page (reached from the
account page, month picker, printed without the admin's menus, printable page) and the lists'
*Export CSV* links, which download the rows the filtered list shows."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from fulfillment.models import LedgerEntry
from fulfillment.services.ledger import ledger_record
from tests.admin_world import PASSWORD, build_world
from tests.browser import BROWSER_MARKS, login
from tests.factories import make_publisher_user

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = BROWSER_MARKS


@pytest.fixture
def world(live_server, settings):
    """admin_world's publishers; A in New York with a deposit in November (its time)."""
    settings.PUBLIC_BASE_URL = live_server.url
    built = build_world()
    built.a.time_zone = "America/New_York"
    built.a.save(update_fields=["time_zone"])
    entry = ledger_record(
        publisher_id=built.a.pk, amount=Decimal("20.00"), kind="deposit", note="November top-up"
    )
    LedgerEntry.objects.filter(pk=entry.pk).update(
        created_at=datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    )
    make_publisher_user(built.a, "alpha-viewer", PASSWORD, role="viewer")
    return built


def downloaded_rows(page, selector: str) -> list[dict[str, str]]:
    """Click the link `selector`, wait for the download and return its CSV rows."""
    with page.expect_download() as info:
        page.click(selector)
    text = Path(info.value.path()).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def test_the_statement_page_picks_a_month_and_prints_without_admin_chrome(
    browser, live_server, world
):
    page = login(browser, live_server.url, "alpha-viewer")
    page.goto("/account/")
    page.click("#statement-link")
    expect(page.locator("#statement-heading")).to_contain_text("Alpha Books")
    page.select_option("#statement-month", "2026-11")
    page.click("#statement-picker button[type=submit]")
    expect(page.locator("#statement-heading")).to_contain_text("November 2026")
    expect(page.locator("#statement-table tr.ts-line")).to_have_count(1)
    expect(page.locator("#statement-table")).to_contain_text("2026-11-30 22:00 EST")
    expect(page.locator("#statement-closing")).to_contain_text("$20.00")
    for selector in ("#header", "#statement-picker", ".breadcrumbs"):
        expect(page.locator(selector)).to_be_visible()

    page.emulate_media(media="print")
    for selector in ("#header", "#statement-picker", ".breadcrumbs", "#statement-csv"):
        expect(page.locator(selector)).to_be_hidden()
    expect(page.locator("#statement-table")).to_be_visible()
    page.emulate_media(media="screen")

    rows = downloaded_rows(page, "#statement-csv")
    assert [r["kind"] for r in rows] == ["opening balance", "deposit", "closing balance"]
    assert rows[-1]["balance"] == "20.00"

    page.click("#statement-print")
    expect(page.locator("#statement-heading")).to_contain_text("statement of November 2026")
    expect(page.locator("#statement-table")).to_contain_text("November top-up")
    expect(page.locator("#header")).to_have_count(0)
    page.context.close()


def test_the_export_link_downloads_the_filtered_list(browser, live_server, world):
    page = login(browser, live_server.url, "alpha-user")
    page.goto("/admin/fulfillment/order/?status__exact=hold")
    expect(page.locator("#export-csv")).to_be_visible()
    rows = downloaded_rows(page, "#export-csv")
    assert [int(r["order"]) for r in rows] == [world.a_hold.pk]
    assert rows[0]["status"] == "hold"

    page.goto("/admin/fulfillment/ledgerentry/")
    rows = downloaded_rows(page, "#export-csv")
    assert (rows[-1]["note"], rows[-1]["balance after"]) == ("November top-up", "20.00")
    assert rows[0]["balance after"] == str(world.a.balance + Decimal("20.00"))  # the balance
    assert not [s for s in world.b_secrets if any(s in v for r in rows for v in r.values())]
    page.context.close()
