"""Issue 20 #22: the daily e-mail of what shipped, once a day per publisher, in its time zone,
to the logins that chose it; delivered to a real SMTP server by the worker's sweep."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.test import Client
from django.urls import reverse

from fulfillment.models import (
    Alert,
    AlertKind,
    Carrier,
    LoginPreferences,
    OrderEvent,
    OrderEventKind,
)
from fulfillment.services.alerts import alerts_send_due
from fulfillment.services.orders import order_ship
from fulfillment.services.schedule import schedule_tick
from fulfillment.services.shipped_daily import shipped_daily_collect
from fulfillment.tasks import SCHEDULE
from tests.factories import make_project, make_publisher, make_publisher_user
from tests.test_buyer_email import in_production

pytestmark = pytest.mark.django_db


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def world():
    publisher = make_publisher(
        balance="200.00", email="owner@press.example", time_zone="America/New_York"
    )
    make_project(publisher, "279813", title="Almanac")
    chooser = make_publisher_user(publisher)
    chooser.email = "shipping@press.example"
    chooser.save()
    LoginPreferences.objects.create(user=chooser, alert_shipped_daily=True)
    make_publisher_user(publisher)  # no choice made: the daily list is off by default
    return publisher, chooser


def _ship_at(publisher, order_id: str, moment: datetime, carrier: str = Carrier.UPS):
    order = in_production(publisher, order_id)
    order_ship(order=order, actor=None, tracking_number=f"1Z{order_id}", carrier=carrier)
    OrderEvent.objects.filter(order=order, kind=OrderEventKind.SHIPPED).update(created_at=moment)
    return order


def test_the_daily_list_goes_once_after_the_local_morning_with_the_local_days_orders(
    world, smtp_server
):
    publisher, _ = world
    # Dec 3 in New York (UTC-5): 03:00 UTC on Dec 4 is 22:00 on Dec 3; 04:59 UTC Dec 3 is Dec 2.
    late_evening = _ship_at(publisher, "35211101", _at("2026-12-04T03:00"))
    morning = _ship_at(publisher, "35211102", _at("2026-12-03T15:00"), Carrier.OTHER)
    day_before = _ship_at(publisher, "35211103", _at("2026-12-03T04:59"))
    today = _ship_at(publisher, "35211104", _at("2026-12-04T05:30"))

    assert shipped_daily_collect(now=_at("2026-12-04T10:59")) == 0  # 05:59 in New York
    assert shipped_daily_collect(now=_at("2026-12-04T11:00")) == 1  # 06:00: Dec 3's list
    assert shipped_daily_collect(now=_at("2026-12-04T11:15")) == 0  # once a day
    alert = Alert.objects.get(kind=AlertKind.SHIPPED_DAILY)
    assert alert.cause == "day:2026-12-03"
    assert alert.recipients == "shipping@press.example"  # only the login that chose it

    assert alerts_send_due() == 1
    [message] = smtp_server.inbox.messages
    assert str(message["Subject"]) == "Shipped on 2026-12-03: 2 orders"
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert f"Order #{late_evening.pk}" in text and f"Order #{morning.pk}" in text
    assert f"Order #{day_before.pk}" not in text and f"Order #{today.pk}" not in text
    assert "shipped 2026-12-03 22:00 EST" in text  # the publisher's clock
    assert "https://www.ups.com/track?tracknum=1Z35211101" in text
    assert "Other carrier tracking number 1Z35211102" in text
    # Its own one-click link to stop it, for the login it went to.
    assert str(message["List-Unsubscribe"]).strip().startswith("<") and "/alerts/switch/" in text


def test_no_list_without_a_login_that_chose_it_or_without_shipments(world):
    publisher, chooser = world
    assert shipped_daily_collect(now=_at("2026-12-04T12:00")) == 0  # nothing shipped Dec 3
    _ship_at(publisher, "35211101", _at("2026-12-03T15:00"))
    LoginPreferences.objects.filter(user=chooser).update(alert_shipped_daily=False)
    assert shipped_daily_collect(now=_at("2026-12-04T12:00")) == 0
    LoginPreferences.objects.filter(user=chooser).update(alert_shipped_daily=True)
    chooser.is_active = False
    chooser.save()
    assert shipped_daily_collect(now=_at("2026-12-04T12:00")) == 0


def test_the_daily_list_is_a_periodic_job_of_the_worker():
    every, _ = SCHEDULE["collect_shipped_daily"]
    noon = _at("2026-12-04T12:00")
    assert "collect_shipped_daily" in schedule_tick(schedule=SCHEDULE, now=noon)
    assert "collect_shipped_daily" not in schedule_tick(schedule=SCHEDULE, now=noon)
    assert "collect_shipped_daily" in schedule_tick(schedule=SCHEDULE, now=noon + every)


def test_a_login_switches_the_daily_list_off_with_one_click(world, smtp_server):
    publisher, chooser = world
    _ship_at(publisher, "35211101", _at("2026-12-03T15:00"))
    shipped_daily_collect(now=_at("2026-12-04T12:00"))
    alerts_send_due()
    [message] = smtp_server.inbox.messages
    link = str(message["List-Unsubscribe"]).strip().strip("<>")
    assert link.startswith("http")
    page = Client().get(link[link.index("/alerts/") :])
    assert page.status_code == 200 and "Switched off" in page.content.decode()
    assert LoginPreferences.objects.get(user=chooser).alert_shipped_daily is False
    _ship_at(publisher, "35211102", _at("2026-12-04T15:00"))
    assert shipped_daily_collect(now=_at("2026-12-05T12:00")) == 0
    assert reverse("alert-choice", args=["x"]).startswith("/alerts/switch/")
