"""Issue 17, points 3, 8 and 14 (SPEC §13–§14): every notification ends processed or in
front of a person.

A notification left `pending` is picked up by the periodic sweep after 5 minutes; failures are
retried on the backoff (1, 5, 30 min, 2 h, 12 h); every way retries stop (the last try failed,
the line needs a re-mapping confirmation) lands in the needs-action alert. Each rule has its
own test here: the schedule, the claim that only takes a due retry, the periodic job that runs
once per slot and the stop of a retry refused as re-mapped.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from fulfillment.models import (
    Alert,
    AlertKind,
    LedgerEntry,
    Notification,
    Order,
    OrderLine,
    Outcome,
)
from fulfillment.services import retries, retrying
from fulfillment.services.alerts import alerts_collect
from fulfillment.services.projects import project_update
from fulfillment.services.reprocess import (
    DETAIL_NOT_REPROCESSABLE,
    WHY_BEING_RETRIED,
    notification_reprocess,
)
from fulfillment.services.retrying import notification_retry_due, notifications_retry_due
from fulfillment.services.schedule import schedule_tick, slot_of
from fulfillment.tasks import SCHEDULE, retry_due_notifications
from tests.factories import make_project, make_publisher, post_notify
from tests.faults import install_failing_trigger, remove_failing_trigger
from tests.invariants import assert_money_invariants, order_body
from tests.threads import run_together

pytestmark = pytest.mark.django_db

MINUTE = timedelta(minutes=1)


def _left_pending(publisher, order_id: int, *, minutes_ago: float, **fields) -> Notification:
    """A notification stored whose processing never finished (the process died)."""
    stored = Notification.objects.create(
        publisher=publisher,
        raw_body=order_body(order_id=order_id),
        content_type="application/json",
        idpub_given=publisher.idpub,
        **fields,
    )
    Notification.objects.filter(pk=stored.pk).update(
        received_at=timezone.now() - minutes_ago * MINUTE
    )
    stored.refresh_from_db()
    return stored


def _needs_action_ids() -> set[int]:
    return set(Notification.objects.needs_action().values_list("pk", flat=True))


def _alerted(notification: Notification) -> bool:
    """Run the alert scan; tell whether a needs-action alert told of the notification."""
    alerts_collect()
    notification.refresh_from_db()
    return (
        notification.alerted_at is not None
        and Alert.objects.filter(
            kind=AlertKind.NEEDS_ACTION, publisher_id=notification.publisher_id
        ).exists()
    )


# Point 3: a notification left pending is picked up automatically after 5 minutes.


def test_the_sweep_processes_a_notification_left_pending_for_five_minutes():
    publisher = make_publisher(balance="100.00")
    make_project(publisher, "279813")
    left = _left_pending(publisher, 3001, minutes_ago=6)
    recent = _left_pending(publisher, 3002, minutes_ago=4)  # its request may still be running
    # A spooled body replayed just now: its arrival time is old, its replay is under way.
    replayed = _left_pending(
        publisher, 3003, minutes_ago=30, next_attempt_at=timezone.now() + 5 * MINUTE
    )

    assert notifications_retry_due() == 1

    for notification in (left, recent, replayed):
        notification.refresh_from_db()
    assert (left.outcome, left.attempts, left.next_attempt_at) == (Outcome.CREATED, 1, None)
    assert recent.outcome == replayed.outcome == Outcome.PENDING
    assert list(Order.objects.values_list("notification_id", flat=True)) == [left.pk]

    assert notifications_retry_due(now=timezone.now() + 6 * MINUTE) == 2
    assert Order.objects.count() == 3
    assert_money_invariants(publisher)


def test_the_sweep_is_the_periodic_job_retry_due_notifications():
    assert SCHEDULE["retry_due_notifications"] == (timedelta(seconds=30), retry_due_notifications)
    publisher = make_publisher(balance="100.00")
    make_project(publisher, "279813")
    left = _left_pending(publisher, 3004, minutes_ago=6)
    assert retry_due_notifications.call() == 1
    left.refresh_from_db()
    assert left.outcome == Outcome.CREATED


def test_a_pending_notification_nobody_could_process_goes_to_a_person():
    publisher = make_publisher(balance="100.00")
    make_project(publisher, "279813")
    abandoned = _left_pending(publisher, 3005, minutes_ago=17 * 60)
    assert notifications_retry_due() == 0  # past the whole schedule: no more automatic tries
    assert _needs_action_ids() == {abandoned.pk}
    assert _alerted(abandoned)


# Points 3 and 14: failures are retried on the backoff, then need a person.


def test_a_failing_notification_is_tried_on_the_backoff_then_needs_a_person():
    publisher = make_publisher(balance="100.00")
    make_project(publisher, "279813")
    left = _left_pending(publisher, 3006, minutes_ago=6)
    install_failing_trigger()  # the database refuses order events: every try fails
    try:
        waits = []
        now = timezone.now()
        for _ in range(6):
            assert notification_retry_due(notification_id=left.pk, now=now) == Outcome.ERROR
            left.refresh_from_db()
            assert left.outcome == Outcome.ERROR
            if left.next_attempt_at is None:
                break
            waits.append(round((left.next_attempt_at - left.processed_at) / MINUTE))
            assert left.pk not in _needs_action_ids()
            now = left.next_attempt_at
    finally:
        remove_failing_trigger()
    assert waits == [1, 5, 30, 120, 720]
    assert (left.attempts, left.next_attempt_at) == (6, None)
    assert _needs_action_ids() == {left.pk}
    assert _alerted(left)
    assert Order.objects.count() == 0


# Point 14: the claim takes only a due retry, and only once.


def test_a_retry_that_is_not_due_is_not_run():
    publisher = make_publisher(balance="100.00")
    make_project(publisher, "279813")
    later = timezone.now() + MINUTE
    failed = _left_pending(publisher, 3007, minutes_ago=2, outcome=Outcome.ERROR, attempts=1)
    Notification.objects.filter(pk=failed.pk).update(next_attempt_at=later)

    assert notification_retry_due(notification_id=failed.pk) == "not due"
    assert notifications_retry_due() == 0
    failed.refresh_from_db()
    assert (failed.outcome, failed.attempts, failed.next_attempt_at) == (Outcome.ERROR, 1, later)
    assert Order.objects.count() == 0

    assert notification_retry_due(notification_id=failed.pk, now=later) == Outcome.CREATED
    assert notification_retry_due(notification_id=failed.pk, now=later) == "not due"
    failed.refresh_from_db()
    assert (failed.attempts, Order.objects.count()) == (2, 1)


def _two_workers_retry(notification_id: int) -> list:
    def retry() -> str:
        return notification_retry_due(notification_id=notification_id)

    return run_together([retry, retry])


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_claim_a_due_retry_once():
    publisher = make_publisher(balance="100.00")
    make_project(publisher, "279813")
    left = _left_pending(publisher, 3008, minutes_ago=6)

    answers = _two_workers_retry(left.pk)

    assert sorted(map(str, answers)) == ["created", "not due"]
    left.refresh_from_db()
    assert left.attempts == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_control_without_the_claim_both_workers_process_it(monkeypatch):
    monkeypatch.setattr(retrying, "notification_claim", lambda **kwargs: True)
    publisher = make_publisher(balance="100.00")
    make_project(publisher, "279813")
    left = _left_pending(publisher, 3009, minutes_ago=6)

    answers = _two_workers_retry(left.pk)

    assert "not due" not in answers
    left.refresh_from_db()
    assert left.attempts == 2  # processed twice (exactly-once still kept one order)
    assert Order.objects.count() == 1


# Point 14: a periodic job runs once per slot, however often workers tick.


def test_a_periodic_job_is_enqueued_once_per_slot():
    start = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)  # a slot boundary of every job
    claimed: set[tuple[str, datetime]] = set()
    enqueued = 0
    for seconds in (1, 2, 29, 31, 45, 61, 62, 3601):
        now = start + timedelta(seconds=seconds)
        slots = {
            (name, slot_of(now, every.total_seconds())) for name, (every, _) in SCHEDULE.items()
        }
        expected = {name for name, slot in slots - claimed}
        assert set(schedule_tick(schedule=SCHEDULE, now=now)) == expected, seconds
        assert (
            schedule_tick(schedule=SCHEDULE, now=now) == []
        )  # a second worker ticking at the same moment
        claimed |= slots
        enqueued += len(expected)
    assert DBTaskResult.objects.count() == enqueued
    assert {"retry_due_notifications", "send_alerts"} <= {n for n, _ in claimed}
    assert enqueued > len(SCHEDULE)  # later slots enqueued the jobs again


# Points 8 and 14: a retry refused because the line was re-mapped stops, and a person is told.


def test_a_retry_refused_as_remapped_stops_and_is_in_the_needs_action_alert(client: Client):
    publisher = make_publisher(balance="100.00")
    first_edition = make_project(publisher, "279813", title="Edition 1")
    install_failing_trigger()
    try:
        post_notify(client, publisher, order_body(order_id=3010))  # fails: retried later
    finally:
        remove_failing_trigger()
    failed = Notification.objects.get()
    assert (failed.outcome, failed.attempts) == (Outcome.ERROR, 1)
    resend = post_notify(client, publisher, order_body(order_id=3010))  # SamCart resends
    assert resend.json()["outcome"] == Outcome.CREATED
    project_update(project=first_edition, ecommerce_id_string="")
    second_edition = make_project(publisher, "279813", title="Edition 2")

    assert notification_retry_due(notification_id=failed.pk, now=failed.next_attempt_at) == (
        Outcome.ERROR
    )

    failed.refresh_from_db()
    assert failed.next_attempt_at is None
    assert failed.detail.startswith("Automatic retry stopped, a person must decide:")
    assert "confirm to create another" in failed.detail
    assert not OrderLine.objects.filter(project=second_edition).exists()
    assert LedgerEntry.objects.filter(kind="charge").count() == 1
    assert failed.pk in _needs_action_ids()
    assert notifications_retry_due(now=timezone.now() + timedelta(days=1)) == 0
    assert _alerted(failed)
    assert_money_invariants(publisher)


def test_a_pending_notification_of_a_remapped_line_stops_for_a_person(client: Client):
    publisher = make_publisher(balance="100.00")
    first_edition = make_project(publisher, "279813", title="Edition 1")
    post_notify(client, publisher, order_body(order_id=3011))
    left = _left_pending(publisher, 3011, minutes_ago=6)  # the same purchase, never processed
    project_update(project=first_edition, ecommerce_id_string="")
    make_project(publisher, "279813", title="Edition 2")

    assert notifications_retry_due() == 1

    left.refresh_from_db()
    assert (left.outcome, left.next_attempt_at) == (Outcome.ERROR, None)
    assert "confirm to create another" in left.detail
    assert Order.objects.count() == 1
    assert notifications_retry_due(now=timezone.now() + timedelta(hours=1)) == 0
    assert _needs_action_ids() == {left.pk}


def test_a_person_and_the_sweep_never_process_a_pending_notification_at_once():
    publisher = make_publisher(balance="100.00")
    make_project(publisher, "279813")
    left = _left_pending(publisher, 3012, minutes_ago=6)
    now = timezone.now()
    assert retries.notification_claim(notification_id=left.pk, now=now)  # a worker has it

    answer = notification_reprocess(notification=left)

    assert (answer.status, answer.detail) == (
        409,
        DETAIL_NOT_REPROCESSABLE.format(why=WHY_BEING_RETRIED),
    )
    assert Order.objects.count() == 0
    stuck = _left_pending(publisher, 3013, minutes_ago=2)  # a person may take it after 1 min
    assert notification_reprocess(notification=stuck).outcome == Outcome.CREATED
    assert not retries.notification_claim(notification_id=stuck.pk, now=now + 10 * MINUTE)
