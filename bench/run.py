"""`make bench`: the Notify URL under load, side by side with its references (prints a table).

On a throw-away PostgreSQL database (BENCH_DATABASE_URL, default `trepstar_bench` on the local
server; dropped and created again), this serves the app under gunicorn with the production
settings and the shipped `gunicorn.conf.py` (plus two bench-only reference views), drives it
with wrk from a separate process, and prints:

1. Notify throughput and latency (p50, p99) at 1, 8 and 32 clients for charged, hold and
   no_match notifications with one and three products, next to a fixed-JSON view and an
   insert-one-row view measured in the same rounds; each as a ratio to insert-one-row.
2. The same at 8 clients on a large database (1,000 publishers, 100,000 projects, 1,000,000
   orders, 1,000,000 notifications): large/empty ratios.
3. SQL statements per notification, and the queries and server time of a publisher's lists
   with 100,000 orders.

A benchmark, not a test: it asserts nothing, but flags a run whose answers were not the
expected outcome. BENCH_SECONDS (5), BENCH_ROUNDS (2), BENCH_CLIENTS (1,8,32) and
WEB_CONCURRENCY tune it; `--skip-large` stops after part 1.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/trepstar_bench"
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
PORT = int(os.environ.get("BENCH_PORT", "8765"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
CLIENTS = tuple(int(c) for c in os.environ.get("BENCH_CLIENTS", "1,8,32").split(","))
LARGE_CLIENTS = 8
TRANSACTION_CONTROL = {"BEGIN", "COMMIT", "ROLLBACK"}
ONE, THREE = "900001", "900001,900002,900003"
UNKNOWN_ONE, UNKNOWN_THREE = "800001", "800001,800002,800003"
BUMP = "900002"  # the order bump: a second POST of the same SamCart order, another product

os.environ.update(
    DJANGO_SETTINGS_MODULE="bench.settings",
    DATABASE_URL=DATABASE_URL,
    DEBUG="0",
    SECRET_KEY=secrets.token_urlsafe(50),
    ALLOWED_HOSTS="127.0.0.1,testserver",
    SECURE_SSL_REDIRECT="0",  # plain HTTP on loopback; TLS ends at the proxy in production
    CACHE_URL=os.environ.get("BENCH_CACHE_URL", "redis://127.0.0.1:6379/15"),
    LOG_LEVEL="WARNING",
)
sys.path.insert(0, str(ROOT))


@dataclass(frozen=True)
class Target:
    """One thing to load: a URL, the products in the body, the outcome every answer must be."""

    name: str
    path: str
    products: str = ONE
    outcome: str = ""  # "created", "no_match"; "" for the references
    status: str = ""  # the status the new orders must have
    # An order bump: before the measured run, first POSTs of these products for the same order
    # ids (unmeasured); each measured POST then adds its product to that box.
    seed: str = ""
    lines: int = 0  # the lines every box the run touched must hold (0: not checked)


@dataclass(frozen=True)
class Figure:
    """What wrk measured for one target in one round."""

    rps: float
    p50: float  # ms
    p99: float  # ms
    bad: str = ""  # why the run does not count ("" when every answer was the expected one)
    requests: int = 0  # answers wrk received


def recreate_database() -> None:
    """Drop and create the bench database (its name must say bench: it is thrown away)."""
    import psycopg

    url = urlparse(DATABASE_URL)
    name = url.path.lstrip("/")
    if "bench" not in name:
        sys.exit(f"BENCH_DATABASE_URL must name a throw-away database with 'bench' in it: {name}")
    admin = urlunparse(url._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def wrk_path() -> str:
    """Return wrk's path; install Debian's package when it is missing (root or sudo)."""
    found = shutil.which("wrk")
    if found:
        return found
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    print("wrk is missing: installing Debian's package …", flush=True)
    subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", "wrk"], check=True)
    return shutil.which("wrk") or sys.exit("wrk could not be installed")


class Server:
    """gunicorn with the shipped configuration, on BENCH_PORT, for the bench settings."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self.log = open(ROOT / "bench" / "gunicorn.log", "wb")  # noqa: SIM115

    def start(self) -> None:
        env = dict(os.environ, BIND=f"127.0.0.1:{PORT}", GUNICORN_LOG_LEVEL="warning")
        self.process = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py")],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", PORT), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.2)
        sys.exit(f"gunicorn did not start; see {self.log.name}")

    def stop(self) -> None:
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
            self.process = None


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(
    wrk: str,
    target: Target,
    clients: int,
    base: int,
    seconds: int = SECONDS,
    *,
    mix: str = "",
    products: str = "",
) -> Figure:
    """Load `target` for `seconds` with `clients` connections and return what wrk measured.

    `mix="flash"` mixes resends and unknown products in (`bench/notify.lua`); `products`
    replaces the target's (the first POSTs an order bump joins).
    """
    env = dict(
        os.environ,
        PRODUCTS=products or target.products,
        UNKNOWN=UNKNOWN_ONE,
        BASE=str(base),
        MIX=mix,
    )
    command = [wrk, "-t1", f"-c{clients}", f"-d{seconds}s", "--latency", "-s"]
    command += [str(ROOT / "bench" / "notify.lua"), f"http://127.0.0.1:{PORT}{target.path}"]
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"\s50%\s+([\d.]+)(us|ms|s)", out)
    p99 = re.search(r"\s99%\s+([\d.]+)(us|ms|s)", out)
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    bad = f"{failed.group(1)} non-2xx answers" if failed else ""
    bad += f" socket errors: {errors.group(1)}" if errors else ""
    done = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return Figure(rps, _ms(*p50.groups()), _ms(*p99.groups()), bad.strip(), done)  # type: ignore[union-attr]


def check_outcomes(target: Target, since: int) -> str:
    """Return why the notifications stored since `since` are not all as expected ("" if so)."""
    from django.db.models import Count

    from fulfillment.models import Notification, Order, OrderLine

    if not target.outcome:
        return ""
    outcomes = dict(
        Notification.objects.filter(pk__gt=since)
        .values_list("outcome")
        .annotate(n=Count("id"))
        .values_list("outcome", "n")
    )
    wrong = {k: v for k, v in outcomes.items() if k != target.outcome}
    if wrong:
        return f"unexpected outcomes {wrong}"
    # The boxes the run's lines are in (a bump's box was made by its unmeasured first POST).
    new_lines = OrderLine.objects.filter(notification_id__gt=since).values("order_id")
    boxes = Order.objects.filter(pk__in=new_lines)
    if target.status:
        statuses = set(boxes.values_list("status", flat=True))
        if statuses - {target.status}:
            return f"orders in {sorted(statuses)}"
    if target.lines:
        counts = set(boxes.annotate(n=Count("lines")).values_list("box_number", "n").distinct()[:5])
        if counts != {(1, target.lines)}:
            return f"(box number, lines) {sorted(counts)}, not (1, {target.lines})"
    return ""


def last_notification() -> int:
    from fulfillment.models import Notification

    return Notification.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def seed() -> dict[str, str]:
    """Create the funded and the unfunded publisher with three projects each; return URLs."""
    from decimal import Decimal

    from fulfillment.services.deposits import deposit_record
    from fulfillment.services.projects import project_create
    from fulfillment.services.publishers import publisher_create

    paths = {}
    for name in ("funded", "zero"):
        publisher = publisher_create(name=f"Bench {name}", email=f"{name}@bench.example")
        for product in THREE.split(","):
            project_create(
                publisher=publisher,
                title=f"Bench {product}",
                ecommerce_id_string=product,
                unit_cost=Decimal("6.50"),
                shipping_cost=Decimal("4.95"),
                prices_confirmed=True,
            )
        if name == "funded":
            deposit_record(publisher=publisher, amount=Decimal("9000000000.00"), actor=None)
        paths[name] = f"/samcart/notify/?idpub={publisher.idpub}&key={publisher.notify_key}"
    from django.db import connection

    from bench.views import CREATE_TABLE

    with connection.cursor() as cursor:
        cursor.execute(CREATE_TABLE)
    return paths


def targets(paths: dict[str, str]) -> list[Target]:
    funded, zero = paths["funded"], paths["zero"]
    return [
        Target("fixed JSON view", "/bench/fixed/"),
        Target("insert one row", "/bench/insert/"),
        # Charged boxes wait `scheduled` for the rest of their cart order (grouping, §18).
        Target("notify charged, 1 product", funded, ONE, "created", "scheduled", lines=1),
        Target("notify charged, 3 products", funded, THREE, "created", "scheduled", lines=3),
        Target("notify order bump (joins)", funded, BUMP, "created", "scheduled", ONE, 2),
        Target("notify hold, 1 product", zero, ONE, "created", "hold"),
        Target("notify hold, 3 products", zero, THREE, "created", "hold"),
        Target("notify no_match, 1 product", funded, UNKNOWN_ONE, "no_match"),
        Target("notify no_match, 3 products", funded, UNKNOWN_THREE, "no_match"),
    ]


def measure(
    wrk: str, all_targets: list[Target], clients: tuple[int, ...], first_base: int
) -> dict[tuple[str, int], list[Figure]]:
    """Run every target at every client count, ROUNDS times interleaved; keep every figure."""
    figures: dict[tuple[str, int], list[Figure]] = {}
    base = first_base
    for round_no in range(ROUNDS):
        for count in clients:
            for target in all_targets:
                if target.seed:  # the first POSTs the bumps join (2x as long: enough of them)
                    run_wrk(wrk, target, count, base, 2 * SECONDS, products=target.seed)
                    time.sleep(1)  # the first POSTs wrk cut off finish before `since`
                since = last_notification()
                figure = run_wrk(wrk, target, count, base)
                base += 10_000_000_000
                time.sleep(1)  # let the requests wrk cut off finish before counting outcomes
                why = figure.bad or check_outcomes(target, since)
                figure = Figure(figure.rps, figure.p50, figure.p99, why, figure.requests)
                figures.setdefault((target.name, count), []).append(figure)
                print(
                    f"  round {round_no + 1}, {count:2d} clients, {target.name:30} "
                    f"{figure.rps:8.0f} req/s  p50 {figure.p50:6.1f} ms  p99 {figure.p99:6.1f} ms"
                    + (f"  !! {why}" if why else ""),
                    flush=True,
                )
    return figures


def warm_up(wrk: str, all_targets: list[Target]) -> None:
    """Load each target briefly, unmeasured: workers import, connect and fill their caches."""
    for n, target in enumerate(all_targets):
        run_wrk(wrk, target, 8, 9_000_000_000_000 + n * 10_000_000_000, seconds=1)
    time.sleep(1)


def median(figures: list[Figure]) -> Figure:
    """The median of each figure over the rounds (a flagged round flags the result)."""
    bad = "; ".join(sorted({f.bad for f in figures if f.bad}))
    return Figure(
        statistics.median(f.rps for f in figures),
        statistics.median(f.p50 for f in figures),
        statistics.median(f.p99 for f in figures),
        bad,
    )


def print_table(
    title: str, all_targets: list[Target], figures: dict, clients: tuple[int, ...]
) -> None:
    print(f"\n### {title}\n")
    print("| clients | target | req/s | vs insert-one-row | p50 ms | p99 ms |")
    print("|---|---|---|---|---|---|")
    for count in clients:
        reference = median(figures[("insert one row", count)]).rps
        for target in all_targets:
            figure = median(figures[(target.name, count)])
            flag = f" ⚠ {figure.bad}" if figure.bad else ""
            print(
                f"| {count} | {target.name}{flag} | {figure.rps:,.0f} | "
                f"{figure.rps / reference:.3f}× | {figure.p50:.1f} | {figure.p99:.1f} |"
            )


def statement_counts(paths: dict[str, str]) -> None:
    """Post one notification of each kind in-process and count its SQL statements."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    print("\n### SQL statements per notification (BEGIN/COMMIT not counted)\n")
    print("| notification | statements | outcome |")
    print("|---|---|---|")
    client = Client()
    for n, (name, path, products) in enumerate(
        [
            ("charged, 1 product", paths["funded"], ONE),
            ("charged, 3 products", paths["funded"], THREE),
            ("hold, 1 product", paths["zero"], ONE),
            ("hold, 3 products", paths["zero"], THREE),
            ("no_match, 1 product", paths["funded"], UNKNOWN_ONE),
            ("no_match, 3 products", paths["funded"], UNKNOWN_THREE),
        ]
    ):
        body = notify_body(products.split(","), order_id=990_000_000 + n)
        with CaptureQueriesContext(connection) as captured:
            response = client.post(path, body, content_type="application/json")
        statements = [
            q["sql"] for q in captured.captured_queries if q["sql"] not in TRANSACTION_CONTROL
        ]
        print(f"| {name} | {len(statements)} | {response.json()['outcome']} |")
    first = notify_body([ONE], order_id=990_000_100)
    client.post(paths["funded"], first, content_type="application/json")
    bump = notify_body([BUMP], order_id=990_000_100)
    with CaptureQueriesContext(connection) as captured:
        response = client.post(paths["funded"], bump, content_type="application/json")
    statements = [q for q in captured.captured_queries if q["sql"] not in TRANSACTION_CONTROL]
    print(f"| order bump (joins the box) | {len(statements)} | {response.json()['outcome']} |")


def notify_body(products: list[str], *, order_id: int) -> bytes:
    """The body notify.lua sends, for the in-process counts."""
    import json

    return json.dumps(
        {
            "type": "Order",
            "products": [{"id": int(p), "name": "Bench", "quantity": 1} for p in products],
            "customer": {"first_name": "Ben", "last_name": "Ch", "email": "bench@example.com"},
            "order": {
                "id": order_id,
                "shipping_address": "1 Main St",
                "shipping_city": "Austin",
                "shipping_state": "TX",
                "shipping_zip": "78745",
                "shipping_country": "United States",
            },
        }
    ).encode()


def load_large() -> None:
    """Fill the database to 1,000 publishers, 100,000 projects, 1,000,000 orders and notifications.

    One publisher ("Bench Press") holds 100,000 of the orders, for the list figures.
    """
    from bench.large import load

    started = time.monotonic()
    load()
    print(f"\nLarge database loaded in {time.monotonic() - started:.0f} s", flush=True)


def prepare() -> tuple[str, dict[str, str]]:
    """Fresh database, migrated and seeded; return wrk's path and the Notify URLs."""
    wrk = wrk_path()
    recreate_database()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("collectstatic", verbosity=0, interactive=False)
    return wrk, seed()


def main() -> None:
    from bench.flash_sale import flash_sale

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-large", action="store_true")
    parser.add_argument("--skip-flash", action="store_true")
    args = parser.parse_args()
    wrk, paths = prepare()
    all_targets = targets(paths)
    server = Server()
    print(f"{os.cpu_count()} cores; {SECONDS} s per run, {ROUNDS} rounds; database {DATABASE_URL}")
    try:
        server.start()
        warm_up(wrk, all_targets)
        print("\nEmpty database:", flush=True)
        empty = measure(wrk, all_targets, CLIENTS, 1_000_000_000)
        print_table("Notify URL, empty database", all_targets, empty, CLIENTS)
        if not args.skip_flash:
            flash_sale(wrk, paths, ROUNDS)  # issue 21, target 2
        statement_counts(paths)
        large = None
        if not args.skip_large:
            server.stop()
            load_large()
            server.start()
            warm_up(wrk, all_targets)
            print("\nLarge database:", flush=True)
            large = measure(wrk, all_targets, (LARGE_CLIENTS,), 5_000_000_000_000)
    finally:
        server.stop()
    if large is not None:
        print_table("Notify URL, large database", all_targets, large, (LARGE_CLIENTS,))
        print(f"\n### Large / empty at {LARGE_CLIENTS} clients\n")
        print("| target | p50 large/empty | req/s large/empty |")
        print("|---|---|---|")
        for target in all_targets:
            small = median(empty[(target.name, LARGE_CLIENTS)])
            big = median(large[(target.name, LARGE_CLIENTS)])
            print(f"| {target.name} | {big.p50 / small.p50:.2f} | {big.rps / small.rps:.2f} |")
        from bench.large import print_lists
        from bench.lists_large import print_large_lists

        print_lists()
        print_large_lists()  # issue 21: searched and staff lists at 1,000,000 orders


if __name__ == "__main__":
    main()
