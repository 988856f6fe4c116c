"""Background work (SPEC §13): the tasks a worker runs and the schedule of periodic jobs.

Tasks are django-tasks tasks on its database backend: enqueuing writes a row in the caller's
transaction, so a task exists exactly when the change that asked for it committed.
"""

from __future__ import annotations

from datetime import timedelta

from django_tasks import task

from fulfillment.services.alerts import alert_send, alerts_collect, alerts_send_due
from fulfillment.services.pruning import old_rows_prune
from fulfillment.services.retries import notification_retry_due, notifications_retry_due
from fulfillment.services.window import orders_start_production


@task()
def notification_retry(notification_id: int) -> str:
    """Process an `error` notification again when its next try is due (once, whoever runs it)."""
    return notification_retry_due(notification_id=notification_id)


@task()
def retry_due_notifications() -> int:
    """Run every retry that is due: `error` notifications on the backoff (a task lost with a
    killed worker included) and notifications left `pending` for 5 minutes."""
    return notifications_retry_due()


@task()
def collect_alerts() -> int:
    """Write the alerts that are due (each once per cause)."""
    return alerts_collect()


@task()
def send_alert(alert_id: int) -> bool:
    """Send one alert (enqueued with it): once, whichever worker runs it."""
    return alert_send(alert_id=alert_id)


@task()
def send_alerts() -> int:
    """Send every alert that is due: failed sends on their next try, lost tasks."""
    return alerts_send_due()


@task()
def start_production(order_ids: list[int]) -> int:
    """End the edit window of these scheduled orders (enqueued to run when it ends)."""
    return orders_start_production(order_ids=order_ids)


@task()
def start_due_production() -> int:
    """End every edit window that is due (a task lost with a killed worker included)."""
    return orders_start_production()


@task()
def prune_old_rows() -> dict[str, int]:
    """Delete finished rows older than PRUNE_AFTER_DAYS (task results, slots, tallies, alerts)."""
    return old_rows_prune()


# job name -> (every, task): a worker enqueues each job once per slot (`PeriodicRun`).
SCHEDULE = {
    "retry_due_notifications": (timedelta(minutes=1), retry_due_notifications),
    "collect_alerts": (timedelta(minutes=1), collect_alerts),
    "send_alerts": (timedelta(seconds=30), send_alerts),
    "start_due_production": (timedelta(seconds=30), start_due_production),
    "prune_old_rows": (timedelta(days=1), prune_old_rows),
}
