"""Benchmark (prints figures; not a test): one SamCart check of 10,000 SamCart orders.

Serves N SamCart orders (default 10,000, one line each) from the stand-in over real HTTP on
loopback and times, in-process, a daily check of a publisher that received them all, then of
one that misses 1% (the check reads each missing sale's customer and orders it, on hold for
review). Beside them, the bare listing of the same pages with the client alone, no database:
the part of the time that is SamCart's (here the stand-in's) and HTTP's.

Use a throw-away PostgreSQL database (each run adds two publishers and their orders):

    createdb -h 127.0.0.1 -U postgres trepstar_bench_check
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/trepstar_bench_check \\
        .venv/bin/python bench/samcart_check.py --orders 10000
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trepstar.settings")
os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from fulfillment.models import (  # noqa: E402
    HoldReason,
    Order,
    OrderLine,
    OrderStatus,
    Project,
    Publisher,
    RunKind,
    SamcartCheckRun,
)
from fulfillment.samcart_api import SamcartClient  # noqa: E402
from fulfillment.samcart_api.standin import StandinServer  # noqa: E402
from fulfillment.samcart_api.standin_data import (  # noqa: E402
    standin_customer,
    standin_data,
    standin_order,
)
from fulfillment.services.projects import project_create  # noqa: E402
from fulfillment.services.publishers import publisher_create  # noqa: E402
from fulfillment.services.samcart_check import samcart_check_run  # noqa: E402
from fulfillment.services.samcart_keys import publisher_set_samcart_key  # noqa: E402

KEY = "bench-samcart-key-0123456789"
PRODUCT = "279813"
FIRST_ID = 40_000_000


def sales(count: int) -> dict:
    """The stand-in's document: `count` paid orders of the last two days, with customers."""
    start = datetime.now(UTC) - timedelta(days=2)
    step = timedelta(days=2) / count
    orders = [
        standin_order(FIRST_ID + n, int(PRODUCT), order_date=start + n * step) for n in range(count)
    ]
    customers = [standin_customer(o["customer_id"]) for o in orders]
    return standin_data(api_key=KEY, orders=orders, customers=customers)


def publisher_with(received: Iterable[int], label: str) -> Publisher:
    """A new funded-nothing publisher with a key, the project, and our orders of `received`."""
    publisher = publisher_create(
        name=f"SamCart bench {label} {time.time_ns()}", email="b@x.example"
    )
    publisher_set_samcart_key(publisher=publisher, key=KEY, actor=None)
    project: Project = project_create(
        publisher=publisher,
        title="Almanac",
        ecommerce_id_string=PRODUCT,
        unit_cost=Decimal("6.50"),
        shipping_cost=Decimal("4.95"),
        is_active=True,
        prices_confirmed=True,
    )
    boxes = Order.objects.bulk_create(
        (
            Order(
                publisher=publisher,
                external_order_id=str(FIRST_ID + n),
                cost=project.unit_cost + project.shipping_cost,
                status=OrderStatus.HOLD,
                hold_reason=HoldReason.PAYMENT_REQUIRED,
            )
            for n in received
        ),
        batch_size=2000,
    )
    OrderLine.objects.bulk_create(
        (
            OrderLine(
                order=box,
                publisher=publisher,
                project=project,
                external_order_id=box.external_order_id,
                external_product_id=PRODUCT,
                unit_cost=project.unit_cost,
                shipping_cost=project.shipping_cost,
            )
            for box in boxes
        ),
        batch_size=2000,
    )
    return publisher


def timed_check(publisher: Publisher, base_url: str) -> tuple[SamcartCheckRun, float, int]:
    """Run a daily check; return its run, its seconds and its SQL statements."""
    client = SamcartClient(api_key=KEY, base_url=base_url, timeout=30)
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        run = samcart_check_run(publisher=publisher, kind=RunKind.DAILY, client=client)
        seconds = time.perf_counter() - started
    assert run is not None
    return run, seconds, len(queries.captured_queries)


def listing_only(base_url: str) -> tuple[float, int]:
    """Read every page with the client alone; return its seconds and pages."""
    client = SamcartClient(api_key=KEY, base_url=base_url, timeout=30)
    now = datetime.now(UTC)
    started = time.perf_counter()
    pages = sum(1 for _ in client.order_pages(created_min=now - timedelta(days=7), created_max=now))
    return time.perf_counter() - started, pages


def main() -> None:
    """Load, time and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000)
    count = parser.parse_args().orders
    call_command("migrate", verbosity=0)
    with StandinServer(sales(count)) as server:
        rows = [("listing only (client, no database)", *listing_only(server.base_url), "", "")]
        for label, received in (
            ("all received", range(count)),
            ("1% missing", [n for n in range(count) if n % 100 != 50]),
        ):
            publisher = publisher_with(received, label)
            run, seconds, statements = timed_check(publisher, server.base_url)
            rows.append((f"check, {label}", seconds, run.pages, run.created, statements))
    print(f"SamCart check of {count:,} SamCart orders (stand-in on loopback, {connection.vendor})")
    print(f"{'':38} {'seconds':>8} {'orders/s':>9} {'pages':>6} {'created':>8} {'SQL':>6}")
    for label, seconds, pages, created, statements in rows:
        rate = count / seconds
        print(f"{label:38} {seconds:8.2f} {rate:9,.0f} {pages:6} {created!s:>8} {statements!s:>6}")


if __name__ == "__main__":
    main()
