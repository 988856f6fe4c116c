"""E-mail alerts (SPEC §14) through a real SMTP server, parsed back, links opened."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from fulfillment.models import Alert, AlertKind, LedgerKind, Notification, Order, Outcome
from fulfillment.services.alerts import alerts_collect, alerts_send_due
from fulfillment.services.deposits import deposit_record
from fulfillment.services.ledger import ledger_record
from tests.factories import (
    make_project,
    make_publisher,
    make_publisher_user,
    post_notify,
    sample,
)

pytestmark = pytest.mark.django_db
BASE = "https://fulfillment.trepstar.example"


@pytest.fixture(autouse=True)
def _public_base(settings):
    settings.PUBLIC_BASE_URL = BASE


def _parts(message) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    return text, html


def _links(text: str) -> list[str]:
    return re.findall(r"https?://\S+", text)


def test_a_hold_order_is_emailed_once_with_reason_shortfall_and_links(client, smtp_server):
    publisher = make_publisher(balance="0.00", email="press@example.com")
    user = make_publisher_user(publisher)
    user.email = "Editor@Example.com"
    user.save()
    again = make_publisher_user(publisher)
    again.email = "PRESS@example.com"  # the publisher's own address again: sent to once
    again.save()
    make_project(publisher, "279813")
    post_notify(client, publisher, sample("order_products_array"))
    order = Order.objects.get(publisher=publisher)

    assert alerts_collect() == 1
    assert alerts_collect() == 0  # once per cause, however many scans
    assert alerts_send_due() == 1
    assert alerts_send_due() == 0

    # One message per address (each login's copy has its own switch-off link).
    message, _ = smtp_server.inbox.messages
    assert [m["To"] for m in smtp_server.inbox.messages] == [
        "press@example.com",
        "Editor@Example.com",
    ]
    assert str(message["Subject"]) == "1 order on hold – action required"
    text, html = _parts(message)
    assert f"Order #{order.pk}" in text and f"Order #{order.pk}" in html
    assert "payment required" in text.lower()
    assert f"Add at least ${order.cost}" in text
    links = _links(text)
    assert all(link.startswith(BASE) for link in links)
    browser = Client()
    browser.force_login(user)
    hold_list = next(link for link in links if "status__exact=hold" in link)
    page = browser.get(urlsplit(hold_list).path + "?" + urlsplit(hold_list).query)
    assert page.status_code == 200
    assert order.ship_name in page.content.decode()
    account = next(link for link in links if link.endswith("/account/"))
    assert browser.get(urlsplit(account).path).status_code == 200
    sent = Alert.objects.get()
    assert sent.sent_at is not None and sent.attempts == 1


def test_the_hold_digest_waits_an_hour_and_then_names_only_new_orders(client, smtp_server):
    publisher = make_publisher(balance="0.00")
    make_project(publisher, "279813")
    post_notify(client, publisher, sample("order_products_array"))
    assert alerts_collect() == 1
    body = sample("order_products_array").replace(b"35211874", b"35299999")
    post_notify(client, publisher, body)
    newest = Order.objects.latest("id")

    assert alerts_collect() == 0  # at most hourly
    assert alerts_collect(now=timezone.now() + timedelta(minutes=61)) == 1
    digest = Alert.objects.filter(kind=AlertKind.HOLD_ORDERS).latest("id")
    assert f"Order #{newest.pk}" in digest.body_text
    assert digest.body_text.count("Order #") == 1


def test_a_notification_that_matched_nothing_is_emailed_once(client, smtp_server):
    publisher = make_publisher(balance="50.00")
    make_project(publisher, "111111")
    post_notify(client, publisher, sample("order_products_array"))
    notification = Notification.objects.get()
    assert notification.outcome == Outcome.NO_MATCH

    assert alerts_collect() == 1
    assert alerts_collect() == 0
    alerts_send_due()

    [message] = smtp_server.inbox.messages
    text, _ = _parts(message)
    assert f"Notification #{notification.pk}" in text
    assert f"/admin/fulfillment/notification/{notification.pk}/change/" in text
    notification.refresh_from_db()
    assert notification.alerted_at is not None


def test_low_balance_alerts_once_per_crossing():
    publisher = make_publisher(balance="100.00")  # threshold 25.00 by default
    assert alerts_collect() == 0  # armed: the balance is above the threshold
    ledger_record(publisher_id=publisher.pk, amount=Decimal("-80.00"), kind=LedgerKind.ADJUSTMENT)
    assert alerts_collect() == 1
    assert alerts_collect() == 0  # still below: no second alert
    deposit_record(publisher=publisher, amount=Decimal("50.00"), actor=None)
    assert alerts_collect() == 0  # back above: re-armed, nothing to say
    ledger_record(publisher_id=publisher.pk, amount=Decimal("-60.00"), kind=LedgerKind.ADJUSTMENT)
    assert alerts_collect() == 1
    assert Alert.objects.filter(kind=AlertKind.LOW_BALANCE).count() == 2


def test_switched_off_alerts_are_not_written(client):
    publisher = make_publisher(
        balance="0.00",
        alert_hold_orders=False,
        low_balance_threshold=None,
        alert_needs_action=False,
    )
    make_project(publisher, "279813")
    post_notify(client, publisher, sample("order_products_array"))
    assert alerts_collect() == 0


def test_a_failed_send_is_retried_later(client, settings, smtp_server):
    publisher = make_publisher(balance="0.00")
    make_project(publisher, "279813")
    post_notify(client, publisher, sample("order_products_array"))
    alerts_collect()
    settings.EMAIL_PORT = smtp_server.port + 1  # nothing listens there

    assert alerts_send_due() == 0
    alert = Alert.objects.get()
    assert alert.sent_at is None and alert.attempts == 1
    assert alert.last_error
    assert alert.next_try_at > timezone.now() + timedelta(seconds=50)
    assert alerts_send_due() == 0  # not due yet

    settings.EMAIL_PORT = smtp_server.port
    Alert.objects.update(next_try_at=timezone.now())
    assert alerts_send_due() == 1
    assert len(smtp_server.inbox.messages) == 1


def test_password_reset_by_email_from_the_login_page(smtp_server):
    publisher = make_publisher()
    user = make_publisher_user(publisher)
    user.email = "reader@example.com"
    user.save()
    browser = Client()
    login = browser.get("/admin/login/")
    assert "/admin/password_reset/" in login.content.decode()

    browser.post("/admin/password_reset/", {"email": "reader@example.com"})

    [message] = smtp_server.inbox.messages
    assert message["To"] == "reader@example.com"
    text, html = _parts(message)
    [link] = [u for u in _links(text) if "/reset/" in u]
    assert link.rstrip("/") in html
    form = browser.get(urlsplit(link).path, follow=True)
    assert form.status_code == 200
    new = "Gr33n-Lantern-Press!"
    done = browser.post(
        form.redirect_chain[-1][0], {"new_password1": new, "new_password2": new}, follow=True
    )
    assert done.status_code == 200
    user.refresh_from_db()
    assert user.check_password(new)


def test_the_account_page_saves_alert_choices_and_refuses_viewers_and_others():
    publisher = make_publisher(balance="0.00")
    manager = make_publisher_user(publisher)
    viewer = make_publisher_user(publisher, role="viewer")
    other = make_publisher()
    browser = Client()
    browser.force_login(manager)
    page = browser.get("/account/")
    assert 'name="alert_hold_orders"' in page.content.decode()

    answer = browser.post(
        "/account/alerts/",
        {
            "publisher": publisher.idpub,
            "alert_needs_action": "on",
            "low_balance_threshold": "40",
            "production_delay_minutes": "0",
        },
    )
    assert answer.status_code == 302
    publisher.refresh_from_db()
    assert (publisher.alert_hold_orders, publisher.alert_needs_action) == (False, True)
    assert publisher.low_balance_threshold == Decimal("40.00")

    bad = browser.post(
        "/account/alerts/",
        {
            "publisher": publisher.idpub,
            "low_balance_threshold": "-5",
            "production_delay_minutes": "0",
        },
        follow=True,
    )
    assert "Settings not saved" in bad.content.decode()
    publisher.refresh_from_db()
    assert publisher.low_balance_threshold == Decimal("40.00")
    assert browser.post("/account/alerts/", {"publisher": other.idpub}).status_code == 404

    browser.force_login(viewer)
    assert browser.post("/account/alerts/", {"publisher": publisher.idpub}).status_code == 403


def test_needs_action_is_gathered_to_one_email_an_hour_with_wrong_key_bursts(client):
    from fulfillment.models import RefusedRequestTally

    publisher = make_publisher(balance="50.00")
    make_project(publisher, "111111")
    post_notify(client, publisher, sample("order_products_array"))
    assert alerts_collect() == 1
    body = sample("order_products_array").replace(b"35211874", b"35299999")
    post_notify(client, publisher, body)
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    RefusedRequestTally.objects.create(
        publisher=publisher, hour=hour, count=12, last_remote_addr="198.51.100.7", last_at=hour
    )

    assert alerts_collect() == 0  # gathered: at most one an hour
    later = timezone.now() + timedelta(minutes=61)
    assert alerts_collect(now=later) == 1
    second = Alert.objects.filter(kind=AlertKind.NEEDS_ACTION).latest("id")
    assert "35299999" in second.body_text and "35211874" not in second.body_text
    assert "12 requests to your Notify URL had a wrong key" in second.body_text
    assert "198.51.100.7" in second.body_html
    assert alerts_collect(now=later + timedelta(minutes=61)) == 0  # each thing told once
