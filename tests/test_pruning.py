"""Issue 17, point 15: tables that grow with time are pruned by a daily job (SPEC §13)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from fulfillment.models import Alert, AlertKind, PeriodicRun, RefusedRequestTally
from fulfillment.services.pruning import old_rows_prune
from fulfillment.services.schedule import schedule_tick
from fulfillment.tasks import SCHEDULE, collect_alerts, prune_old_rows
from tests.factories import make_publisher

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _ten_days(settings):
    settings.PRUNE_AFTER_DAYS = 10


def _ago(days: float):
    return timezone.now() - timedelta(days=days)


def test_finished_task_results_older_than_the_cut_go_and_the_rest_stay():
    rows = {}
    for name, status, finished in [
        ("old done", "SUCCESSFUL", _ago(11)),
        ("old failed", "FAILED", _ago(11)),
        ("new done", "SUCCESSFUL", _ago(9)),
        ("waiting", "READY", None),
        ("running", "RUNNING", None),
    ]:
        result = collect_alerts.enqueue()
        DBTaskResult.objects.filter(pk=result.id).update(
            status=status, finished_at=finished, enqueued_at=_ago(30)
        )
        rows[name] = result.id
    old_rows_prune()
    left = set(DBTaskResult.objects.values_list("pk", flat=True))
    assert {str(pk) for pk in left} == {str(rows[n]) for n in ("new done", "waiting", "running")}


def test_periodic_run_slots_older_than_the_cut_go():
    PeriodicRun.objects.create(job="collect_alerts", slot=_ago(11))
    kept = PeriodicRun.objects.create(job="collect_alerts", slot=_ago(9))
    assert old_rows_prune()["periodic runs"] == 1
    assert list(PeriodicRun.objects.values_list("pk", flat=True)) == [kept.pk]


def test_refused_request_tallies_older_than_the_cut_go():
    publisher = make_publisher()
    for days in (11, 9):
        hour = _ago(days).replace(minute=0, second=0, microsecond=0)
        RefusedRequestTally.objects.create(publisher=publisher, hour=hour, count=3, last_at=hour)
    assert old_rows_prune()["refused request tallies"] == 1
    assert RefusedRequestTally.objects.get().hour > _ago(10)


def test_sent_and_failed_alerts_older_than_the_cut_go_and_waiting_ones_stay():
    publisher = make_publisher()

    def alert(cause: str, **fields) -> Alert:
        return Alert.objects.create(
            publisher=publisher,
            kind=AlertKind.LOW_BALANCE,
            cause=cause,
            recipients="a@example.com",
            subject=cause,
            body_text="x",
            body_html="x",
            **fields,
        )

    alert("old sent", sent_at=_ago(11))
    alert("old failed", failed_at=_ago(11))
    alert("new sent", sent_at=_ago(9))
    alert("new failed", failed_at=_ago(9))
    alert("waiting", next_try_at=_ago(11))  # not sent yet: never pruned
    Alert.objects.update(created_at=_ago(40))
    assert old_rows_prune()["alerts"] == 2
    assert sorted(Alert.objects.values_list("cause", flat=True)) == [
        "new failed",
        "new sent",
        "waiting",
    ]


def test_the_prune_job_is_in_the_schedule_once_a_day_and_prunes():
    every, job = SCHEDULE["prune_old_rows"]
    assert (every, job) == (DAY, prune_old_rows)
    noon = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0)
    assert "prune_old_rows" in schedule_tick(schedule=SCHEDULE, now=noon)
    assert "prune_old_rows" not in schedule_tick(schedule=SCHEDULE, now=noon + timedelta(hours=11))
    assert "prune_old_rows" in schedule_tick(schedule=SCHEDULE, now=noon + DAY)
    PeriodicRun.objects.create(job="collect_alerts", slot=_ago(11))
    assert prune_old_rows.call()["periodic runs"] == 1


SHOW_SETTING = (
    "import django; from django.conf import settings; django.setup(); "
    "print(settings.PRUNE_AFTER_DAYS)"
)


@pytest.mark.parametrize(("value", "days"), [("7", 7), ("0", 1), (None, 30)])
def test_the_setting_is_read_from_the_environment(value, days):
    """A fresh process, since settings are read once (0 is raised to 1: today's rows stay)."""
    env = {k: v for k, v in os.environ.items() if k != "PRUNE_AFTER_DAYS"}
    env["DJANGO_SETTINGS_MODULE"] = "trepstar.settings_test"
    if value is not None:
        env["PRUNE_AFTER_DAYS"] = value
    shown = subprocess.run(
        [sys.executable, "-c", SHOW_SETTING],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert int(shown.stdout.split()[-1]) == days
