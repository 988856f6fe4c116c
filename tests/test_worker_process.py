"""The worker as real processes on PostgreSQL (SPEC §13–§14): alerts go out exactly once.

Each test starts `manage.py worker` as a separate process against the test database, with a
real SMTP server (aiosmtpd) as EMAIL_URL, and reads what the server accepted.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection

from fulfillment.models import Alert, AlertKind, Notification, Outcome
from fulfillment.services import alerts
from tests.factories import make_project, make_publisher, post_notify, sample
from tests.faults import install_failing_trigger, remove_failing_trigger
from tests.smtp import SmtpServer

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parent.parent
GIVE_UP = 90  # a killed worker's alert waits for the next sweep (30 s slots)


def _database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _start_worker(smtp: SmtpServer, log: Path) -> subprocess.Popen:
    env = dict(
        os.environ,
        DATABASE_URL=_database_url(),
        EMAIL_URL=smtp.url,
        DEBUG="1",
        PUBLIC_BASE_URL="https://fulfillment.trepstar.example",
        NOTIFY_SPOOL_DIR=str(log.parent / "spool"),  # its own: nothing another test spooled
    )
    return subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "worker",
            "--tick",
            "0.5",
            "--interval",
            "0.1",
            "--no-startup-delay",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop(worker: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if worker.poll() is None:
        os.killpg(worker.pid, sig)
        worker.wait(timeout=30)


def _wait_for(what, log: Path) -> None:
    deadline = time.monotonic() + GIVE_UP
    while time.monotonic() < deadline:
        if what():
            return
        time.sleep(0.1)
    pytest.fail(f"gave up waiting; worker log:\n{log.read_text()[-3000:]}")


def _pending_alerts(count: int) -> None:
    """Write `count` alerts as the scan does: each with its send task."""
    publisher = make_publisher(email="press@example.com", low_balance_threshold=None)
    for n in range(count):
        alerts.alert_record(
            publisher=publisher,
            kind=AlertKind.NEEDS_ACTION,
            cause=f"test:{n}",
            recipients=publisher.email,
            subject=f"Alert {n}",
            body_text=f"Alert {n}",
            body_html=f"<p>Alert {n}</p>",
        )


def test_a_worker_process_emails_a_hold_order(client, tmp_path):
    publisher = make_publisher(balance="0.00", email="press@example.com")
    make_project(publisher, "279813")
    post_notify(client, publisher, sample("order_products_array"))
    log = tmp_path / "worker.log"
    with SmtpServer() as smtp:
        worker = _start_worker(smtp, log)
        try:
            _wait_for(lambda: smtp.inbox.messages, log)
        finally:
            _stop(worker)
        [message] = smtp.inbox.messages
    assert str(message["Subject"]) == "1 order on hold – action required"
    assert "https://fulfillment.trepstar.example/admin/fulfillment/order/" in str(
        message.get_body(preferencelist=("plain",)).get_content()
    )


def test_two_workers_send_every_alert_exactly_once(tmp_path):
    _pending_alerts(120)
    log = tmp_path / "worker.log"
    with SmtpServer() as smtp:
        workers = [_start_worker(smtp, log) for _ in range(2)]
        try:
            _wait_for(lambda: len(smtp.inbox.messages) >= 120, log)
            time.sleep(2)  # a duplicate would arrive now
        finally:
            for worker in workers:
                _stop(worker)
        subjects = Counter(smtp.inbox.subjects())
    assert len(subjects) == 120
    assert max(subjects.values()) == 1
    assert not Alert.objects.filter(sent_at__isnull=True).exists()
    # Both workers took part: the tasks were shared, not run by one.
    from django_tasks_db.models import DBTaskResult

    runs = DBTaskResult.objects.filter(task_path__contains=".send_alert")
    runners = {tuple(ids) for ids in runs.values_list("worker_ids", flat=True)}
    assert len(runners) == 2, list(runs.values_list("task_path", "worker_ids", "return_value"))


def test_control_without_the_row_lock_two_senders_duplicate(smtp_server, monkeypatch):
    """Control: take SKIP LOCKED away and two senders at once send the same alerts twice."""
    from django.db.models import QuerySet

    monkeypatch.setattr(QuerySet, "select_for_update", lambda self, **kwargs: self)
    _pending_alerts(20)
    barrier = threading.Barrier(2)

    def send() -> None:
        barrier.wait()
        try:
            alerts.alerts_send_due()
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    subjects = Counter(smtp_server.inbox.subjects())
    assert max(subjects.values()) > 1, subjects


def test_a_worker_killed_mid_batch_and_restarted_sends_every_alert_once(tmp_path):
    _pending_alerts(12)
    log = tmp_path / "worker.log"
    with SmtpServer() as smtp:
        smtp.inbox.hold_after = 5  # the 6th message waits: the worker is mid-send
        worker = _start_worker(smtp, log)
        try:
            _wait_for(smtp.inbox.waiting.is_set, log)
            _stop(worker, signal.SIGKILL)
        finally:
            _stop(worker)
        assert len(smtp.inbox.messages) == 5
        smtp.inbox.release.set()  # the killed send is answered "try again" and never accepted
        worker = _start_worker(smtp, log)
        try:
            _wait_for(lambda: len(smtp.inbox.messages) >= 12, log)
            time.sleep(2)
        finally:
            _stop(worker)
        subjects = Counter(smtp.inbox.subjects())
    assert len(subjects) == 12
    assert max(subjects.values()) == 1
    assert not Alert.objects.filter(sent_at__isnull=True).exists()


def test_a_failed_notification_is_retried_by_the_worker(client, tmp_path):
    publisher = make_publisher(balance="50.00")
    make_project(publisher, "279813")
    install_failing_trigger()  # the database refuses order events: processing fails
    try:
        post_notify(client, publisher, sample("order_products_array"))
    finally:
        remove_failing_trigger()
    notification = Notification.objects.get()
    assert notification.outcome == Outcome.ERROR
    assert notification.next_attempt_at is not None
    Notification.objects.update(next_attempt_at=notification.received_at)  # due now
    log = tmp_path / "worker.log"
    with SmtpServer() as smtp:
        worker = _start_worker(smtp, log)
        try:
            _wait_for(lambda: Notification.objects.get().outcome == Outcome.CREATED, log)
        finally:
            _stop(worker)
    notification.refresh_from_db()
    assert notification.attempts == 2 and notification.next_attempt_at is None
    assert publisher.orders.count() == 1


def test_a_restarted_worker_ends_edit_windows_on_time_and_once(client, tmp_path):
    from django.utils import timezone

    from fulfillment.models import Order, OrderEvent, OrderEventKind, OrderStatus
    from tests.invariants import assert_money_invariants, order_body

    publisher = make_publisher(balance="100.00", production_delay_minutes=1)
    make_project(publisher, "279813")
    for n in range(3):
        post_notify(client, publisher, order_body(order_id=7700 + n))
    ends = timezone.now() + timedelta(seconds=3)  # the windows end in 3 s
    assert Order.objects.filter(status=OrderStatus.SCHEDULED).update(production_at=ends) == 3
    log = tmp_path / "worker.log"
    with SmtpServer() as smtp:
        worker = _start_worker(smtp, log)
        time.sleep(1)
        _stop(worker, signal.SIGKILL)  # gone before the windows end
        assert Order.objects.filter(status=OrderStatus.SCHEDULED).count() == 3
        time.sleep(3)  # the windows end while no worker runs
        worker = _start_worker(smtp, log)
        try:
            _wait_for(lambda: not Order.objects.filter(status=OrderStatus.SCHEDULED).exists(), log)
            time.sleep(2)  # a second start would show now
        finally:
            _stop(worker)
    for order in Order.objects.all():
        assert order.status == OrderStatus.IN_PRODUCTION
        [started] = OrderEvent.objects.filter(order=order, kind=OrderEventKind.PRODUCTION_STARTED)
        assert started.created_at >= ends  # never before the window ended
    assert_money_invariants(publisher)
