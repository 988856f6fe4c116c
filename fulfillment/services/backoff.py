"""The one retry schedule (SPEC §13): failed notifications and unsent alerts wait this long."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

BACKOFF = tuple(timedelta(minutes=m) for m in (1, 5, 30, 120, 720))  # ~15 h in all


def next_try_at(attempts: int, *, now: datetime | None = None) -> datetime | None:
    """Return when to try again after `attempts` tries, or None when the schedule is spent."""
    if attempts < 1 or attempts > len(BACKOFF):
        return None
    return (now or timezone.now()) + BACKOFF[attempts - 1]
