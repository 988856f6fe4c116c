"""Issue 17, point 6: an unlocked first pass and a locked pass of one SamCart line (PostgreSQL).

The Notify URL's first pass inserts the line's order, then charges by a compare-and-set on the
publisher row; a locked pass (a reprocess, a retry, a redo) holds the publisher row, then
inserts the same line. Interleaved, each waits for the other and PostgreSQL aborts one of them
("deadlock detected"). Real threads on PostgreSQL force the interleaving both ways round (each
side as the victim); whichever side is aborted must run again under the lock and answer
`duplicate`, never 500 `error`. On the old code the victim answered 500 `error`.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection
from django.test import Client

from fulfillment.models import LedgerEntry, LedgerKind, Notification, Order, Outcome
from fulfillment.services import intake
from fulfillment.services.notifications import notification_process
from tests.factories import make_project, make_publisher, notify_path
from tests.invariants import assert_money_invariants, order_body
from tests.threads import run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

BODY = order_body(order_id=6001)
WAIT = 20  # seconds: a bound for a stuck test, never reached when it works
role = threading.local()


def _until_someone_waits_for_a_lock() -> None:
    """Return once another connection waits for a row or index lock held by this one."""
    give_up = time.monotonic() + WAIT
    with connection.cursor() as cursor:
        while time.monotonic() < give_up:
            cursor.execute("SELECT pg_stat_clear_snapshot()")  # else a transaction sees one
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND datname = current_database() AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.005)
    raise AssertionError("the other pass never waited for a lock")


def _run(monkeypatch, *, victim: str) -> tuple[list, Notification]:
    """Deliver BODY on the Notify URL (unlocked first pass) while a stored copy is processed
    under the lock, interleaved so that PostgreSQL aborts `victim` ("first" or "locked")."""
    publisher = make_publisher(balance="100.00")
    make_project(publisher, "279813")
    stored = Notification.objects.create(
        publisher=publisher,
        raw_body=BODY,
        content_type="application/json",
        idpub_given=publisher.idpub,
    )
    path = notify_path(publisher)
    go = threading.Event()
    real_charge, real_lock = intake._charge, intake.publisher_lock

    def charge(**kwargs):
        if getattr(role, "name", "") == "first" and not go.is_set():
            go.set()  # the first pass inserted its order, uncommitted: let the locked pass in
            _until_someone_waits_for_a_lock()  # it holds the publisher, waits for our line
        return real_charge(**kwargs)

    def lock(**kwargs):
        locked = real_lock(**kwargs)
        if getattr(role, "name", "") == "locked" and not go.is_set():
            go.set()  # we hold the publisher row: let the first pass insert and charge
            _until_someone_waits_for_a_lock()  # it inserted and waits for the publisher
        return locked

    if victim == "first":  # the first pass waits first, so its deadlock check fires first
        monkeypatch.setattr(intake, "publisher_lock", lock)
    else:
        monkeypatch.setattr(intake, "_charge", charge)

    def first_pass() -> tuple[int, str]:
        role.name = "first"
        if victim == "first":
            assert go.wait(WAIT)
        response = Client().post(path, data=BODY, content_type="application/json")
        return response.status_code, response.json()["outcome"]

    def locked_pass() -> tuple[int, str]:
        role.name = "locked"
        if victim != "first":
            assert go.wait(WAIT)
        answer = notification_process(notification=stored)
        return answer.status, answer.outcome

    return run_together([first_pass, locked_pass]), publisher


@pytest.mark.parametrize("victim", ["first", "locked"])
def test_a_deadlock_between_the_passes_is_redone_under_the_lock(monkeypatch, victim):
    answers, publisher = _run(monkeypatch, victim=victim)

    assert sorted(answers) == [(200, Outcome.CREATED), (200, Outcome.DUPLICATE)], answers
    assert not Notification.objects.filter(outcome=Outcome.ERROR).exists()
    assert Order.objects.count() == 1
    assert LedgerEntry.objects.filter(kind=LedgerKind.CHARGE).count() == 1
    assert_money_invariants(publisher)
