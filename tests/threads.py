"""Run callables in real threads that start together, each on its own database connection."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from django.db import connections

T = TypeVar("T")


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
