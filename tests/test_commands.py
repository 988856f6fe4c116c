"""Management commands of SPEC §11, run for real."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from fulfillment.models import Notification, Order, Outcome
from tests.factories import make_project, make_publisher, post_notify, sample


@pytest.mark.django_db(transaction=True)
def test_samcart_send_posts_to_a_running_server(live_server):
    publisher = make_publisher(balance="100.00")
    make_project(publisher, "{279813}{294010}")
    out = io.StringIO()

    call_command(
        "samcart_send",
        idpub=publisher.idpub,
        base_url=live_server.url,
        product=["279813", "294010"],
        quantity=2,
        order_id="123456",
        stdout=out,
    )

    status, answer = out.getvalue().split(" ", 1)
    assert status == "200"
    assert json.loads(answer)["outcome"] == Outcome.CREATED
    assert sorted(Order.objects.values_list("external_product_id", "quantity")) == [
        ("279813", 2),
        ("294010", 2),
    ]
    call_command(
        "samcart_send",
        url=_url(live_server, publisher),
        product=["279813"],
        order_id="9",
        form=True,
        test=True,
        stdout=out,
    )
    assert Order.objects.get(external_order_id="9").is_test


def _url(live_server, publisher) -> str:
    return f"{live_server.url}/samcart/notify/?idpub={publisher.idpub}&key={publisher.notify_key}"


@pytest.mark.django_db
def test_reprocess_notifications_creates_orders_once(client):
    publisher = make_publisher(balance="100.00")
    post_notify(client, publisher, sample("order_products_array"))
    stored = Notification.objects.get()
    assert stored.outcome == Outcome.NO_MATCH
    make_project(publisher, "279813")

    out = io.StringIO()
    call_command("reprocess_notifications", stored.pk, stdout=out, stderr=io.StringIO())
    call_command("reprocess_notifications", stored.pk, stdout=out, stderr=io.StringIO())

    assert Order.objects.count() == 1
    assert "1 created" in out.getvalue()
    assert "1 duplicate" in out.getvalue()


@pytest.mark.django_db
def test_purge_deletes_only_old_rejected_notifications(client):
    publisher = make_publisher()
    post_notify(client, publisher, b"", key="wrong")
    post_notify(client, publisher, b"")
    post_notify(client, publisher, sample("refund"))
    Notification.objects.update(received_at=timezone.now() - timedelta(days=31))
    post_notify(client, publisher, b"", key="wrong")

    call_command("purge_notifications", stdout=io.StringIO())

    remaining = list(Notification.objects.values_list("outcome", flat=True))
    assert sorted(remaining) == [Outcome.IGNORED, Outcome.REJECTED]
