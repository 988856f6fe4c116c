"""Issue 17, point 8: alerts end somewhere (failed after the last try), each hold order is in
exactly one digest, and low balance is judged from the ledger entries (SPEC §13–§14)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from fulfillment.models import Alert, AlertKind, LedgerKind, Order, OrderStatus, Publisher
from fulfillment.services.alerts import alerts_collect, alerts_send_due
from fulfillment.services.backoff import BACKOFF
from fulfillment.services.ledger import ledger_record
from tests.factories import make_project, make_publisher, make_staff_user, post_notify, sample

pytestmark = pytest.mark.django_db


def _hold_alert(client: Client) -> Alert:
    publisher = make_publisher(balance="0.00")
    make_project(publisher, "279813")
    post_notify(client, publisher, sample("order_products_array"))
    assert alerts_collect() == 1
    return Alert.objects.get()


def _try_now() -> int:
    """Make every unsent alert due (its backoff waited) and run the sending sweep."""
    Alert.objects.filter(sent_at__isnull=True).update(next_try_at=timezone.now())
    return alerts_send_due()


# 8a: nothing retries forever.


def test_an_alert_that_never_sends_is_failed_after_the_last_try_and_never_tried_again(
    client, settings, smtp_server
):
    alert = _hold_alert(client)
    settings.EMAIL_PORT = smtp_server.port + 1  # nothing listens there
    tries = len(BACKOFF) + 1  # the first try, then one after each wait of the schedule
    for _ in range(tries):
        assert _try_now() == 0

    settings.EMAIL_PORT = smtp_server.port  # mail works again: still no automatic try
    assert _try_now() == 0
    assert smtp_server.inbox.messages == []
    alert.refresh_from_db()
    assert alert.attempts == tries and alert.sent_at is None
    assert alert.failed_at is not None and "ConnectionRefusedError" in alert.last_error


def test_staff_list_failed_alerts_and_send_one_again(client, settings, smtp_server):
    from fulfillment.admin.alerts import NOTHING_TO_RESEND

    failed = _hold_alert(client)
    Alert.objects.filter(pk=failed.pk).update(
        failed_at=timezone.now(), attempts=len(BACKOFF) + 1, last_error="SMTP down"
    )
    sent = Alert.objects.create(
        publisher=failed.publisher,
        kind=AlertKind.LOW_BALANCE,
        cause="below:sent",
        recipients="a@example.com",
        subject="Sent fine",
        body_text="x",
        body_html="x",
        sent_at=timezone.now(),
    )
    staff = Client()
    staff.force_login(make_staff_user())
    url = "/admin/fulfillment/alert/"
    listing = staff.get(url, {"delivery": "failed"}).content.decode()
    assert failed.subject in listing and sent.subject not in listing

    answer = staff.post(
        url, {"action": "resend", "_selected_action": [sent.pk]}, follow=True
    ).content.decode()
    assert NOTHING_TO_RESEND in answer
    staff.post(url, {"action": "resend", "_selected_action": [failed.pk]})
    failed.refresh_from_db()
    assert failed.failed_at is None
    assert alerts_send_due() == 1
    assert [m["Subject"] for m in smtp_server.inbox.messages] == [failed.subject]


def test_a_publisher_login_cannot_resend(client):
    from tests.factories import make_publisher_user

    failed = _hold_alert(client)
    Alert.objects.filter(pk=failed.pk).update(failed_at=timezone.now())
    browser = Client()
    browser.force_login(make_publisher_user(failed.publisher))
    browser.post("/admin/fulfillment/alert/", {"action": "resend", "_selected_action": [failed.pk]})
    failed.refresh_from_db()
    assert failed.failed_at is not None


# 8b: a hold order is in exactly one digest, whatever the moment it commits.


def _digests() -> list[Alert]:
    return list(Alert.objects.filter(kind=AlertKind.HOLD_ORDERS).order_by("id"))


def test_a_hold_order_committed_after_the_scan_read_is_in_the_next_digest(client):
    """The late commit, made deterministic: an order whose `created_at` (set at its INSERT) is
    before the digest, but which the digest did not see (it committed afterwards)."""
    first = _hold_alert(client)
    publisher = first.publisher
    body = sample("order_products_array").replace(b"35211874", b"35299999")
    post_notify(client, publisher, body)
    late = Order.objects.latest("id")
    Order.objects.filter(pk=late.pk).update(created_at=first.created_at - timedelta(seconds=1))

    assert alerts_collect(now=timezone.now() + timedelta(minutes=61)) == 1
    [_, second] = _digests()
    assert f"Order #{late.pk}" in second.body_text
    assert second.body_text.count("Order #") == 1
    assert alerts_collect(now=timezone.now() + timedelta(minutes=200)) == 0  # in one digest only


def test_each_hold_order_is_named_by_one_digest_only(client):
    alert = _hold_alert(client)
    order = Order.objects.get()
    assert order.alerted_at is not None
    assert alerts_collect(now=timezone.now() + timedelta(hours=5)) == 0
    assert [a.pk for a in _digests()] == [alert.pk]


# 8c: low balance judged from the ledger, each crossing once.


def _move(publisher: Publisher, amount: str) -> None:
    kind = LedgerKind.DEPOSIT if Decimal(amount) > 0 else LedgerKind.ADJUSTMENT
    ledger_record(publisher_id=publisher.pk, amount=Decimal(amount), kind=kind)


def _low_alerts(publisher: Publisher) -> list[Alert]:
    return list(
        Alert.objects.filter(publisher=publisher, kind=AlertKind.LOW_BALANCE).order_by("id")
    )


def test_a_dip_below_and_back_between_two_scans_is_one_alert():
    publisher = make_publisher(balance="100.00")  # threshold $25.00
    assert alerts_collect() == 0
    _move(publisher, "-90.00")  # $10.00: below
    _move(publisher, "90.00")  # $100.00 again before any scan
    assert alerts_collect() == 1
    [alert] = _low_alerts(publisher)
    assert "fell to $10.00" in alert.body_text and "it is $100.00 now" in alert.body_text
    assert alerts_collect() == 0


def test_two_crossings_between_two_scans_are_two_alerts():
    publisher = make_publisher(balance="100.00")
    assert alerts_collect() == 0
    for amount in ("-80.00", "80.00", "-95.00"):  # $20, $100, $5
        _move(publisher, amount)
    assert alerts_collect() == 2
    assert [a.subject for a in _low_alerts(publisher)] == [
        "Your TrepStar balance fell to $20.00",
        "Your TrepStar balance fell to $5.00",
    ]


@pytest.mark.parametrize("scan_each_minute", [True, False])
def test_a_slide_below_the_threshold_is_one_alert_for_the_entry_that_crossed(scan_each_minute):
    publisher = make_publisher(balance="107.10")
    assert alerts_collect() == 0
    entries = []
    for amount in ("-82.95", "-11.45", "-11.45"):  # $24.15, $12.70, $1.25
        _move(publisher, amount)
        entries.append(publisher.ledger.latest("id"))
        if scan_each_minute:
            alerts_collect()
    alerts_collect()
    [alert] = _low_alerts(publisher)
    assert alert.cause == f"below:{entries[0].pk}"
    now = "$24.15" if scan_each_minute else "$1.25"
    assert "fell to $24.15 on" in alert.body_text and f"it is {now} now" in alert.body_text


def test_below_from_the_start_or_without_a_threshold_is_no_crossing():
    never_above = make_publisher(balance="10.00")  # a new account was never at the threshold
    quiet = make_publisher(balance="100.00", low_balance_threshold=None)
    _move(quiet, "-95.00")
    assert alerts_collect() == 0
    Publisher.objects.filter(pk=quiet.pk).update(low_balance_threshold=Decimal("25.00"))
    assert alerts_collect() == 0  # what was judged without a threshold is not judged again
    _move(quiet, "50.00")
    _move(quiet, "-50.00")
    assert alerts_collect() == 1
    assert _low_alerts(never_above) == [] and len(_low_alerts(quiet)) == 1


def test_a_hold_order_status_does_not_matter_for_the_ledger_walk(client):
    """A charge at intake is a ledger entry like any other: it can be the crossing."""
    publisher = make_publisher(balance="30.00")
    make_project(publisher, "279813", unit_cost="5.00", shipping_cost="2.00")
    assert alerts_collect() == 0
    post_notify(client, publisher, sample("order_products_array"))
    assert Order.objects.get().status != OrderStatus.HOLD
    assert alerts_collect() == 1
    [alert] = _low_alerts(publisher)
    assert alert.cause == f"below:{publisher.ledger.latest('id').pk}"
