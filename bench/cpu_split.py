"""Issue 21: where a notification's CPU goes, per request, at 8 clients (prints a table).

Serves the app as `make bench` does (shipped `gunicorn.conf.py`, production settings, a
throw-away database, default `trepstar_bench_split`), runs each target with wrk for
SPLIT_SECONDS (8) and reads, from /proc, the CPU time (user + system) the gunicorn processes
spent meanwhile (Django, the app, psycopg), the rest of the machine's busy time (PostgreSQL,
wrk, the kernel's network and disk work) and its idle time: each divided by the requests
answered. On 2 cores a target's req/s is at most 2,000 ms / (its CPU ms per request), so the
table says which side to make cheaper.

Run: `.venv/bin/python -m bench.cpu_split`. Prints figures, asserts nothing.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

os.environ.setdefault(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/trepstar_bench_split"
)
os.environ.setdefault("BENCH_PORT", "8793")
os.environ.setdefault("BENCH_CACHE_URL", "redis://127.0.0.1:6379/11")
os.environ["GUNICORN_MAX_REQUESTS"] = "0"  # no restart inside a measurement

from bench import run  # reads the BENCH_* variables above at import)

SECONDS = int(os.environ.get("SPLIT_SECONDS", "8"))
CLIENTS = 8
TICK = os.sysconf("SC_CLK_TCK")
NAMES = ("insert one row", "notify no_match, 1 product", "notify hold, 1 product")
NAMES += ("notify charged, 1 product", "notify charged, 3 products")


def _cpu_ms(pid: int) -> float:
    """Return the CPU time (user + system) process `pid` has used, in ms (0 if gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) * 1000 / TICK


def _gunicorn_pids() -> list[int]:
    """Return the pids of the running gunicorn processes (master and workers)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if "bin/gunicorn" in command:
            pids.append(int(entry.name))
    return pids


def _machine_ms() -> tuple[float, float]:
    """Return the machine's busy and idle (+ iowait) time so far, summed over cores, in ms."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
    idle = fields[3] + fields[4]
    return (sum(fields) - idle) * 1000 / TICK, idle * 1000 / TICK


def main() -> None:
    wrk, paths = run.prepare()
    targets = [t for t in run.targets(paths) if t.name in NAMES]
    server = run.Server()
    server.start()
    print(f"{os.cpu_count()} cores; {CLIENTS} clients, {SECONDS} s per target", flush=True)
    print(
        "\n| target | req/s | CPU ms per request: gunicorn | the rest (PostgreSQL, wrk, kernel) "
        "| idle ms |"
    )
    print("|---|---|---|---|---|")
    try:
        run.warm_up(wrk, targets)
        for n, target in enumerate(targets):
            pids = _gunicorn_pids()
            gunicorn = sum(_cpu_ms(p) for p in pids)
            busy, idle = _machine_ms()
            figure = run.run_wrk(wrk, target, CLIENTS, 40_000_000_000_000 + n * 10**10, SECONDS)
            busy_after, idle_after = _machine_ms()
            gunicorn = sum(_cpu_ms(p) for p in pids) - gunicorn
            requests = max(figure.requests, 1)
            rest = busy_after - busy - gunicorn
            print(
                f"| {target.name} | {figure.rps:,.0f} | {gunicorn / requests:.2f} | "
                f"{rest / requests:.2f} | {(idle_after - idle) / requests:.2f} |",
                flush=True,
            )
            time.sleep(1)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
