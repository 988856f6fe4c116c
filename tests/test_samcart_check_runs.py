"""Runs of the SamCart check (SPEC §17): windows, one run per publisher, the schedule, the
command, and a constant number of statements per page of SamCart orders.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from fulfillment.models import PeriodicRun, RunKind, RunStatus, SamcartCheckRun
from fulfillment.services.samcart_check import (
    ERROR_ABANDONED,
    REFUSAL_KEY_REFUSED,
    REFUSAL_NO_KEY,
    REFUSAL_RUNNING,
    check_window,
    samcart_check_enqueue,
    samcart_check_refusal,
    samcart_check_run,
    samcart_check_task,
)
from fulfillment.services.schedule import schedule_tick
from fulfillment.tasks import SCHEDULE
from tests.factories import make_publisher
from tests.samcart_world import our_orders, sale, serve, with_key

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def _run(publisher, status, end: datetime) -> SamcartCheckRun:
    return SamcartCheckRun.objects.create(
        publisher=publisher,
        kind=RunKind.REGULAR,
        status=status,
        window_start=end - timedelta(hours=2),
        window_end=end,
    )


def _tasks() -> list[tuple[list[object], datetime]]:
    rows = DBTaskResult.objects.filter(task_path__endswith=".samcart_check_task")
    return [(row.args_kwargs["args"], row.run_after) for row in rows.order_by("enqueued_at")]


def test_the_first_run_looks_back_three_days(funded_publisher):
    _run(funded_publisher, RunStatus.FAILED, NOW - timedelta(hours=1))  # not a good run

    window = check_window(publisher=funded_publisher, kind=RunKind.REGULAR, now=NOW)

    assert window.kind == RunKind.FIRST
    assert (window.start, window.end) == (NOW - timedelta(days=3), NOW - timedelta(minutes=10))


@pytest.mark.parametrize("status", [RunStatus.OK, RunStatus.BRAKED])
def test_a_regular_run_starts_an_hour_before_the_last_good_one_ended(funded_publisher, status):
    _run(funded_publisher, status, NOW - timedelta(hours=5))
    _run(funded_publisher, RunStatus.KEY_REFUSED, NOW - timedelta(hours=1))

    window = check_window(publisher=funded_publisher, kind=RunKind.REGULAR, now=NOW)

    assert window.kind == RunKind.REGULAR
    assert (window.start, window.end) == (NOW - timedelta(hours=6), NOW - timedelta(minutes=10))


def test_a_daily_run_looks_back_seven_days(funded_publisher):
    _run(funded_publisher, RunStatus.OK, NOW - timedelta(minutes=20))

    window = check_window(publisher=funded_publisher, kind=RunKind.DAILY, now=NOW)

    assert (window.kind, window.start) == (RunKind.DAILY, NOW - timedelta(days=7))


def test_a_manual_run_starts_at_midnight_utc_of_its_date_else_like_a_regular_one(
    funded_publisher,
):
    since = check_window(
        publisher=funded_publisher, kind=RunKind.MANUAL, now=NOW, since=date(2026, 11, 30)
    )
    assert (since.kind, since.start) == (RunKind.MANUAL, datetime(2026, 11, 30, tzinfo=UTC))
    first = check_window(publisher=funded_publisher, kind=RunKind.MANUAL, now=NOW)
    assert (first.kind, first.start) == (RunKind.MANUAL, NOW - timedelta(days=3))
    _run(funded_publisher, RunStatus.OK, NOW - timedelta(hours=2))
    later = check_window(publisher=funded_publisher, kind=RunKind.MANUAL, now=NOW)
    assert later.start == NOW - timedelta(hours=3)


def test_a_running_check_holds_the_publisher_until_it_is_abandoned(funded_publisher, standin):
    publisher = with_key(funded_publisher)
    running = _run(publisher, RunStatus.RUNNING, timezone.now())

    assert samcart_check_run(publisher=publisher) is None
    assert samcart_check_refusal(publisher=publisher) == REFUSAL_RUNNING
    assert samcart_check_enqueue(publisher=publisher) == REFUSAL_RUNNING and _tasks() == []
    assert standin.requests == []

    SamcartCheckRun.objects.filter(pk=running.pk).update(
        started_at=timezone.now() - timedelta(minutes=31)
    )
    assert samcart_check_refusal(publisher=publisher) is None
    run = samcart_check_run(publisher=publisher)

    assert run.status == RunStatus.OK
    running.refresh_from_db()
    assert (running.status, running.error) == (RunStatus.FAILED, ERROR_ABANDONED)


def test_no_key_no_run(funded_publisher, standin):
    assert samcart_check_refusal(publisher=funded_publisher) == REFUSAL_NO_KEY
    assert samcart_check_enqueue(publisher=funded_publisher) == REFUSAL_NO_KEY
    assert samcart_check_run(publisher=funded_publisher) is None
    assert not SamcartCheckRun.objects.exists() and _tasks() == []


def test_check_now_queues_a_manual_run(funded_publisher, standin):
    publisher = with_key(funded_publisher)
    serve(standin, [sale(9500, 279813)])

    assert samcart_check_enqueue(publisher=publisher) is None

    [(args, _)] = _tasks()
    assert args == [publisher.pk, RunKind.MANUAL]
    run_id = samcart_check_task.call(*args)
    assert SamcartCheckRun.objects.get(pk=run_id).created == 1


def test_the_schedule_queues_a_check_per_publisher_with_a_key(funded_publisher, standin):
    publisher = with_key(funded_publisher)
    make_publisher()  # no key: not checked
    paused = with_key(make_publisher())
    paused.samcart_key_refused_at = timezone.now()
    paused.save()
    assert SCHEDULE["samcart_checks"][0] == timedelta(minutes=15)
    assert SCHEDULE["samcart_checks_daily"][0] == timedelta(days=1)

    assert {"samcart_checks", "samcart_checks_daily"} <= set(schedule_tick(schedule=SCHEDULE))
    assert PeriodicRun.objects.filter(job="samcart_checks").count() == 1
    assert SCHEDULE["samcart_checks"][1].call() == 1
    assert SCHEDULE["samcart_checks_daily"][1].call() == 1

    assert [args for args, _ in _tasks()] == [
        [publisher.pk, RunKind.REGULAR],
        [publisher.pk, RunKind.DAILY],
    ]


def test_a_daily_run_that_meets_a_running_one_tries_again_later(funded_publisher, standin):
    publisher = with_key(funded_publisher)
    _run(publisher, RunStatus.RUNNING, timezone.now())

    assert samcart_check_task.call(publisher.pk, RunKind.DAILY) is None
    assert samcart_check_task.call(publisher.pk, RunKind.REGULAR) is None

    [(args, run_after)] = _tasks()  # the daily one only: the next regular one comes anyway
    assert args == [publisher.pk, RunKind.DAILY]
    assert run_after > timezone.now() + timedelta(minutes=4)


def _statements(publisher, orders: int) -> int:
    with CaptureQueriesContext(connection) as captured:
        run = samcart_check_run(publisher=publisher, kind=RunKind.DAILY)
    assert (run.status, run.orders_seen, run.missing) == (RunStatus.OK, orders, 0)
    return len(captured.captured_queries)


def test_statements_per_page_are_constant(funded_publisher, standin):
    """A page of 100 SamCart orders costs the same statements whatever the page count."""
    publisher = with_key(funded_publisher)
    almanac = publisher.projects.get(title="Almanac")
    our_orders(publisher, almanac, range(10_000, 10_300), "279813")
    serve(standin, [sale(n, 279813) for n in range(10_000, 10_100)])
    one_page = _statements(publisher, 100)
    serve(standin, [sale(n, 279813) for n in range(10_000, 10_300)])
    three_pages = _statements(publisher, 300)

    per_page = (three_pages - one_page) / 2
    # Our orders of the page, the projects of its product ids, the run's progress.
    assert per_page == 3
    # Around the pages: the key, the claim (abandon, insert in a savepoint), closing the run.
    assert one_page - per_page == 6


def test_the_command_checks_a_publisher_with_a_progress_bar(funded_publisher, standin):
    publisher = with_key(funded_publisher)
    serve(standin, [sale(9600, 279813), sale(9601, 279813)])
    out, err = StringIO(), StringIO()

    call_command("samcart_check", "--publisher", publisher.idpub, stdout=out, stderr=err)

    run = SamcartCheckRun.objects.get()
    assert (run.kind, run.created) == (RunKind.MANUAL, 2)
    assert f"Publisher {publisher.idpub}: check {run.pk} done" in out.getvalue()
    assert "2 compared, 2 missing, 2 ordered." in out.getvalue()
    assert "2order" in err.getvalue().replace(" ", "")  # tqdm's bar counted the orders


def test_the_command_checks_every_publisher_with_a_key_since_a_date(funded_publisher, standin):
    publisher = with_key(funded_publisher)
    make_publisher()  # no key: not checked
    paused = with_key(make_publisher())
    paused.samcart_key_refused_at = timezone.now()
    paused.save()
    serve(standin, [sale(9700, 279813, order_date=timezone.now() - timedelta(days=5))])
    since = (timezone.now() - timedelta(days=6)).date().isoformat()
    out, err = StringIO(), StringIO()

    call_command("samcart_check", "--since", since, stdout=out, stderr=err)

    run = SamcartCheckRun.objects.get()
    assert run.publisher == publisher
    assert run.window_start.date().isoformat() == since and run.created == 1
    assert out.getvalue().count("Publisher ") == 1
    assert f"Publisher {paused.idpub}: {REFUSAL_KEY_REFUSED}" in err.getvalue()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--publisher", "abc"], "--publisher takes a publisher ID"),
        (["--publisher", "99999999"], "No publisher has the ID 99999999."),
        (["--since", "2026-13-01"], "--since takes a date as YYYY-MM-DD"),
        (["--since", "2026-W48-1"], "--since takes a date as YYYY-MM-DD"),
        (["--since", "yesterday"], "--since takes a date as YYYY-MM-DD"),
        (["--since", "2999-01-01"], "is in the future"),
    ],
)
def test_the_command_refuses_bad_arguments(funded_publisher, standin, args, message):
    with_key(funded_publisher)

    with pytest.raises(CommandError, match=message):
        call_command("samcart_check", *args, stdout=StringIO(), stderr=StringIO())

    assert not SamcartCheckRun.objects.exists()


def test_the_command_says_why_a_publisher_cannot_be_checked(funded_publisher, standin):
    with pytest.raises(CommandError, match=REFUSAL_NO_KEY):
        call_command("samcart_check", "--publisher", funded_publisher.idpub, stdout=StringIO())


def test_the_command_fails_when_a_check_fails(funded_publisher, standin):
    publisher = with_key(funded_publisher, key="a-wrong-key-1234")
    out = StringIO()

    with pytest.raises(CommandError, match="Not every check ended well"):
        call_command("samcart_check", "--publisher", publisher.idpub, stdout=out, stderr=StringIO())

    assert "API key refused" in out.getvalue() and "a-wrong-key" not in out.getvalue()
