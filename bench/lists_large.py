"""Benchmark (prints figures; not a test): the order lists at 1,000,000 orders (issue 21).

Times, in-process through Django's test client (best of 3), the admin order list of the
publisher "Bench Press" (100,000 of the orders) searched by name, e-mail, SamCart order id,
product id and part of an order id, and staff's list of all orders, on the large database of
`make bench` (`bench/large.py`). Creates the database and loads it first when they are not
there. Run `make bench-lists`, or:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/trepstar_bench_lists \\
        .venv/bin/python bench/lists_large.py
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trepstar.settings")
os.environ.setdefault("DEBUG", "1")
os.environ["ALLOWED_HOSTS"] = "testserver,127.0.0.1,localhost"

LIST = "/admin/fulfillment/order/"
# (page, who, query string): who is "publisher" (Bench Press's login) or "staff".
PAGES = (
    ("list", "publisher", ""),
    ("search name, every order (Okafor)", "publisher", "?q=Okafor"),
    ('search name ("Okafor 4242")', "publisher", "?q=%22Okafor+4242%22"),
    ("search e-mail (r4242@example.com)", "publisher", "?q=r4242%40example.com"),
    ("search SamCart order id (10004242)", "publisher", "?q=10004242"),
    ("search part of an order id (0004242)", "publisher", "?q=0004242"),
    ("search product id (279814)", "publisher", "?q=279814"),
    ("list of all orders", "staff", ""),
    ("list ?status=hold", "staff", "?status__exact=hold"),
    ("search SamCart order id (10004242)", "staff", "?q=10004242"),
    ("search e-mail (r4242@example.com)", "staff", "?q=r4242%40example.com"),
)


def logins() -> dict[str, object]:
    """Return Bench Press's login and a staff login (made once)."""
    from django.contrib.auth import get_user_model

    from fulfillment.models import Publisher
    from fulfillment.services.accounts import publisher_user_create, staff_user_create

    press = Publisher.objects.get(name="Bench Press")
    password = "Bench-" + str(time.time_ns())
    users = get_user_model().objects
    user = users.filter(username="bench-press").first() or publisher_user_create(
        publisher=press, username="bench-press", password=password
    )
    staff = users.filter(username="bench-staff").first() or staff_user_create(
        username="bench-staff", password=password
    )
    return {"publisher": user, "staff": staff}


def print_large_lists() -> None:
    """Print the table: page, who, queries, best of 3 in ms, and the count line it shows."""
    import re

    from django.test import Client

    from bench.scoped_lists import measure

    print("\n### Order lists at 1,000,000 orders (in-process, best of 3)\n")
    print("| page | who | queries | ms | the list says |")
    print("|---|---|---|---|---|")
    clients = {}
    for who, login in logins().items():
        clients[who] = Client()
        clients[who].force_login(login)
    for name, who, query in PAGES:
        queries, best, status = measure(clients[who], LIST + query)
        page = clients[who].get(LIST + query).content.decode()
        said = re.search(r'id="result-count">([^<]*)<', page)
        flag = "" if status == 200 else f" (HTTP {status})"
        says = " ".join(said.group(1).split()) if said else "?"
        print(f"| {name}{flag} | {who} | {queries} | {best:.0f} | {says} |")


def _create_database_if_missing() -> None:
    """Create the (PostgreSQL) database DATABASE_URL names when the server does not have it,
    so `make bench-lists` runs on a fresh machine; it is kept afterwards (the load is slow)."""
    import psycopg
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    params = connection.get_connection_params()
    name = params.pop("dbname")
    params.pop("context", None)  # Django's adapters, not a libpq parameter
    params.pop("cursor_factory", None)
    with psycopg.connect(**params, dbname="postgres", autocommit=True) as server:
        if not server.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            server.execute(f'CREATE DATABASE "{name}"')
            print(f"Created database {name}")


def main() -> None:
    """Migrate, load the large database when absent, print the figures."""
    import django

    django.setup()
    from django.core.management import call_command

    from fulfillment.models import Publisher

    _create_database_if_missing()
    call_command("migrate", verbosity=0)
    if not Publisher.objects.filter(name="Bench Press").exists():
        from bench.large import load

        started = time.monotonic()
        load()
        print(f"Large database loaded in {time.monotonic() - started:.0f} s")
    print(f"load average {os.getloadavg()[0]:.2f} (2 cores)")
    print_large_lists()


if __name__ == "__main__":
    main()
