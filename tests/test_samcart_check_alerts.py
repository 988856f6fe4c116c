"""What the publisher hears of the SamCart check (SPEC §17, §14): the orders a run created and
a refused key, in the needs-action e-mail, once; through a real SMTP server.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from fulfillment.models import Alert, AlertKind, Notification, Order, Outcome
from fulfillment.services.alerts import alerts_collect, alerts_send_due
from fulfillment.services.samcart_check import samcart_check_run
from tests.factories import make_project, make_publisher, make_publisher_user, post_notify
from tests.samcart_world import notify_body, sale, serve, with_key

pytestmark = pytest.mark.django_db
BASE = "https://fulfillment.trepstar.example"
HOUR = timedelta(minutes=61)


@pytest.fixture(autouse=True)
def _public_base(settings):
    settings.PUBLIC_BASE_URL = BASE


def _needs_action_texts(smtp_server) -> list[str]:
    return [
        m.get_body(preferencelist=("plain",)).get_content()
        for m in smtp_server.inbox.messages
        if "need" in str(m["Subject"])
    ]


def test_the_needs_action_email_names_the_lines_the_check_created(client, standin, smtp_server):
    publisher = with_key(make_publisher(balance="100.00", email="press@example.com"))
    user = make_publisher_user(publisher)
    make_project(publisher, "279813")
    serve(standin, [sale(6001, 279813), sale(6002, 279813)])

    run = samcart_check_run(publisher=publisher)
    made = {o.external_order_id: o for o in Order.objects.filter(found_by_run=run)}

    assert alerts_collect() >= 1
    assert alerts_collect(now=timezone.now() + HOUR) == 0  # once: the run is marked told
    alerts_send_due()

    [text] = _needs_action_texts(smtp_server)
    for samcart_id, order in made.items():
        assert f"Order #{order.pk} (SamCart order {samcart_id}, product 279813)" in text
    assert "confirm the address" in text and "release" in text
    alert = Alert.objects.get(kind=AlertKind.NEEDS_ACTION)
    assert alert.subject == "SamCart: 2 things need your action"
    run.refresh_from_db()
    assert run.alerted_at is not None
    link = next(line.strip() for line in text.splitlines() if "/order/" in line)
    browser = Client()
    browser.force_login(user)
    page = browser.get(urlsplit(link).path)
    assert page.status_code == 200 and "SamCart check" in page.content.decode()


def test_a_refused_key_is_emailed_once_and_again_after_a_new_refusal(standin, smtp_server):
    publisher = with_key(make_publisher(email="press@example.com"), key="a-wrong-key-1234")

    samcart_check_run(publisher=publisher)

    assert alerts_collect() == 1
    assert alerts_collect(now=timezone.now() + HOUR) == 0
    alerts_send_due()
    [text] = _needs_action_texts(smtp_server)
    assert "SamCart refused your API key; checks are paused until you enter a new one" in text
    assert "a-wrong-key" not in text

    with_key(publisher, key="another-wrong-key")  # a new key, refused too: a new refusal
    samcart_check_run(publisher=publisher)
    assert alerts_collect(now=timezone.now() + HOUR) == 1


def test_check_lines_and_notifications_share_one_email(client, standin, smtp_server):
    publisher = with_key(make_publisher(balance="100.00"))
    make_project(publisher, "279813")
    post_notify(client, publisher, notify_body(6100, [(777777, 1)]))  # no_match
    serve(standin, [sale(6101, 279813)])

    samcart_check_run(publisher=publisher)

    assert alerts_collect() >= 1
    alerts_send_due()
    [text] = _needs_action_texts(smtp_server)
    notification = Notification.objects.get(outcome=Outcome.NO_MATCH)
    assert f"Notification #{notification.pk}" in text
    assert "SamCart order 6101, product 279813" in text
