"""Real threads for the concurrency tests, each on its own database connection.

`run_together` starts jobs at once behind a barrier; `Worker` runs one job and records its
backend pid, result or exception; `_wait_until_blocked` returns once PostgreSQL says that
backend waits on a lock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

import pytest
from django.db import connection, connections

T = TypeVar("T")

GIVE_UP = 60.0  # seconds before a wait is declared hung (a failure, never a measurement)


def run_together(jobs: list[Callable[[], T]], timeout: float = 60) -> list[T | BaseException]:
    """Start every job at once behind a barrier; return each result or the exception it raised."""
    barrier = threading.Barrier(len(jobs))
    results: list[T | BaseException] = [RuntimeError("did not finish")] * len(jobs)

    def runner(index: int, job: Callable[[], T]) -> None:
        try:
            barrier.wait(timeout)
            results[index] = job()
        except BaseException as error:  # reported to the test, which decides
            results[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=runner, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    return results


def _backend_pid() -> int:
    """Return the PostgreSQL backend of this thread's connection."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _wait_until_blocked(pids: dict[str, int], name: str, done: threading.Event) -> None:
    """Return once backend `name` waits on a lock; fail if its thread ends or hangs instead."""
    deadline = time.monotonic() + GIVE_UP
    while time.monotonic() < deadline:
        pid = pids.get(name)
        if pid is not None:
            with connection.cursor() as cursor:
                cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
                row = cursor.fetchone()
            if row and row[0] == "Lock":
                return
        if done.is_set():
            pytest.fail(f"{name} finished instead of waiting on a lock")
        time.sleep(0.01)
    pytest.fail(f"{name} never waited on a lock")


class Worker(threading.Thread):
    """A thread running `job` on its own connection; records its pid, result or exception."""

    def __init__(self, name: str, pids: dict[str, int], job: Callable[[], object]) -> None:
        super().__init__(name=name, daemon=True)
        self.pids, self.job = pids, job
        self.result: object = None
        self.error: BaseException | None = None
        self.done = threading.Event()

    def run(self) -> None:
        try:
            self.pids[self.name] = _backend_pid()
            self.result = self.job()
        except BaseException as error:  # reported to the test
            self.error = error
        finally:
            self.done.set()
            connections.close_all()

    def outcome(self) -> object:
        self.join(GIVE_UP)
        assert not self.is_alive(), f"{self.name} hung"
        if self.error is not None:
            raise AssertionError(f"{self.name} raised {self.error!r}") from self.error
        return self.result
