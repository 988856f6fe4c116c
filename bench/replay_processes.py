"""Issue 21, target 4: spool replay by P processes of T threads each (prints bodies/s).

On a throw-away PostgreSQL database (BENCH_DATABASE_URL, default
`trepstar_bench_replay_processes`; dropped and created again) and a fresh temporary spool, for
each CONFIG (`PxT`, e.g. `2x2`), it spools COUNT charged one-product bodies with the product's
writer, then starts P processes that each call `spool_drain(threads=T)` at once (they share the
spool by lanes, as web processes, the worker and `notify_spool --replay` do) and prints
bodies/s until all have finished. The configurations run in the order given, twice.

Run: `.venv/bin/python -m bench.replay_processes [COUNT] [CONFIG ...]` (4000 1x4 2x2 5x1).
A benchmark: it asserts nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

os.environ.setdefault(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/trepstar_bench_replay_processes"
)

from bench import run, spool_replay  # spool_replay sets a temporary NOTIFY_SPOOL_DIR at import

DRAIN = (
    "import django, sys; django.setup(); "
    "from fulfillment.services.replay import spool_drain; spool_drain(threads=int(sys.argv[1]))"
)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 4000
    configs = sys.argv[2:] or ["1x4", "2x2", "5x1"]
    _, paths = run.prepare()
    query_string = paths["funded"].partition("?")[2]
    first = 3_000_000_000
    for config in configs * 2:
        processes, threads = (int(n) for n in config.split("x"))
        spool_replay.spool_bodies(query_string, first, count)
        first += count
        started = time.monotonic()
        drains = [
            subprocess.Popen([sys.executable, "-c", DRAIN, str(threads)], env=dict(os.environ))
            for _ in range(processes)
        ]
        for drain in drains:
            drain.wait()
        took = time.monotonic() - started
        print(f"{config}: {count / took:,.0f} bodies/s ({took:.1f} s)", flush=True)
    shutil.rmtree(spool_replay.SPOOL, ignore_errors=True)


if __name__ == "__main__":
    main()
