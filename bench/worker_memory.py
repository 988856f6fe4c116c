"""Issue 21, target 5: a gunicorn worker's memory under charged notifications, and what
recycling workers costs.

On a throw-away PostgreSQL database (BENCH_DATABASE_URL, default `trepstar_bench_memory`;
dropped and created again) it serves the app the way `make bench` does (the shipped
`gunicorn.conf.py`, production settings, `bench.settings`) and drives charged one-product
notifications with wrk (`bench/notify.lua`, every order id distinct).

`memory` (default): recycling off (GUNICORN_MAX_REQUESTS=0); prints each worker's RSS
(`/proc/<pid>/status` VmRSS) after about 1,000 notifications and at points up to
MEMORY_TOTAL (100,000), and the growth of each worker against the 1,000 sample.

`recycling`: for GUNICORN_MAX_REQUESTS=0 and 2000 (RECYCLE_VALUES), 8 clients for
RECYCLE_WINDOWS windows of 20 s each from a fresh server: req/s, p50 and p99 per window and
how many workers were new in each; then the time a worker takes to boot (fork to first
answer), measured from a fresh gunicorn.

Run: `.venv/bin/python -m bench.worker_memory [memory|recycling|all]`. Prints, asserts nothing.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/trepstar_bench_memory"
)
os.environ.setdefault("BENCH_PORT", "8791")
os.environ.setdefault("BENCH_CACHE_URL", "redis://127.0.0.1:6379/13")

from bench import run  # reads the BENCH_* variables above at import

TOTAL = int(os.environ.get("MEMORY_TOTAL", "100000"))
CLIENTS = int(os.environ.get("MEMORY_CLIENTS", "8"))
WINDOW = int(os.environ.get("RECYCLE_WINDOW", "20"))
WINDOWS = int(os.environ.get("RECYCLE_WINDOWS", "6"))
RECYCLE_VALUES = tuple(os.environ.get("RECYCLE_VALUES", "0,2000").split(","))


def workers(master: int) -> list[int]:
    """The gunicorn master's child processes (its workers), by pid."""
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return sorted(int(pid) for pid in children)


def all_workers(master: int) -> list[int]:
    """The workers once every one of them is forked (WEB_CONCURRENCY, else the config's)."""
    expected = int(os.environ.get("WEB_CONCURRENCY") or min(2 * (os.cpu_count() or 1) + 1, 12))
    deadline = time.monotonic() + 30
    while len(workers(master)) < expected and time.monotonic() < deadline:
        time.sleep(0.1)
    return workers(master)


def rss_kib(pid: int) -> int:
    """A process's resident set size in KiB (VmRSS), 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def notifications() -> int:
    """How many notifications the database holds."""
    from fulfillment.models import Notification

    return Notification.objects.count()


def database_check() -> str:
    """Outcomes of the stored notifications, order statuses, and any SamCart order doubled."""
    from django.db.models import Count

    from fulfillment.models import Notification, Order

    outcomes = dict(Notification.objects.values_list("outcome").annotate(n=Count("id")))
    statuses = dict(Order.objects.values_list("status").annotate(n=Count("id")))
    doubled = (
        Order.objects.values("publisher_id", "external_order_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    return f"notifications {outcomes}; orders {statuses}; SamCart orders doubled: {doubled}"


def charged(paths: dict[str, str]) -> run.Target:
    return run.Target("notify charged, 1 product", paths["funded"], run.ONE, "created")


def measure_memory(wrk: str, paths: dict[str, str]) -> None:
    """Recycling off: RSS of every worker from ~1,000 notifications to TOTAL."""
    os.environ["GUNICORN_MAX_REQUESTS"] = "0"
    server = run.Server()
    server.start()
    target = charged(paths)
    base = 1_000_000_000
    samples: list[tuple[int, dict[int, int]]] = []
    try:
        assert server.process is not None
        master = server.process.pid
        pids = all_workers(master)
        run.run_wrk(wrk, target, CLIENTS, 9_000_000_000_000, seconds=2)  # imports, connections
        time.sleep(1)
        print(f"recycling off; {len(pids)} workers {pids}; master {master}", flush=True)
        print(f"{'notifications':>13} {'req/s':>7}  RSS MiB per worker", flush=True)
        done = 0
        seconds = 3  # the first sample near 1,000 (about 200 charged notifications/s)
        while done < TOTAL:
            figure = run.run_wrk(wrk, target, CLIENTS, base, seconds=seconds)
            base += 10_000_000_000
            time.sleep(1)
            done = notifications()
            now = workers(master)
            if now != pids:
                print(f"  !! workers changed: {pids} -> {now}", flush=True)
                pids = now
            sample = {pid: rss_kib(pid) for pid in pids}
            samples.append((done, sample))
            cells = " ".join(f"{kib / 1024:6.1f}" for kib in sample.values())
            print(f"{done:13,d} {figure.rps:7.0f}  {cells}", flush=True)
            seconds = min(60, max(5, int((TOTAL - done) / max(figure.rps, 1)) + 1))
            if samples[0][0] < 800:  # too few yet for the "after 1,000" sample
                samples.clear()
                seconds = 3
        why = database_check()
    finally:
        server.stop()
    first_n, first = samples[0]
    last_n, last = samples[-1]
    print(f"\nper worker, after {first_n:,d} -> after {last_n:,d} notifications:")
    for pid in first:
        growth = (last[pid] - first[pid]) / first[pid] * 100
        before, after = first[pid] / 1024, last[pid] / 1024
        print(f"  pid {pid}: {before:.1f} -> {after:.1f} MiB ({growth:+.1f} %)")
    total_first, total_last = sum(first.values()), sum(last.values())
    print(
        f"  all workers: {total_first / 1024:.1f} -> {total_last / 1024:.1f} MiB "
        f"({(total_last - total_first) / total_first * 100:+.1f} %)"
    )
    print(f"  database check: {why}")


def measure_recycling(wrk: str, paths: dict[str, str]) -> None:
    """p99 per 20-s window with and without recycling, from a fresh server each."""
    target = charged(paths)
    base = 100_000_000_000_000
    for value in RECYCLE_VALUES:
        os.environ["GUNICORN_MAX_REQUESTS"] = value
        server = run.Server()
        server.start()
        try:
            assert server.process is not None
            master = server.process.pid
            seen = set(all_workers(master))
            print(f"\nGUNICORN_MAX_REQUESTS={value}, {CLIENTS} clients, {WINDOW}-s windows:")
            print("| window | req/s | p50 ms | p99 ms | new workers |")
            print("|---|---|---|---|---|")
            for window in range(WINDOWS):
                figure = run.run_wrk(wrk, target, CLIENTS, base, seconds=WINDOW)
                base += 10_000_000_000
                now = set(workers(master))
                new = len(now - seen)
                seen |= now
                print(
                    f"| {window + 1} | {figure.rps:.0f} | {figure.p50:.1f} | {figure.p99:.1f} "
                    f"| {new} |",
                    flush=True,
                )
        finally:
            server.stop()
    boot_time()


def boot_time() -> None:
    """Seconds from starting gunicorn (one worker) to its first answer, three times, and the
    CPU time a worker spends loading the app (import of the WSGI application)."""
    import socket
    import subprocess
    import urllib.request

    os.environ["GUNICORN_MAX_REQUESTS"] = "0"
    times = []
    for _ in range(3):
        env = dict(os.environ, BIND=f"127.0.0.1:{run.PORT}", WEB_CONCURRENCY="1")
        env["GUNICORN_LOG_LEVEL"] = "warning"
        started = time.monotonic()
        process = subprocess.Popen(
            [str(run.BIN / "gunicorn"), "-c", str(run.ROOT / "gunicorn.conf.py")],
            cwd=run.ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            while True:
                try:
                    socket.create_connection(("127.0.0.1", run.PORT), timeout=0.2).close()
                    with urllib.request.urlopen(f"http://127.0.0.1:{run.PORT}/bench/fixed/") as r:
                        r.read()
                    break
                except OSError:
                    time.sleep(0.02)
            times.append(time.monotonic() - started)
        finally:
            os.killpg(process.pid, 15)
            process.wait(timeout=30)
    code = "import time; t=time.process_time(); from trepstar.wsgi import application; "
    code += "print(time.process_time() - t)"
    cpu = subprocess.run(
        [sys.executable, "-c", code], cwd=run.ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    print(
        "\ngunicorn start to first answer (master + 1 worker): "
        + ", ".join(f"{t:.2f} s" for t in times)
        + f"; a worker's app load: {float(cpu):.2f} s CPU"
    )


def main() -> None:
    what = sys.argv[1] if len(sys.argv) > 1 else "memory"
    wrk, paths = run.prepare()
    print(f"{os.cpu_count()} cores; database {run.DATABASE_URL}", flush=True)
    if what in ("memory", "all"):
        measure_memory(wrk, paths)
    if what in ("recycling", "all"):
        measure_recycling(wrk, paths)


if __name__ == "__main__":
    main()
