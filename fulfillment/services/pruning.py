"""Prune the tables that only grow (SPEC §13): a daily job deletes what is old and finished.

Finished task results (django-tasks-db), periodic-run slots, refused-request tallies, and
alerts that were sent or failed, once older than `PRUNE_AFTER_DAYS` days. Nothing still to
do is touched: a task waiting or running, an alert waiting for its next try.

Test orders (issue 20 #10) go after `TEST_ORDERS_KEEP` (an hourly job), or at once when a
manager clears them: with their lines and events, nothing else. A test order is never
charged; one that somehow has a ledger entry is kept, so the ledger is never touched. The
notifications that made them stay (the notification history is not pruned).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from fulfillment.models import (
    Alert,
    LedgerEntry,
    Order,
    PeriodicRun,
    Publisher,
    RefusedRequestTally,
)

if TYPE_CHECKING:
    from django.db.models import QuerySet

TEST_ORDERS_KEEP = timedelta(days=7)


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


def _test_orders_delete(orders: QuerySet[Order]) -> int:
    """Delete these test orders with their lines and events; return how many orders went."""
    charged = Exists(LedgerEntry.objects.filter(order=OuterRef("pk")))
    doomed = orders.filter(is_test=True).exclude(charged)
    with transaction.atomic():
        _total, per_model = Order.objects.filter(pk__in=doomed.values("pk")).delete()
    return per_model.get(Order._meta.label, 0)


def old_test_orders_prune(*, now: datetime | None = None) -> int:
    """Delete every publisher's test orders made more than TEST_ORDERS_KEEP ago."""
    cut = (now or timezone.now()) - TEST_ORDERS_KEEP
    return _test_orders_delete(Order.objects.filter(created_at__lt=cut))


def publisher_test_orders_clear(*, publisher: Publisher) -> int:
    """Delete all of the publisher's test orders now (*Clear test orders*)."""
    return _test_orders_delete(Order.objects.for_publisher(publisher))
