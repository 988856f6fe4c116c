"""Benchmark (prints figures; not a test): the lists of a publisher with many orders.

Loads one publisher with N orders (default 100,000) into the database of DATABASE_URL (use a
throw-away PostgreSQL database), then times, in-process through Django's test client, the
admin order changelist (plain, filtered by status, searched), the account page and the API order
list, for the publisher's login and for staff: queries and server time, best of 3.

    createdb trepstar_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/trepstar_bench \
        .venv/bin/python bench/scoped_lists.py --orders 100000
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trepstar.settings")
os.environ.setdefault("DEBUG", "1")
os.environ["ALLOWED_HOSTS"] = "testserver,127.0.0.1,localhost"

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, reset_queries  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from fulfillment.models import Order, OrderStatus, Project, Publisher  # noqa: E402
from fulfillment.services.accounts import publisher_user_create, staff_user_create  # noqa: E402
from fulfillment.services.publishers import publisher_create  # noqa: E402

PASSWORD = secrets.token_urlsafe(16)  # throw-away logins; force_login is used
PAGES = {
    "changelist": "/admin/fulfillment/order/",
    "changelist ?status=hold": "/admin/fulfillment/order/?status__exact=hold",
    "changelist ?q=": "/admin/fulfillment/order/?q=Okafor",
    "account page": "/account/",
    "API orders": "/api/v1/orders/",
}


def load(orders: int) -> Publisher:
    """Create the publisher, its project and `orders` orders (bulk), once."""
    existing = Publisher.objects.filter(name="Bench Press").first()
    if existing is not None and Order.objects.filter(publisher=existing).count() >= orders:
        return existing
    publisher = existing or publisher_create(name="Bench Press", email="bench@example.com")
    project = Project.objects.filter(publisher=publisher).first() or Project.objects.create(
        publisher=publisher,
        title="Almanac",
        ecommerce_id_string="279813",
        prices_confirmed=True,
        unit_cost="6.50",
        shipping_cost="4.95",
    )
    batch = []
    for n in range(Order.objects.filter(publisher=publisher).count(), orders):
        held = n % 10 == 0
        batch.append(
            Order(
                publisher=publisher,
                project=project,
                external_order_id=str(10_000_000 + n),
                external_product_id="279813",
                quantity=1,
                cost="11.45",
                status=OrderStatus.HOLD if held else OrderStatus.IN_PRODUCTION,
                hold_reason="payment_required" if held else "",
                ship_name=f"Rosalind Okafor {n}",
                customer_email=f"r{n}@example.com",
                ship_street="1 Road",
                ship_city="Springfield",
                ship_postal_code="62701",
                ship_country="United States",
                ship_country_code="US",
            )
        )
        if len(batch) == 5_000:
            Order.objects.bulk_create(batch)
            batch = []
    Order.objects.bulk_create(batch)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # fresh statistics after a bulk load, as autovacuum would
    return publisher


def measure(client: Client, url: str) -> tuple[int, float, int]:
    """Return (queries, best server time in ms of 3, status)."""
    best, queries, status = float("inf"), 0, 0
    for _ in range(3):
        reset_queries()
        with CaptureQueriesContext(connection) as captured:
            start = time.perf_counter()
            response = client.get(url)
            elapsed = (time.perf_counter() - start) * 1000
        best, queries, status = min(best, elapsed), len(captured), response.status_code
    return queries, best, status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=100_000)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    publisher = load(args.orders)
    user = publisher.users.first() or publisher_user_create(
        publisher=publisher, username="bench-pub", password=PASSWORD
    )
    staff = staff_user_create(username=f"bench-staff-{time.time_ns()}", password=PASSWORD)
    print(f"{connection.vendor}, {Order.objects.filter(publisher=publisher).count():,} orders")
    print(f"{'page':28} {'who':10} {'queries':>7} {'ms':>8}")
    for who, login in (("publisher", user), ("staff", staff)):
        client = Client()
        client.force_login(login)
        for name, url in PAGES.items():
            if who == "staff" and url == "/account/":
                url = f"/account/?publisher={publisher.idpub}"
            queries, ms, status = measure(client, url)
            print(
                f"{name:28} {who:10} {queries:7d} {ms:8.1f}"
                + ("" if status == 200 else f"  HTTP {status}")
            )


if __name__ == "__main__":
    main()
