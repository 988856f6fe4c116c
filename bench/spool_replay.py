"""Issue 21, target 4: the Notify URL's spool (SPEC §4) against live charged notifications.

On a throw-away PostgreSQL database (BENCH_DATABASE_URL, default
`trepstar_bench_memory_spool`; dropped and created again), with NOTIFY_SPOOL_DIR in a fresh
temporary directory, it serves the app the way `make bench` does (shipped `gunicorn.conf.py`,
production settings, `bench.settings`) and prints:

1. live: charged one-product notifications at SPOOL_CLIENTS (8) for SPOOL_SECONDS (20) with wrk
   (`bench/notify.lua`): req/s, p50, p99;
2. down: the same burst while the database is down (the server's DATABASE_URL points at a
   closed port): every answer must be 202 `queued` and every body a spool file; req/s, p99;
3. spool: SPOOL_BODIES (10,000) charged bodies written with the product's own writer
   (`spool_write`, as the view does when the database is away): files/s per thousand;
4. replay: `spool_drain(threads=NOTIFY_SPOOL_REPLAY_THREADS,
   processes=NOTIFY_SPOOL_REPLAY_PROCESSES)` (what `manage.py notify_spool --replay` and the
   worker call: this process and its helper processes): bodies/s against the live figure;
   then the database check: one order per spooled SamCart order, none doubled, the spool
   empty;
5. replay by the web server: SPOOL_SERVER_BODIES (default SPOOL_BODIES) more spooled, then
   gunicorn started (each worker starts its replay thread at boot; NOTIFY_SPOOL_WEB_REPLAYERS
   of them replay at once, on lanes of their own): seconds until the spool is empty,
   bodies/s, and the same database check.

Run: `.venv/bin/python -m bench.spool_replay`. Prints figures, asserts nothing.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

os.environ.setdefault(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/trepstar_bench_memory_spool"
)
os.environ.setdefault("BENCH_PORT", "8792")
os.environ.setdefault("BENCH_CACHE_URL", "redis://127.0.0.1:6379/12")
SPOOL = Path(tempfile.mkdtemp(prefix="trepstar-bench-spool-"))
os.environ["NOTIFY_SPOOL_DIR"] = str(SPOOL / "spool")
os.environ["GUNICORN_MAX_REQUESTS"] = "0"  # no restart inside a measurement

from bench import run  # noqa: E402  (reads the BENCH_* variables above at import)

CLIENTS = int(os.environ.get("SPOOL_CLIENTS", "8"))
SECONDS = int(os.environ.get("SPOOL_SECONDS", "20"))
BODIES = int(os.environ.get("SPOOL_BODIES", "10000"))
SERVER_BODIES = int(os.environ.get("SPOOL_SERVER_BODIES", str(BODIES)))
BURST_MAX_FILES = 1_000_000  # the down burst's files cap (the shipped default is 10,000)
CLOSED_PORT_URL = "postgres://postgres@127.0.0.1:9/trepstar_bench_memory_spool"  # discard port


class Server(run.Server):
    """`make bench`'s server, logging to this run's directory and ready when it answers."""

    def __init__(self) -> None:
        super().__init__()
        self.log.close()
        self.log = open(SPOOL / "gunicorn.log", "ab")  # noqa: SIM115

    def start(self) -> None:
        super().start()
        wait_ready()


def wait_ready() -> None:
    """Wait until a worker answers (booting five workers takes seconds on a loaded machine)."""
    import urllib.request

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{run.PORT}/bench/fixed/", timeout=5):
                return
        except OSError:
            time.sleep(0.1)


def charged(paths: dict[str, str]) -> run.Target:
    return run.Target("notify charged, 1 product", paths["funded"], run.ONE, "created")


def spool_bodies(query_string: str, first_order: int, count: int) -> float:
    """Spool `count` charged bodies with the product's writer; print the pace; return seconds."""
    from django.utils import timezone

    from fulfillment.services.spool import Spooled, spool_write

    started = time.monotonic()
    lap = started
    for n in range(count):
        body = run.notify_body([run.ONE], order_id=first_order + n)
        item = Spooled(
            spool_id=uuid.uuid4(),
            received_at=timezone.now(),
            query_string=query_string,
            content_type="application/json",
            remote_addr="127.0.0.1",
            body_size=len(body),
            body=body,
        )
        spool_write(item=item)
        if (n + 1) % (count // 5) == 0:
            now = time.monotonic()
            print(f"    spooled {n + 1:6,d}: {count // 5 / (now - lap):6.0f} files/s", flush=True)
            lap = now
    return time.monotonic() - started


def database_check(first_order: int, count: int) -> str:
    """Orders and notifications of the SamCart orders first_order .. +count; none doubled."""
    from django.db.models import Count

    from fulfillment.models import Notification, Order
    from fulfillment.services.spool import spool_paths

    ids = [str(first_order + n) for n in range(count)]
    orders = Order.objects.filter(external_order_id__in=ids)
    doubled = (
        orders.values("publisher_id", "external_order_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    outcomes = dict(
        Notification.objects.filter(external_order_id__in=ids)
        .values_list("outcome")
        .annotate(n=Count("id"))
    )
    return (
        f"{orders.count():,d} orders for {count:,d} spooled SamCart orders "
        f"({orders.values('external_order_id').distinct().count():,d} distinct), "
        f"{doubled} doubled; notifications {outcomes}; {len(spool_paths())} files left"
    )


def main() -> None:
    wrk, paths = run.prepare()
    from fulfillment.services.replay import spool_drain
    from fulfillment.services.spool import spool_paths

    target = charged(paths)
    query_string = paths["funded"].partition("?")[2]
    print(f"{os.cpu_count()} cores; database {run.DATABASE_URL}; spool {SPOOL}", flush=True)
    try:
        # 1. live
        server = Server()
        server.start()
        try:
            run.run_wrk(wrk, target, CLIENTS, 9_000_000_000_000, seconds=2)
            time.sleep(1)
            live = run.run_wrk(wrk, target, CLIENTS, 1_000_000_000, seconds=SECONDS)
        finally:
            server.stop()
        print(
            f"\nlive, database up:   {live.rps:6.0f} req/s  p50 {live.p50:6.1f} ms  "
            f"p99 {live.p99:6.1f} ms  {live.bad or 'all 2xx'}",
            flush=True,
        )

        # 2. down: a burst while the database does not answer (a closed port)
        os.environ["DATABASE_URL"] = CLOSED_PORT_URL
        os.environ["NOTIFY_SPOOL_DIR"] = str(SPOOL / "down")
        # Room for the whole burst: at ~500 answers/s it passes the default 10,000-file cap
        # in 20 s, and the refusals past the cap would be measured instead of the spool.
        os.environ["NOTIFY_SPOOL_MAX_FILES"] = str(BURST_MAX_FILES)
        server = Server()
        server.start()
        try:
            run.run_wrk(wrk, target, CLIENTS, 9_100_000_000_000, seconds=2)
            time.sleep(1)
            (SPOOL / "down").mkdir(exist_ok=True)
            before = len(os.listdir(SPOOL / "down"))
            down = run.run_wrk(wrk, target, CLIENTS, 2_000_000_000, seconds=SECONDS)
            time.sleep(1)
            files = len(os.listdir(SPOOL / "down")) - before
        finally:
            server.stop()
            os.environ["DATABASE_URL"] = run.DATABASE_URL
            os.environ["NOTIFY_SPOOL_DIR"] = str(SPOOL / "spool")
            del os.environ["NOTIFY_SPOOL_MAX_FILES"]
        print(
            f"burst, database down: {down.rps:6.0f} req/s  p50 {down.p50:6.1f} ms  "
            f"p99 {down.p99:6.1f} ms  {down.bad or 'all 2xx'}; {files:,d} bodies spooled "
            f"({down.requests:,d} answers counted by wrk); down/up {down.rps / live.rps:.2f}×",
            flush=True,
        )
        shutil.rmtree(SPOOL / "down")  # bodies of a bench publisher on a database that is gone

        # 3. spool, 4. replay in this process
        first = 3_000_000_000
        print(f"\nspooling {BODIES:,d} charged bodies (spool_write):", flush=True)
        took = spool_bodies(query_string, first, BODIES)
        print(f"  {BODIES / took:,.0f} files/s overall", flush=True)
        from django.conf import settings

        threads = settings.NOTIFY_SPOOL_REPLAY_THREADS
        processes = settings.NOTIFY_SPOOL_REPLAY_PROCESSES
        started = time.monotonic()
        # As the worker and `notify_spool --replay` call it (helpers' start included).
        left = spool_drain(threads=threads, processes=processes)
        took = time.monotonic() - started
        print(
            f"replay, spool_drain({threads} threads, up to {processes} processes) by the worker "
            f"or the command: {BODIES:,d} bodies in {took:.1f} s = "
            f"{BODIES / took:,.0f} bodies/s; {left} left; "
            f"replay/live {BODIES / took / live.rps:.2f}×",
            flush=True,
        )
        print(f"  database check: {database_check(first, BODIES)}", flush=True)

        # 5. replay by the web server's workers at boot
        first = 4_000_000_000
        print(f"\nspooling {SERVER_BODIES:,d} more; gunicorn starts and replays them:", flush=True)
        spool_bodies(query_string, first, SERVER_BODIES)
        server = Server()
        started = time.monotonic()
        server.start()
        try:
            while spool_paths() and time.monotonic() - started < 1200:
                time.sleep(0.5)
            took = time.monotonic() - started
            time.sleep(1)
        finally:
            server.stop()
        print(
            f"replay by gunicorn's workers: {SERVER_BODIES:,d} bodies in {took:.1f} s (boot "
            f"included) = {SERVER_BODIES / took:,.0f} bodies/s; "
            f"replay/live {SERVER_BODIES / took / live.rps:.2f}×",
            flush=True,
        )
        print(f"  database check: {database_check(first, SERVER_BODIES)}", flush=True)
    finally:
        shutil.rmtree(SPOOL, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
