"""Issue 17, point 3, with a real worker process on PostgreSQL (SPEC §13).

A notification whose processing never finished (the request was killed, the process died) is
left `pending`; the worker's periodic sweep processes it once it is 5 minutes old, with no
manual step.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from fulfillment.models import Notification, Outcome
from tests.factories import make_project, make_publisher
from tests.invariants import assert_money_invariants, order_body
from tests.smtp import SmtpServer
from tests.test_worker_process import _start_worker, _stop, _wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_the_worker_processes_a_notification_left_pending(tmp_path):
    publisher = make_publisher(balance="100.00")
    make_project(publisher, "279813")
    left = Notification.objects.create(
        publisher=publisher,
        raw_body=order_body(order_id=3101),
        content_type="application/json",
        idpub_given=publisher.idpub,
    )
    Notification.objects.filter(pk=left.pk).update(
        received_at=timezone.now() - timedelta(minutes=6)
    )
    log = tmp_path / "worker.log"
    with SmtpServer() as smtp:
        worker = _start_worker(smtp, log)
        try:
            _wait_for(lambda: Notification.objects.get().outcome != Outcome.PENDING, log)
        finally:
            _stop(worker)
    left.refresh_from_db()
    assert (left.outcome, left.attempts, left.next_attempt_at) == (Outcome.CREATED, 1, None)
    assert publisher.orders.count() == 1
    assert_money_invariants(publisher)
