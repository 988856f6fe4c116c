"""`manage.py worker` (make worker): run queued tasks and the schedule of periodic jobs.

django-tasks-db's worker runs the queue; a thread beside it ticks the schedule every
`--tick` seconds and replays what the Notify URL spooled on this host while the database was
away (so `make run`'s server needs no replay of its own after a restart).
Run as many as you like, on as many machines: each task and each periodic
slot runs once. Stop with SIGTERM or Ctrl+C (the running task finishes first).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.conf import settings
from django.db import close_old_connections
from django_tasks_db.management.commands.db_worker import Command as DbWorkerCommand

from fulfillment.services.replay import spool_drain
from fulfillment.services.schedule import schedule_tick
from fulfillment.tasks import SCHEDULE

logger = logging.getLogger(__name__)


def _tick_forever(every: float, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            schedule_tick(schedule=SCHEDULE)
        except Exception:  # the database went away: try again at the next tick
            logger.exception("Schedule tick failed")
        finally:
            close_old_connections()
        try:
            spool_drain(  # bodies the Notify URL spooled on this host (SPEC §4)
                threads=settings.NOTIFY_SPOOL_REPLAY_THREADS,
                processes=settings.NOTIFY_SPOOL_REPLAY_PROCESSES,
            )
        except Exception:
            logger.exception("Spool replay failed")
        stop.wait(every)


class Command(DbWorkerCommand):
    help = "Run background work: queued tasks and periodic jobs (alerts, retries)."

    def add_arguments(self, parser: Any) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--tick", type=float, default=5.0, help="Seconds between schedule checks."
        )

    def configure_logging(self, verbosity: int) -> None:
        """Say only what went wrong by default (`-v 2`: every task run, `-v 3`: debug): the
        periodic jobs run every few seconds and would bury the alerts `make run` prints."""
        super().configure_logging(verbosity)
        if verbosity == 1:
            for name in ("django.tasks", "django_tasks", "django_tasks_db"):
                logging.getLogger(name).setLevel(logging.WARNING)
        elif verbosity == 2:
            for name in ("django.tasks", "django_tasks", "django_tasks_db"):
                logging.getLogger(name).setLevel(logging.INFO)

    def handle(self, *args: Any, **options: Any) -> None:
        options["reload"] = False  # a reloader would tick the schedule in two processes
        stop = threading.Event()
        ticker = threading.Thread(
            target=_tick_forever, args=(options.pop("tick"), stop), daemon=True
        )
        ticker.start()
        try:
            super().handle(*args, **options)
        finally:
            stop.set()
