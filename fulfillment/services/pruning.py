"""Prune the tables that only grow (SPEC §13): a daily job deletes what is old and finished.

Finished task results (django-tasks-db), periodic-run slots, refused-request tallies, and
alerts that were sent or failed, once older than `PRUNE_AFTER_DAYS` days. Nothing still to
do is touched: a task waiting or running, an alert waiting for its next try.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from fulfillment.models import Alert, PeriodicRun, RefusedRequestTally


def prune_cut(*, now: datetime | None = None) -> datetime:
    """Return the moment before which finished rows are deleted."""
    return (now or timezone.now()) - timedelta(days=settings.PRUNE_AFTER_DAYS)


def old_rows_prune(*, now: datetime | None = None) -> dict[str, int]:
    """Delete the finished rows older than the cut; return how many of each table went."""
    cut = prune_cut(now=now)
    tables = {
        "task results": DBTaskResult.objects.finished().filter(finished_at__lt=cut),
        "periodic runs": PeriodicRun.objects.filter(slot__lt=cut),
        "refused request tallies": RefusedRequestTally.objects.filter(hour__lt=cut),
        "alerts": Alert.objects.filter(Q(sent_at__lt=cut) | Q(failed_at__lt=cut)),
    }
    return {name: rows.delete()[0] for name, rows in tables.items()}
