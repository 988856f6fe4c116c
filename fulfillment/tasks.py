"""Background work (SPEC §13): the periodic jobs and their schedule in code.

Tasks are django-tasks tasks on its database backend: enqueuing writes a row in the caller's
transaction, so a task exists exactly when the change that asked for it committed. A task that a
service enqueues lives beside that service (`alerts.send_alert`), so
services never import this module; this module imports them.
"""

from __future__ import annotations

from datetime import timedelta

from django_tasks import task

from fulfillment.models import RunKind
from fulfillment.services.alerts import alerts_collect, alerts_send_due, send_alert
from fulfillment.services.pruning import old_rows_prune, old_test_orders_prune
from fulfillment.services.retrying import notifications_retry_due
from fulfillment.services.samcart_check import samcart_checks_enqueue_due
from fulfillment.services.shipped_daily import shipped_daily_collect
from fulfillment.services.window import orders_start_production, start_production

__all__ = ["SCHEDULE", "send_alert", "start_production"]


@task()
def retry_due_notifications() -> int:
    """Run every retry that is due: `error` notifications on the backoff and notifications
    left `pending` for 5 minutes (a failure sets the next try; this sweep runs it)."""
    return notifications_retry_due()


@task()
def collect_alerts() -> int:
    """Write the alerts that are due (each once per cause)."""
    return alerts_collect()


@task()
def collect_shipped_daily() -> int:
    """Write each publisher's daily list of shipped orders once its local morning came."""
    return shipped_daily_collect()


@task()
def send_alerts() -> int:
    """Send every alert that is due: failed sends on their next try, lost tasks."""
    return alerts_send_due()


# How often the sweep ends the edit windows that are due (SPEC §15): a window ends at its
# `production_at` whatever the sweep does (edits refused from that moment); the order moves to
# `in_production` at the next sweep, at most this plus a worker tick later.
SWEEP_EVERY = timedelta(seconds=10)


@task()
def start_due_production() -> int:
    """End every edit window that is due (the only way windows end: no task per order)."""
    return orders_start_production()


@task()
def prune_old_rows() -> dict[str, int]:
    """Delete finished rows older than PRUNE_AFTER_DAYS (task results, slots, tallies, alerts)."""
    return old_rows_prune()


@task()
def prune_test_orders() -> int:
    """Delete test orders older than 7 days, with their lines and events (issue 20 #10)."""
    return old_test_orders_prune()


@task()
def samcart_checks() -> int:
    """Queue the regular SamCart check of every publisher with a key and no pause (§17)."""
    return samcart_checks_enqueue_due(kind=RunKind.REGULAR)


@task()
def samcart_checks_daily() -> int:
    """Queue the daily 7-day SamCart check of every publisher with a key and no pause."""
    return samcart_checks_enqueue_due(kind=RunKind.DAILY)


# job name -> (every, task): a worker enqueues each job once per slot (`PeriodicRun`).
SCHEDULE = {
    "retry_due_notifications": (timedelta(seconds=30), retry_due_notifications),
    "collect_alerts": (timedelta(minutes=1), collect_alerts),
    "collect_shipped_daily": (timedelta(minutes=15), collect_shipped_daily),
    "send_alerts": (timedelta(seconds=30), send_alerts),
    "start_due_production": (SWEEP_EVERY, start_due_production),
    "prune_old_rows": (timedelta(days=1), prune_old_rows),
    "prune_test_orders": (timedelta(hours=1), prune_test_orders),
    "samcart_checks": (timedelta(minutes=15), samcart_checks),
    "samcart_checks_daily": (timedelta(days=1), samcart_checks_daily),
}
