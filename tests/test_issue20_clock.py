"""Issue 20 #9: one clock ("2026-12-04 05:20 EST", in the viewer's zone) and money one way.

Rules: the middleware shows a login its zone (its own choice over its publisher's); Django's own
renderings (read-only fields, list columns, date_hierarchy) use the format module; e-mails use
the publisher's zone; My preferences edits only the login's own row and refuses a bad zone;
the publisher's zone is set on the account page and the staff publisher form; money reads
"$30.00" everywhere people read it; the API stays ISO-8601 with an offset.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django import forms
from django.contrib.admin.widgets import AdminSplitDateTime
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from fulfillment import clock
from fulfillment.account_form import ERROR_TIME_ZONE
from fulfillment.admin.preferences import PREFERENCES_SAVED
from fulfillment.models import (
    Alert,
    AlertKind,
    LedgerEntry,
    LedgerKind,
    LoginPreferences,
    Publisher,
    RefusedRequestTally,
)
from fulfillment.services.alerts import alerts_collect, alerts_send_due
from fulfillment.services.ledger import ledger_record
from tests.admin_world import World, build_world
from tests.factories import make_publisher, make_publisher_user

pytestmark = pytest.mark.django_db
NEW_YORK = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")
ONE_FORMAT = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} [A-Z]{2,5}")
OLD_FORMATS = re.compile(
    r"\b(a\.m\.|p\.m\.|midnight|noon)|\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\.? \d"
)


@pytest.fixture
def world() -> World:
    """A and B; A's clock is New York."""
    world = build_world()
    Publisher.objects.filter(pk=world.a.pk).update(time_zone="America/New_York")
    world.a.refresh_from_db()
    return world


def client_of(user: object) -> Client:
    """Return a client logged in as `user`."""
    client = Client()
    client.force_login(user)
    return client


def text_of(client: Client, url: str) -> str:
    """GET `url` (200 expected) and return its HTML."""
    response = client.get(url)
    assert response.status_code == 200, url
    return response.content.decode()


def test_pages_show_times_in_the_publishers_zone_and_name_it(world):
    order = world.a_hold
    page = text_of(client_of(world.a_user), reverse("admin:fulfillment_order_changelist"))
    assert clock.when(order.created_at, NEW_YORK) in page
    assert clock.when(order.created_at, UTC) not in page
    assert "Times in America/New_York" in page
    assert reverse("preferences") in page


def test_a_logins_own_zone_wins_over_its_publishers(world):
    LoginPreferences.objects.create(user=world.a_user, time_zone="Asia/Tokyo")
    page = text_of(client_of(world.a_user), reverse("admin:fulfillment_order_changelist"))
    assert clock.when(world.a_hold.created_at, TOKYO) in page
    assert "Times in Asia/Tokyo" in page
    # Another login of the same publisher still sees New York.
    other = make_publisher_user(world.a)
    page = text_of(client_of(other), reverse("admin:fulfillment_order_changelist"))
    assert clock.when(world.a_hold.created_at, NEW_YORK) in page


def test_the_viewers_zone_ends_with_the_response(world):
    text_of(client_of(world.a_user), reverse("admin:fulfillment_order_changelist"))
    # Work after the page (a worker's e-mail, the next request) is back in the default zone.
    assert timezone.get_current_timezone_name() == "UTC"
    assert clock.when(world.a_hold.created_at).endswith(" UTC")


def test_djangos_own_datetime_renderings_use_the_one_format(world):
    client = client_of(world.a_user)
    # A read-only model field of a change form (Django's display_for_field).
    order_page = text_of(client, reverse("admin:fulfillment_order_change", args=[world.a_hold.pk]))
    created = re.search(
        r'<div class="readonly">([^<]*)</div>', order_page.split("field-created_at")[1]
    )
    assert created and created.group(1) == clock.when(world.a_hold.created_at, NEW_YORK)
    # A list column that is a plain model field (the ledger's created_at).
    entry = LedgerEntry.objects.filter(publisher=world.a).latest("pk")
    ledger = text_of(client, reverse("admin:fulfillment_ledgerentry_changelist"))
    assert clock.when(entry.created_at, NEW_YORK) in ledger
    # date_hierarchy: months as 2026-12, no month names.
    year = timezone.localtime(world.a_no_match.received_at, NEW_YORK).year
    url = reverse("admin:fulfillment_notification_changelist") + f"?received_at__year={year}"
    months = text_of(client, url).split('class="toplinks"')[1].split("</nav>")[0]
    assert re.search(rf">{year}-\d\d<", months)
    assert not OLD_FORMATS.search(months)
    for html in (order_page, ledger):
        assert not OLD_FORMATS.search(html)


def test_the_admins_split_datetime_widget_still_reads_dates_and_times():
    field = forms.SplitDateTimeField(widget=AdminSplitDateTime)
    with timezone.override(NEW_YORK):
        moment = field.clean(["2026-12-04", "05:20"])
        assert clock.when(moment) == "2026-12-04 05:20 EST"
        rendered = AdminSplitDateTime().render("at", moment)
    assert 'value="2026-12-04"' in rendered and 'value="05:20:00"' in rendered


def test_the_api_keeps_iso_8601_with_its_offset(world):
    client = client_of(world.a_user)
    answer = client.get(reverse("api-order", args=[world.a_hold.pk]))
    assert answer.status_code == 200
    created = answer.json()["created_at"]
    moment = datetime.fromisoformat(created)
    assert moment.utcoffset() is not None and moment == world.a_hold.created_at


def test_the_low_balance_email_says_the_time_in_the_publishers_zone(smtp_server):
    publisher = make_publisher(balance="100.00", time_zone="America/New_York")
    ledger_record(publisher_id=publisher.pk, amount=Decimal("-80.00"), kind=LedgerKind.ADJUSTMENT)
    assert alerts_collect() == 1
    assert alerts_send_due() == 1
    [message] = smtp_server.inbox.messages
    text = message.get_body(preferencelist=("plain",)).get_content()
    entry = LedgerEntry.objects.get(publisher=publisher, kind=LedgerKind.ADJUSTMENT)
    assert f"on {clock.when(entry.created_at, NEW_YORK)}" in text
    assert " UTC" not in text


def test_the_wrong_key_email_says_the_hour_in_the_publishers_zone(smtp_server):
    publisher = make_publisher(time_zone="America/Los_Angeles")
    hour = timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    RefusedRequestTally.objects.create(
        publisher=publisher, hour=hour, count=12, last_at=hour + timedelta(minutes=5)
    )
    assert alerts_collect() == 1
    alert = Alert.objects.get(kind=AlertKind.NEEDS_ACTION)
    expected = clock.when(hour, ZoneInfo("America/Los_Angeles"))
    assert f"In the hour from {expected}," in alert.body_text
    assert f"In the hour from {expected}," in alert.body_html
    assert alerts_send_due() == 1
    assert expected in smtp_server.inbox.messages[0].get_body(("plain",)).get_content()


def test_my_preferences_saves_the_logins_own_row_only(world):
    other = make_publisher_user(world.a)
    LoginPreferences.objects.create(user=other, time_zone="Europe/Paris")
    client = client_of(world.a_user)
    page = text_of(client, reverse("preferences"))
    assert "America/New_York" in page and 'name="alert_shipped_daily"' in page
    data = {
        "time_zone": "Asia/Tokyo",
        "alert_hold_orders": "on",
        "alert_shipped_daily": "on",
        "user": str(other.pk),  # not a field: never names another login
    }
    answer = client.post(reverse("preferences"), data, follow=True)
    assert PREFERENCES_SAVED.format(zone="Asia/Tokyo") in answer.content.decode()
    mine = LoginPreferences.objects.get(user=world.a_user)
    assert (mine.time_zone, mine.alert_hold_orders, mine.alert_needs_action) == (
        "Asia/Tokyo",
        True,
        False,
    )
    assert (mine.alert_low_balance, mine.alert_shipped_daily) == (False, True)
    assert LoginPreferences.objects.get(user=other).time_zone == "Europe/Paris"
    assert "Times in Asia/Tokyo" in text_of(client, reverse("admin:index"))
    # Empty: back to the publisher's zone.
    client.post(reverse("preferences"), {"time_zone": ""})
    assert "Times in America/New_York" in text_of(client, reverse("admin:index"))
    # Staff have a row of their own too (no publisher: UTC until they choose).
    staff = client_of(world.staff)
    assert "Times in UTC" in text_of(staff, reverse("preferences"))
    staff.post(reverse("preferences"), {"time_zone": "Europe/London"})
    assert LoginPreferences.objects.get(user=world.staff).time_zone == "Europe/London"
    assert LoginPreferences.objects.get(user=world.a_user).time_zone == ""


def test_my_preferences_refuses_a_bad_zone_and_anonymous_visitors(world):
    client = client_of(world.a_user)
    for bad in ("Mars/Olympus_Mons", "../etc/passwd", "x" * 500, "America/New_York\x01"):
        answer = client.post(reverse("preferences"), {"time_zone": bad})
        assert answer.status_code in (200, 400)
        if answer.status_code == 200:
            assert ERROR_TIME_ZONE in answer.content.decode()
    assert not LoginPreferences.objects.filter(user=world.a_user).exists()
    answer = Client().get(reverse("preferences"))
    assert answer.status_code == 302 and reverse("admin:login") in answer["Location"]
    assert Client().post(reverse("preferences"), {"time_zone": "UTC"}).status_code == 302
    assert not LoginPreferences.objects.exists()


def test_a_manager_sets_the_publishers_zone_in_advanced_settings(world):
    client = client_of(world.a_user)
    advanced = text_of(client, reverse("account")).split('id="advanced-settings"')[1]
    assert 'name="time_zone"' in advanced.split("</fieldset>")[0]
    data = {"publisher": world.a.idpub, "production_delay_minutes": "0"}
    client.post(reverse("account-alerts"), {**data, "time_zone": "Europe/Berlin"})
    world.a.refresh_from_db()
    assert world.a.time_zone == "Europe/Berlin"
    answer = client.post(
        reverse("account-alerts"), {**data, "time_zone": "Nowhere/Land"}, follow=True
    )
    assert ERROR_TIME_ZONE in answer.content.decode()
    client.post(reverse("account-alerts"), data)  # sent without it: kept
    world.a.refresh_from_db()
    assert world.a.time_zone == "Europe/Berlin"
    viewer = client_of(make_publisher_user(world.a, role="viewer"))
    refused = viewer.post(reverse("account-alerts"), {**data, "time_zone": "UTC"})
    assert refused.status_code == 403
    world.a.refresh_from_db()
    assert world.a.time_zone == "Europe/Berlin"


def test_staff_set_the_publishers_zone_on_the_publisher_form(world):
    staff = client_of(world.staff)
    url = reverse("admin:fulfillment_publisher_change", args=[world.a.pk])
    assert 'name="time_zone"' in text_of(staff, url)
    form = {"name": world.a.name, "email": world.a.email, "production_delay_minutes": "0"}
    assert staff.post(url, {**form, "time_zone": "Australia/Sydney"}).status_code == 302
    world.a.refresh_from_db()
    assert world.a.time_zone == "Australia/Sydney"
    refused = staff.post(url, {**form, "time_zone": "Bad/Zone"})
    assert refused.status_code == 200 and ERROR_TIME_ZONE in refused.content.decode()
    world.a.refresh_from_db()
    assert world.a.time_zone == "Australia/Sydney"
    manager = client_of(world.a_user)
    assert manager.post(url, {**form, "time_zone": "UTC"}).status_code == 403


def test_money_reads_one_way_on_the_account_page_and_in_lists(world):
    client = client_of(world.a_user)
    page = text_of(client, reverse("account"))
    ledger = page.split('id="recent-ledger"')[1].split("</ul>")[0]
    assert "$1.00" in ledger and "USD" not in page
    assert ONE_FORMAT.search(ledger) and not OLD_FORMATS.search(ledger)
    orders = text_of(client, reverse("admin:fulfillment_order_changelist"))
    assert f"${world.a_hold.cost:,.2f}" in orders
    projects = text_of(client, reverse("admin:fulfillment_project_changelist"))
    assert f"${world.a_project.unit_cost:,.2f}" in projects
    own = text_of(client, reverse("admin:fulfillment_publisher_change", args=[world.a.pk]))
    readonly = re.findall(r'<div class="readonly">([^<]*)</div>', own)
    assert f"${world.a.low_balance_threshold:,.2f}" in readonly
    assert f"{world.a.low_balance_threshold:.2f}" not in readonly


def test_the_delete_confirmation_names_the_cost_as_money(world):
    client = client_of(world.a_user)
    data = {
        "action": "delete_orders",
        "_selected_action": [str(world.a_hold.pk)],
    }
    page = client.post(reverse("admin:fulfillment_order_changelist"), data)
    assert page.status_code == 200
    text = page.content.decode()
    listed = text.split('id="delete-orders"')[1].split("</ul>")[0]
    assert re.search(rf"\s\${world.a_hold.cost:,.2f}, SamCart order", listed)
    assert "USD" not in text


def test_when_names_the_zone_and_a_missing_moment():
    moment = datetime(2026, 12, 4, 10, 20, tzinfo=UTC)
    assert clock.when(moment, NEW_YORK) == "2026-12-04 05:20 EST"
    assert clock.when(moment.replace(month=7), NEW_YORK) == "2026-07-04 06:20 EDT"
    assert clock.when(None) == "—"
    assert clock.zone_named("Not/AZone") is UTC
