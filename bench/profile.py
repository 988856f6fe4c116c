"""Issue 21: where a notification's Python goes, in-process (prints figures and a profile).

Prepares a throw-away database as `make bench` does (default `trepstar_bench_profile`), posts
KIND notifications (charged, hold, no_match or three: charged with three products) through
Django's test client after a warm-up, and prints per notification: the CPU time without the
profiler, the Python function calls under cProfile (a count that does not drift with the
machine's load, so two checkouts compare exactly), and the functions of the app and the ORM
that cost most (CPU time under the profiler, about 3× the real one).

KIND `replay` spools charged bodies instead (a temporary NOTIFY_SPOOL_DIR) and profiles
`spool_drain()` replaying them in this thread, per body.

Run: `.venv/bin/python -m bench.profile [KIND] [COUNT]` (charged, 600). A benchmark: it
asserts nothing.
"""

from __future__ import annotations

import cProfile
import os
import pstats
import sys
import time
from collections.abc import Callable

os.environ.setdefault(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/trepstar_bench_profile"
)

from bench import run  # reads the BENCH_* variables above at import

KINDS = {
    "charged": ("funded", [run.ONE]),
    "hold": ("zero", [run.ONE]),
    "no_match": ("funded", [run.UNKNOWN_ONE]),
    "three": ("funded", run.THREE.split(",")),
}
WARM_UP = 200


def main() -> None:
    kind = sys.argv[1] if len(sys.argv) > 1 else "charged"
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 600
    if kind == "replay":
        return replay(count)
    if kind not in KINDS:
        raise SystemExit(f"KIND is one of {', '.join(KINDS)}, replay")
    _, paths = run.prepare()
    from django.test import Client

    client = Client()
    publisher, products = KINDS[kind]
    path = paths[publisher]
    order_ids = iter(range(5_000_000, 5_000_000 + WARM_UP + 2 * count))

    def post() -> None:
        body = run.notify_body(products, order_id=next(order_ids))
        client.post(path, body, content_type="application/json")

    for _ in range(WARM_UP):
        post()
    started = time.process_time()
    for _ in range(count):
        post()
    cpu_ms = (time.process_time() - started) * 1000 / count
    stats = _profiled(lambda: [post() for _ in range(count)])
    print(f"{kind}: {cpu_ms:.2f} ms of CPU per notification (test client included, no profiler)")
    print(f"{kind}: {stats.total_calls / count:,.0f} Python function calls per notification\n")
    stats.sort_stats("cumulative").print_stats(r"fulfillment/(services|views)", 25)
    stats.sort_stats("tottime").print_stats(25)


def _profiled(work: Callable[[], object]) -> pstats.Stats:
    """Run `work` under cProfile (CPU time) and return its statistics."""
    profile = cProfile.Profile(time.process_time)
    profile.enable()
    work()
    profile.disable()
    return pstats.Stats(profile)


def replay(count: int) -> None:
    """Spool `count` charged bodies, replay them, and again under the profiler (per body)."""
    import shutil

    from bench import spool_replay  # sets a temporary NOTIFY_SPOOL_DIR at import

    _, paths = run.prepare()
    from fulfillment.services.replay import spool_drain

    query_string = paths["funded"].partition("?")[2]
    spool_replay.spool_bodies(query_string, 3_000_000_000, WARM_UP)
    spool_drain()
    spool_replay.spool_bodies(query_string, 3_100_000_000, count)
    started, wall = time.process_time(), time.monotonic()
    spool_drain()
    cpu_ms = (time.process_time() - started) * 1000 / count
    rate = count / (time.monotonic() - wall)
    spool_replay.spool_bodies(query_string, 3_200_000_000, count)
    stats = _profiled(spool_drain)
    print(f"replay: {cpu_ms:.2f} ms of CPU per body, {rate:,.0f} bodies/s in one thread")
    print(f"replay: {stats.total_calls / count:,.0f} Python function calls per body\n")
    stats.sort_stats("cumulative").print_stats(r"fulfillment/", 25)
    shutil.rmtree(spool_replay.SPOOL, ignore_errors=True)


if __name__ == "__main__":
    main()
