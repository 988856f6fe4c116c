"""The SamCart check when SamCart's API misbehaves, at page boundaries, and at the safety brake
(SPEC §17): real HTTP to the stand-in, faults queued on it.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from fulfillment.models import FindingKind, Order, Publisher, RunKind, RunStatus
from fulfillment.services.samcart_check import (
    ERROR_UNEXPECTED,
    REFUSAL_KEY_REFUSED,
    samcart_check_refusal,
    samcart_check_run,
    samcart_checks_enqueue_due,
)
from fulfillment.services.samcart_notices import BRAKE_SUBJECT
from tests.factories import make_staff_user, post_notify
from tests.samcart_world import KEY, client_for, notify_body, sale, serve, with_key

pytestmark = pytest.mark.django_db


def _tasks() -> list[list[object]]:
    rows = DBTaskResult.objects.filter(task_path__endswith=".samcart_check_task")
    return [row.args_kwargs["args"] for row in rows.order_by("enqueued_at")]


@pytest.mark.parametrize(
    ("fault", "waits"),
    [
        ({"status": 429, "retry_after": "3"}, [3.0]),  # SamCart says how long
        ({"status": 429}, [1.0]),  # no header: back off from 1 s
        ({"status": 504, "times": 2}, [1.0, 2.0]),
    ],
)
def test_throttling_and_time_outs_are_waited_out(funded_publisher, standin, fault, waits):
    publisher = with_key(funded_publisher)
    serve(standin, [sale(8001, 279813)])
    standin.fail(fault)
    sleeps: list[float] = []

    run = samcart_check_run(publisher=publisher, client=client_for(standin, sleeps))

    assert sleeps == waits
    assert (run.status, run.created) == (RunStatus.OK, 1)
    statuses = [r["status"] for r in standin.requests if r["path"] == "/v1/orders"]
    assert statuses == [fault["status"]] * len(waits) + [200]


def test_an_api_that_stays_down_fails_the_run_in_plain_english(funded_publisher, standin):
    publisher = with_key(funded_publisher)
    serve(standin, [sale(8002, 279813)])
    standin.fail({"status": 504, "times": 5})
    sleeps: list[float] = []

    run = samcart_check_run(publisher=publisher, client=client_for(standin, sleeps))

    assert run.status == RunStatus.FAILED and run.finished_at is not None
    assert "did not answer usefully after 5 tries" in run.error and "HTTP 504" in run.error
    assert KEY not in run.error
    assert sleeps == [1.0, 2.0, 4.0, 8.0]
    assert not Order.objects.exists()
    # A failed run is not a good one: the next regular run starts where a first one would.
    again = samcart_check_run(publisher=publisher)
    assert (again.kind, again.created) == (RunKind.FIRST, 1)


def test_a_customer_that_cannot_be_read_keeps_what_was_done(funded_publisher, standin):
    publisher = with_key(funded_publisher)
    serve(standin, [sale(8003, 279813), sale(8004, 279813)])
    sleeps: list[float] = []
    client = client_for(standin, sleeps, tries=1)
    # The listing and the first customer are answered; SamCart fails on the second customer.
    standin.fail({"delay": 0}, {"delay": 0}, {"status": 503})

    run = samcart_check_run(publisher=publisher, client=client)

    assert run.status == RunStatus.FAILED and "HTTP 503" in run.error
    assert (run.missing, run.created) == (2, 1)
    kinds = {f["order_id"]: f["kind"] for f in run.findings}
    assert kinds == {"8003": FindingKind.CREATED, "8004": FindingKind.MISSING}
    assert list(Order.objects.values_list("external_order_id", flat=True)) == ["8003"]


def test_a_refused_key_pauses_the_publisher_until_a_new_key(funded_publisher, standin):
    publisher = with_key(funded_publisher, key="an-old-key-1234")
    serve(standin, [sale(8005, 279813)])

    run = samcart_check_run(publisher=publisher)

    assert run.status == RunStatus.KEY_REFUSED
    assert "refused the API key (HTTP 401)" in run.error and "an-old-key" not in run.error
    publisher.refresh_from_db()
    assert publisher.samcart_key_refused_at is not None
    assert samcart_check_refusal(publisher=publisher) == REFUSAL_KEY_REFUSED
    assert samcart_checks_enqueue_due(kind=RunKind.REGULAR) == 0 and _tasks() == []
    assert samcart_check_run(publisher=publisher) is None  # paused: no run at all
    assert [r["status"] for r in standin.requests] == [401]

    with_key(publisher)  # the publisher enters the right key: checks resume

    assert samcart_check_refusal(publisher=publisher) is None
    assert samcart_checks_enqueue_due(kind=RunKind.REGULAR) == 1
    assert _tasks() == [[publisher.pk, RunKind.REGULAR]]
    resumed = samcart_check_run(publisher=publisher)
    assert (resumed.status, resumed.created) == (RunStatus.OK, 1)


def test_a_refusal_does_not_pause_a_key_entered_during_the_run(funded_publisher, standin):
    publisher = with_key(funded_publisher, key="an-old-key-1234")
    serve(standin, [sale(8006, 279813)])

    def enter_new_key(_count: int) -> None:
        with_key(Publisher.objects.get(pk=publisher.pk))

    # The listing answers 200 (the stand-in only checks keys after queued faults), then 401.
    standin.fail({"status": 200, "body": {"data": [sale(8006, 279813)], "pagination": {}}})
    run = samcart_check_run(publisher=publisher, progress=enter_new_key)

    assert run.status == RunStatus.KEY_REFUSED
    publisher.refresh_from_db()
    assert publisher.samcart_key_refused_at is None  # the new key is not paused


@pytest.mark.parametrize(
    ("count", "lazy", "pages"), [(100, False, 1), (100, True, 2), (101, False, 2)]
)
def test_a_page_boundary_at_the_limit_loses_no_order(funded_publisher, standin, count, lazy, pages):
    publisher = with_key(funded_publisher)
    serve(standin, [sale(9000 + n, 279813) for n in range(count)])
    standin.control({"lazy_next": lazy})

    run = samcart_check_run(publisher=publisher)

    assert (run.pages, run.orders_seen, run.lines_counted) == (pages, count, count)
    assert run.created == count == Order.objects.count()


def test_an_empty_window_is_a_good_run(funded_publisher, standin):
    publisher = with_key(funded_publisher)

    run = samcart_check_run(publisher=publisher)

    assert (run.status, run.pages, run.orders_seen, run.lines_counted) == (RunStatus.OK, 1, 0, 0)
    assert run.findings == [] and not Order.objects.exists()


def test_the_safety_brake_creates_nothing_and_tells_staff(client, funded_publisher, standin):
    publisher = with_key(funded_publisher)
    staff = make_staff_user()
    staff.email = "ops@trepstar.example"
    staff.save()
    serve(standin, [sale(8100 + n, 279813) for n in range(4)] + [sale(8110, 279813)])
    # Notifications did arrive in the window, for other ids: 4 of 5 counted lines missing.
    post_notify(client, publisher, notify_body(8110, [(279813, 1)]))
    orders = Order.objects.count()

    run = samcart_check_run(publisher=publisher, now=timezone.now() + timedelta(minutes=11))

    assert run.status == RunStatus.BRAKED
    assert (run.lines_counted, run.missing, run.created) == (5, 4, 0)
    assert Order.objects.count() == orders
    assert sorted(f["order_id"] for f in run.findings if f["kind"] == "missing") == [
        "8100",
        "8101",
        "8102",
        "8103",
    ]
    [message] = mail.outbox
    assert message.subject == BRAKE_SUBJECT.format(idpub=publisher.idpub)
    assert set(message.to) == {"support@trepstar.example", "ops@trepstar.example"}
    assert "8103 / 279813" in message.body
    # A braked run is a good run: the next one starts from its window.
    nxt = samcart_check_run(publisher=publisher, now=timezone.now() + timedelta(minutes=11))
    assert nxt.window_start == run.window_end - timedelta(hours=1)


def test_no_brake_when_no_notification_arrived(funded_publisher, standin):
    publisher = with_key(funded_publisher)
    serve(standin, [sale(8200 + n, 279813) for n in range(4)])

    run = samcart_check_run(publisher=publisher, now=timezone.now() + timedelta(minutes=11))

    assert (run.status, run.missing, run.created) == (RunStatus.OK, 4, 4)
    assert mail.outbox == []


def test_an_unexpected_error_fails_the_run_and_is_logged(funded_publisher, standin, caplog):
    publisher = with_key(funded_publisher)
    serve(standin, [sale(8300, 279813)])

    def broken_bar(_count: int) -> None:
        raise RuntimeError("the progress bar broke")

    with caplog.at_level(logging.ERROR, logger="fulfillment.services.samcart_check"):
        run = samcart_check_run(publisher=publisher, progress=broken_bar)

    assert (run.status, run.error) == (RunStatus.FAILED, ERROR_UNEXPECTED)
    assert run.finished_at is not None
    assert "the progress bar broke" in caplog.text
    assert samcart_check_run(publisher=publisher) is not None  # the publisher is free again


def test_an_answer_that_is_not_json_fails_the_run(funded_publisher, standin):
    publisher = with_key(funded_publisher)
    standin.fail({"status": 200, "body": "<html>maintenance</html>"})

    run = samcart_check_run(publisher=publisher)

    assert run.status == RunStatus.FAILED
    assert "not JSON" in run.error
