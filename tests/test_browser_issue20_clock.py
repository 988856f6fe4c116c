"""Issue 20 #9 in a real Chromium: a publisher in America/New_York reads every time on every kind
of page as "2026-12-04 05:20 EST" (never "Dec. 4, 2026, 5:20 a.m.", never a time without its
zone), the page names the zone, and a login's own choice in My preferences changes them all."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType

from fulfillment.models import LedgerKind, Order
from fulfillment.services.ledger import ledger_record
from tests.admin_world import notify, order_body
from tests.browser import BROWSER_MARKS, PASSWORD, login
from tests.factories import make_project, make_publisher, make_publisher_user

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = BROWSER_MARKS

ONE_FORMAT = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} ([A-Z]{2,5})")
# A clock time anywhere else: "5:20", "05:20" not inside the one format.
BARE_TIME = re.compile(r"(?<![\d.:])\d{1,2}:\d{2}(?![\d:])")
OLD_FORMATS = re.compile(
    r"a\.m\.|p\.m\.|\bmidnight\b|\bnoon\b|\d{2}/\d{2}/\d{4}|"
    r"\b(January|February|March|April|June|July|August|September|October|November|December"
    r"|Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.? \d"
)
# The page's words a person reads: stored bytes (a notification's raw body) and form fields
# are left out, they are not times we render.
VISIBLE_TEXT = """() => {
  document.querySelectorAll('pre, textarea, select').forEach(e => e.style.display = 'none');
  return document.body.innerText;
}"""


def times_on(page, url: str) -> list[str]:
    """Open `url`; return the zone abbreviations of its times after checking every time on
    it is in the one format and no old format is left."""
    page.goto(url)
    text = page.evaluate(VISIBLE_TEXT)
    assert not OLD_FORMATS.search(text), (url, OLD_FORMATS.search(text).group(0))
    zones = ONE_FORMAT.findall(text)
    rest = ONE_FORMAT.sub("", text)
    assert not BARE_TIME.search(rest), (url, BARE_TIME.search(rest).group(0))
    return zones


@pytest.fixture
def site(live_server, settings) -> str:
    """Make the account page print URLs of the live server."""
    settings.PUBLIC_BASE_URL = live_server.url
    return live_server.url


def test_every_page_kind_shows_one_format_in_the_viewers_zone(browser, site):
    publisher = make_publisher(
        name="Harbour Press", time_zone="America/New_York", auto_release=False
    )
    user = make_publisher_user(publisher, "harbour-clock", PASSWORD)
    make_project(publisher, "279813", title="Harbour Almanac")
    first = notify(publisher, order_body(order_id="31410001")).orders.get()
    notify(publisher, order_body(order_id="31410002"))
    no_match = notify(publisher, order_body(order_id="31410003", product_id="555555"))
    ledger_record(publisher_id=publisher.pk, amount=Decimal("40.00"), kind=LedgerKind.DEPOSIT)
    LogEntry.objects.create(
        user=user,
        content_type=ContentType.objects.get_for_model(Order),
        object_id=str(first.pk),
        object_repr=str(first),
        action_flag=CHANGE,
        change_message="Changed the ship-to name.",
    )
    order_url = f"/admin/fulfillment/order/{first.pk}/change/"
    note_url = f"/admin/fulfillment/notification/{no_match.pk}/change/"
    timed = {
        "orders list": "/admin/fulfillment/order/",
        "order page": order_url,
        "history": f"/admin/fulfillment/order/{first.pk}/history/",
        "notification list": "/admin/fulfillment/notification/",
        "notification page": note_url,
        "ledger": "/admin/fulfillment/ledgerentry/",
        "account page": "/account/",
    }

    page = login(browser, site, "harbour-clock")
    times_on(page, "/admin/")  # the home page: whatever it shows, one format
    expect(page.locator("#time-zone-link")).to_have_text("Times in America/New_York")
    for kind, url in timed.items():
        zones = times_on(page, url)
        assert zones, f"no time on the {kind}"
        assert set(zones) <= {"EST", "EDT"}, (kind, zones)
        expect(page.locator("#time-zone-link")).to_have_text("Times in America/New_York")

    # A custom page: the release confirmation.
    page.goto("/account/")
    page.click("#release-all")
    expect(page.locator("#release-summary")).to_be_visible()
    times_on(page, page.url)
    expect(page.locator("#time-zone-link")).to_have_text("Times in America/New_York")

    # The login's own zone, chosen from the user tools, changes every page.
    page.goto("/admin/")
    page.click("#time-zone-link")
    page.select_option("#id_time_zone", "Asia/Tokyo")
    page.click("#preferences-form input[type=submit]")
    expect(page.locator("#time-zone-link")).to_have_text("Times in Asia/Tokyo")
    for kind, url in timed.items():
        assert set(times_on(page, url)) == {"JST"}, kind
    page.context.close()
