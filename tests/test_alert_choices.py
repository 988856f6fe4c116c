"""Issue 20 #12: alert timing and words, each login's choice, the one-click switch-off link.

Alerts are written by the real scan (`alerts_collect`, the clock passed in), sent by the
worker's sweep to a real SMTP server, and read back there; the links are opened with a
browser-like client that has no login.
"""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.core import signing
from django.test import Client
from django.utils import timezone

from fulfillment.models import Alert, AlertKind, LoginPreferences, Publisher
from fulfillment.services.alert_choices import SALT, choice_token
from fulfillment.services.alerts import alerts_collect, alerts_send_due
from fulfillment.services.deposits import deposit_record
from fulfillment.services.publishers import add_funds_text
from fulfillment.tasks import SCHEDULE
from tests.factories import make_project, make_publisher, make_publisher_user, post_notify, sample

pytestmark = pytest.mark.django_db


def sale(order_id: str, product_id: str = "279813") -> bytes:
    body = json.loads(sample("order_products_array"))
    body["order"]["id"] = int(order_id)
    body["products"][0]["id"] = int(product_id)
    return json.dumps(body).encode()


def _texts(smtp_server, subject_part: str) -> list[str]:
    return [
        m.get_body(preferencelist=("plain",)).get_content()
        for m in smtp_server.inbox.messages
        if subject_part in str(m["Subject"])
    ]


# (a) The first needs-action e-mail of a cause goes within 2 minutes; repeats are gathered.


def test_a_new_cause_is_emailed_at_once_even_within_the_hour_and_repeats_wait(client):
    publisher = make_publisher(balance="50.00")
    make_project(publisher, "111111")
    start = timezone.now()
    post_notify(client, publisher, sale("35200001", "555555"))
    assert alerts_collect(now=start) == 1

    # Five minutes later SamCart sends a product nobody mapped yet: a new cause, told now.
    post_notify(client, publisher, sale("35200002", "666666"))
    assert alerts_collect(now=start + timedelta(minutes=5)) == 1
    second = Alert.objects.filter(kind=AlertKind.NEEDS_ACTION).latest("id")
    assert "666666" in second.body_text and "555555" not in second.body_text

    # Another sale of the product already told: the same cause, gathered for the hour.
    post_notify(client, publisher, sale("35200003", "555555"))
    assert alerts_collect(now=start + timedelta(minutes=10)) == 0
    assert alerts_collect(now=start + timedelta(minutes=59)) == 0
    assert alerts_collect(now=start + timedelta(minutes=66)) == 1
    third = Alert.objects.filter(kind=AlertKind.NEEDS_ACTION).latest("id")
    assert "35200003" in third.body_text


def test_the_scan_runs_often_enough_for_the_two_minutes():
    every, _ = SCHEDULE["collect_alerts"]
    assert every <= timedelta(minutes=1)  # a scan a minute; the send is enqueued with the alert


# (b, c) Low balance, from the publisher's side: sales charge the balance, the worker runs.


def _worker() -> None:
    alerts_collect()
    alerts_send_due()


def test_low_balance_e_mails_each_crossing_below_the_threshold(client, smtp_server):
    publisher = make_publisher(balance="107.10", low_balance_threshold=Decimal("25.00"))
    make_project(publisher, "279813", unit_cost="78.00", shipping_cost="4.95")  # $82.95
    make_project(publisher, "300001", unit_cost="9.45", shipping_cost="2.00")  # $11.45
    _worker()
    assert _texts(smtp_server, "balance") == []

    balances = []
    sales = (("35200001", "279813"), ("35200002", "300001"), ("35200003", "300001"))
    for order_id, product in sales:
        post_notify(client, publisher, sale(order_id, product))
        _worker()
        balances.append(Publisher.objects.get(pk=publisher.pk).balance)
    assert balances == [Decimal("24.15"), Decimal("12.70"), Decimal("1.25")]
    [first] = _texts(smtp_server, "balance")  # once per crossing (SPEC §14): 24.15 crossed
    assert "fell to $24.15" in first  # 12.70 and 1.25 are the same stay below: no more

    deposit_record(publisher=publisher, amount=Decimal("28.75"), actor=None)  # $30.00
    _worker()
    post_notify(client, publisher, sale("35200004", "300001"))  # $18.55: below again
    _worker()
    assert len(_texts(smtp_server, "balance")) == 2
    assert "fell to $18.55" in _texts(smtp_server, "balance")[1]


def test_the_low_balance_e_mail_says_how_funds_are_added_in_the_one_wording(smtp_server):
    from fulfillment.models import LedgerKind
    from fulfillment.services.ledger import ledger_record

    publisher = make_publisher(balance="100.00", time_zone="America/New_York")
    ledger_record(publisher_id=publisher.pk, amount=Decimal("-90.00"), kind=LedgerKind.ADJUSTMENT)
    _worker()
    [text] = _texts(smtp_server, "balance")
    words = add_funds_text(
        publisher=publisher, then="release your orders on hold on your account page"
    )
    assert words in text and "To add funds, pay TrepStar and write to" in text
    assert "Add funds on your account page" not in text
    assert " EST" in text  # the moment on the publisher's clock


# (d) Each login chooses which alerts it gets.


def _hold_sale(client, publisher: Publisher, order_id: str = "35200001") -> None:
    post_notify(client, publisher, sale(order_id))


@pytest.fixture
def team():
    publisher = make_publisher(balance="0.00", email="owner@press.example")
    make_project(publisher, "279813")
    logins = []
    for name in ("anna", "ben"):
        login = make_publisher_user(publisher, username=name)
        login.email = f"{name}@press.example"
        login.save()
        logins.append(login)
    return publisher, *logins


def test_each_alert_goes_to_the_publisher_and_the_logins_that_chose_it(client, team):
    publisher, _, ben = team
    LoginPreferences.objects.create(user=ben, alert_hold_orders=False)
    _hold_sale(client, publisher)
    assert alerts_collect() == 1
    hold = Alert.objects.get(kind=AlertKind.HOLD_ORDERS)
    assert hold.recipients == "owner@press.example, anna@press.example"

    Publisher.objects.filter(pk=publisher.pk).update(balance=Decimal("0"))
    from fulfillment.models import LedgerKind
    from fulfillment.services.ledger import ledger_record

    ledger_record(publisher_id=publisher.pk, amount=Decimal("40.00"), kind=LedgerKind.DEPOSIT)
    ledger_record(publisher_id=publisher.pk, amount=Decimal("-30.00"), kind=LedgerKind.ADJUSTMENT)
    alerts_collect()
    low = Alert.objects.get(kind=AlertKind.LOW_BALANCE)
    assert low.recipients == "owner@press.example, anna@press.example, ben@press.example"


def test_the_publishers_setting_still_switches_a_kind_off_for_everyone(client, team):
    publisher, _, _ = team
    Publisher.objects.filter(pk=publisher.pk).update(alert_hold_orders=False)
    _hold_sale(client, publisher)
    assert alerts_collect() == 0


# (e) Every alert e-mail has a one-click link that switches it off for that login.


def test_each_logins_copy_has_its_own_link_and_list_unsubscribe(client, team, smtp_server):
    publisher, anna, ben = team
    _hold_sale(client, publisher)
    alerts_collect()
    assert alerts_send_due() == 1
    by_address = {m["To"]: m for m in smtp_server.inbox.messages}
    assert set(by_address) == {"owner@press.example", "anna@press.example", "ben@press.example"}
    assert "List-Unsubscribe" not in by_address["owner@press.example"]  # the account page's
    anna_link = str(by_address["anna@press.example"]["List-Unsubscribe"]).strip().strip("<>")
    ben_link = str(by_address["ben@press.example"]["List-Unsubscribe"]).strip().strip("<>")
    assert anna_link != ben_link
    assert by_address["anna@press.example"]["List-Unsubscribe-Post"] == (
        "List-Unsubscribe=One-Click"
    )
    text = by_address["anna@press.example"].get_body(preferencelist=("plain",)).get_content()
    html = by_address["anna@press.example"].get_body(preferencelist=("html",)).get_content()
    assert f"Stop these e-mails to anna@press.example: {anna_link}" in text
    assert f'href="{anna_link}"' in html

    nobody = Client()  # no login needed
    page = nobody.get(urlsplit(anna_link).path)
    assert page.status_code == 200
    content = page.content.decode()
    assert "Switched off" in content and "orders on hold" in content
    assert 'id="switch-on"' in content
    assert LoginPreferences.objects.get(user=anna).alert_hold_orders is False
    assert not LoginPreferences.objects.filter(user=ben, alert_hold_orders=False).exists()

    # The next digest skips anna; the button on the page switches it on again.
    _hold_sale(client, publisher, "35200002")
    alerts_collect(now=timezone.now() + timedelta(minutes=61))
    latest = Alert.objects.filter(kind=AlertKind.HOLD_ORDERS).latest("id")
    assert "anna@press.example" not in latest.recipients
    again = nobody.post(urlsplit(anna_link).path, {"on": "1"})
    assert again.status_code == 200 and "Switched on" in again.content.decode()
    assert LoginPreferences.objects.get(user=anna).alert_hold_orders is True


def test_a_mail_programs_one_click_post_switches_it_off(team):
    _, anna, _ = team
    path = f"/alerts/switch/{choice_token(anna, AlertKind.NEEDS_ACTION)}/"
    answer = Client(enforce_csrf_checks=True).post(
        path, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert answer.status_code == 200
    assert LoginPreferences.objects.get(user=anna).alert_needs_action is False


def test_a_forged_or_damaged_link_changes_nothing(team):
    _, anna, _ = team
    good = choice_token(anna, AlertKind.LOW_BALANCE)
    unsalted = signing.dumps({"u": anna.pk, "k": AlertKind.LOW_BALANCE}, compress=True)
    wrong_kind = signing.dumps({"u": anna.pk, "k": "buyer_shipped"}, salt=SALT, compress=True)
    for token in (good[:-3] + "xyz", unsalted, wrong_kind, "%00", "a" * 3000):
        answer = Client().get(f"/alerts/switch/{token}/")
        assert answer.status_code in (400, 404), token
    assert not LoginPreferences.objects.filter(user=anna).exists()


class PickyInbox:
    """A real SMTP server that refuses one mailbox (while `refuse` is set) and keeps the rest."""

    def __init__(self, refuse: str) -> None:
        self.refuse = refuse
        self.received: list[str] = []

    async def handle_RCPT(self, server, session, envelope, address, options) -> str:
        if address == self.refuse:
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        self.received.extend(envelope.rcpt_tos)
        return "250 OK"


def test_a_refused_address_neither_stops_the_others_nor_makes_them_get_it_twice(
    client, team, settings
):
    from aiosmtpd.controller import Controller

    from tests.smtp import free_port

    publisher, anna, _ = team
    anna.email = "gone@press.example"  # between the publisher's address and ben's
    anna.save()
    inbox = PickyInbox(refuse="gone@press.example")
    port = free_port()
    server = Controller(inbox, hostname="127.0.0.1", port=port)
    server.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    try:
        _hold_sale(client, publisher)
        alerts_collect()
        assert alerts_send_due() == 0
        alert = Alert.objects.get()
        assert alert.recipients == "gone@press.example"  # only the one still to serve
        assert "sent to owner@press.example, ben@press.example already" in alert.last_error
        assert sorted(inbox.received) == ["ben@press.example", "owner@press.example"]

        inbox.refuse = ""  # the mailbox is back: the retry serves it alone
        Alert.objects.update(next_try_at=timezone.now())
        assert alerts_send_due() == 1
        assert sorted(inbox.received) == [
            "ben@press.example",
            "gone@press.example",
            "owner@press.example",
        ]
    finally:
        server.stop()
