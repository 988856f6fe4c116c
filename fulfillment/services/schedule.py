"""Periodic jobs (SPEC §13): each worker ticks; the first to claim a slot enqueues the job."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django_tasks.base import Task

from fulfillment.models import PeriodicRun


def slot_of(now: datetime, every_seconds: float) -> datetime:
    """Return the start of the slot `now` falls in (slots are aligned on the epoch)."""
    start = now.timestamp() // every_seconds * every_seconds
    return datetime.fromtimestamp(start, tz=UTC)


# job name -> (every, task): the shape of `fulfillment.tasks.SCHEDULE`.
Schedule = Mapping[str, tuple[timedelta, Task[..., Any]]]


def schedule_tick(*, schedule: Schedule, now: datetime | None = None) -> list[str]:
    """Enqueue each periodic job whose current slot nobody has claimed; return their names.

    The claim (a `PeriodicRun` row, unique per job and slot) and the enqueue are one
    transaction: with several workers on several machines a job runs once per slot.
    """
    now = now or timezone.now()
    enqueued = []
    for name, (every, job) in schedule.items():
        try:
            with transaction.atomic():
                PeriodicRun.objects.create(job=name, slot=slot_of(now, every.total_seconds()))
                job.enqueue()
        except IntegrityError:
            continue  # another worker claimed this slot
        enqueued.append(name)
    return enqueued
