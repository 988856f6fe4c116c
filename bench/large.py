"""The large database of `make bench` (PostgreSQL, set-based SQL) and the list figures on it.

1,000 publishers, 100,000 projects (every tenth also lists the bench's SamCart id 900001, as
other publishers selling the same product would), 1,000,000 orders (100,000 of them of the
publisher "Bench Press") and 1,000,000 notifications.
"""

from __future__ import annotations

import re
import time
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Model

from fulfillment.models import Order, Publisher
from fulfillment.services.accounts import publisher_user_create, staff_user_create
from fulfillment.services.projects import project_create
from fulfillment.services.publishers import publisher_create

PUBLISHERS, PROJECTS, PRESS_ORDERS = 1_000, 100_000, 100_000
ORDERS = NOTIFICATIONS = 1_000_000

FILLERS = """
CREATE TEMP TABLE filler_publisher AS
SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM fulfillment_publisher
WHERE name LIKE 'Filler %%';
"""
LOAD = [
    # Publishers (with the three bench publishers: 1,000).
    """
    INSERT INTO fulfillment_publisher (idpub, name, email, balance, notify_key,
        previous_notify_key, require_notify_key, auto_release, use_billing_address, created_at
        {publisher_columns})
    SELECT (20000000 + g)::text, 'Filler ' || g, 'filler' || g || '@bench.example', 100.00,
        md5(g::text), '', true, false, false, now() {publisher_values}
    FROM generate_series(1, %(fillers)s) g
    """,
    FILLERS,
    # Projects, each indexed by its own SamCart id; every tenth also lists 900001.
    """
    INSERT INTO fulfillment_project (title, ecommerce_id_string, unit_cost, shipping_cost,
        is_active, created_at, updated_at, publisher_id, prices_confirmed)
    SELECT 'Filler ' || g,
        '{' || (100000000 + g) || '}' || CASE WHEN g %% 10 = 0 THEN '{900001}' ELSE '' END,
        6.50, 4.95, true, now(), now(), p.id, true
    FROM generate_series(1, %(projects)s) g JOIN filler_publisher p ON p.n = g %% %(fillers)s
    """,
    """
    CREATE TEMP TABLE filler_project AS
    SELECT id, publisher_id, row_number() OVER (ORDER BY id) - 1 AS n,
        substring(title from 8)::int AS k
    FROM fulfillment_project WHERE title LIKE 'Filler %%'
    """,
    """
    INSERT INTO fulfillment_projectcartid (external_id, project_id, publisher_id)
    SELECT (100000000 + k)::text, id, publisher_id FROM filler_project
    UNION ALL
    SELECT '900001', id, publisher_id FROM filler_project WHERE k %% 10 = 0
    """,
    # Notifications of the fillers.
    """
    INSERT INTO fulfillment_notification (received_at, remote_addr, content_type, raw_body,
        body_size, body_truncated, idpub_given, is_test, event_type, external_order_id,
        outcome, detail, http_status, processed_at, attempts, publisher_id)
    SELECT now() - g * interval '1 second', '203.0.113.24', 'application/json',
        convert_to('{"type":"Order","order":{"id":' || g || '}}', 'UTF8'), 40, false,
        (20000000 + p.n + 1)::text, false, 'Order', g::text, 'created', 'Created.', 200,
        now() - g * interval '1 second', 1, p.id
    FROM generate_series(1, %(notifications)s) g JOIN filler_publisher p
        ON p.n = g %% %(fillers)s
    """,
    # Orders (boxes): the fillers' first, then Bench Press's; every fifth box holds two lines.
    """
    INSERT INTO fulfillment_order (source, external_order_id, ship_name, ship_street,
        ship_city, ship_state, ship_postal_code, ship_country, ship_country_code,
        customer_email, customer_phone, cost, status, hold_reason, is_test, cart_refunded,
        tracking_number, carrier, charged_at, created_at, updated_at, publisher_id
        {order_columns})
    SELECT 'samcart', g::text, 'Reader ' || g, '1 Road', 'Springfield', 'IL', '62701',
        'United States', 'US', 'r' || g || '@example.com', '',
        CASE WHEN g %% 5 = 0 THEN 17.95 ELSE 11.45 END,
        CASE WHEN g %% 10 = 0 THEN 'hold' ELSE 'in_production' END,
        CASE WHEN g %% 10 = 0 THEN 'payment_required' ELSE '' END, false, false, '', '',
        CASE WHEN g %% 10 = 0 THEN NULL ELSE now() END, now() - g * interval '1 second',
        now(), p.publisher_id {order_values}
    FROM generate_series(1, %(filler_orders)s) g JOIN filler_project p ON p.n = g %% %(projects)s
    """,
    """
    INSERT INTO fulfillment_order (source, external_order_id, ship_name, ship_street,
        ship_city, ship_state, ship_postal_code, ship_country, ship_country_code,
        customer_email, customer_phone, cost, status, hold_reason, is_test, cart_refunded,
        tracking_number, carrier, charged_at, created_at, updated_at, publisher_id
        {order_columns})
    SELECT 'samcart', (10000000 + g)::text, 'Rosalind Okafor ' || g, '1 Road', 'Springfield',
        'IL', '62701', 'United States', 'US', 'r' || g || '@example.com', '',
        CASE WHEN g %% 5 = 0 THEN 17.95 ELSE 11.45 END,
        CASE WHEN g %% 10 = 0 THEN 'hold' ELSE 'in_production' END,
        CASE WHEN g %% 10 = 0 THEN 'payment_required' ELSE '' END, false, false, '', '',
        CASE WHEN g %% 10 = 0 THEN NULL ELSE now() END, now() - g * interval '1 second',
        now(), %(press)s {order_values}
    FROM generate_series(1, %(press_orders)s) g
    """,
    # Lines: each box's first line is its project (the filler's by its order number, Bench
    # Press's Almanac); every fifth box also holds a second project of the same publisher.
    """
    INSERT INTO fulfillment_orderline (order_id, publisher_id, project_id, source,
        external_order_id, external_product_id, quantity, unit_cost, shipping_cost,
        cart_refunded, created_at)
    SELECT o.id, o.publisher_id, p.id, 'samcart', o.external_order_id,
        (100000000 + p.k)::text, 1, 6.50, 4.95, false, o.created_at
    FROM fulfillment_order o
    JOIN filler_project p ON p.n = o.external_order_id::int %% %(projects)s
    WHERE o.publisher_id <> %(press)s AND o.ship_name LIKE 'Reader %%'
    UNION ALL
    SELECT o.id, o.publisher_id, p.id, 'samcart', o.external_order_id,
        (100000000 + p.k)::text, 1, 6.50, 4.95, false, o.created_at
    FROM fulfillment_order o
    JOIN filler_project first ON first.n = o.external_order_id::int %% %(projects)s
    JOIN filler_project p ON p.k = CASE WHEN first.k + %(fillers)s <= %(projects)s
        THEN first.k + %(fillers)s ELSE first.k - %(fillers)s END
    WHERE o.publisher_id <> %(press)s AND o.ship_name LIKE 'Reader %%'
        AND o.external_order_id::int %% 5 = 0
    UNION ALL
    SELECT o.id, o.publisher_id, %(press_project)s, 'samcart', o.external_order_id, '279813',
        1, 6.50, 4.95, false, o.created_at
    FROM fulfillment_order o WHERE o.publisher_id = %(press)s
    UNION ALL
    SELECT o.id, o.publisher_id, %(press_second)s, 'samcart', o.external_order_id, '279814',
        1, 6.50, 4.95, false, o.created_at
    FROM fulfillment_order o
    WHERE o.publisher_id = %(press)s AND o.external_order_id::int %% 5 = 0
    """,
    "ANALYZE",
]
PAGES = {
    "admin order changelist": "/admin/fulfillment/order/",
    "changelist ?status=hold": "/admin/fulfillment/order/?status__exact=hold",
    "changelist ?q=Okafor": "/admin/fulfillment/order/?q=Okafor",
    "account page": "/account/",
    "API order list": "/api/v1/orders/",
}


def load() -> None:
    """Fill the database (once per bench run: the database was created empty)."""
    press = publisher_create(name="Bench Press", email="press@bench.example")
    project = project_create(
        publisher=press,
        title="Almanac",
        ecommerce_id_string="279813",
        unit_cost=Decimal("6.50"),
        shipping_cost=Decimal("4.95"),
        prices_confirmed=True,
    )
    second = project_create(
        publisher=press,
        title="Atlas",
        ecommerce_id_string="279814",
        unit_cost=Decimal("6.50"),
        shipping_cost=Decimal("4.95"),
        prices_confirmed=True,
    )
    fillers = PUBLISHERS - Publisher.objects.count()
    params = {
        "fillers": fillers,
        "projects": PROJECTS,
        "notifications": NOTIFICATIONS,
        "filler_orders": ORDERS - PRESS_ORDERS,
        "press_orders": PRESS_ORDERS,
        "press": press.pk,
        "press_project": project.pk,
        "press_second": second.pk,
    }
    names: dict[str, str] = {}
    for prefix, model in (("publisher", Publisher), ("order", Order)):
        columns, values = _defaults(model, params)
        names.update({f"{prefix}_columns": columns, f"{prefix}_values": values})
    with connection.cursor() as cursor:
        for statement in LOAD:
            cursor.execute(_fill(statement, names), params)


def _fill(statement: str, names: dict[str, str]) -> str:
    """Put the default-valued column lists into `statement`'s `{…_columns}` placeholders."""
    for name, text in names.items():
        statement = statement.replace("{" + name + "}", text)
    return statement


def _defaults(model: type[Model], params: dict[str, Any]) -> tuple[str, str]:
    """Return the columns of `model` the SQL above does not list, with their model defaults
    (columns added after this script was written; "" for a blank text field without one), and
    add the values to `params`."""
    table = model._meta.db_table
    listed: set[str] = set()
    for statement in LOAD:
        head = statement.split("SELECT")[0]
        if f"INSERT INTO {table} " in head:
            listed |= set(re.findall(r"\w+", head))
    extra = [
        f
        for f in model._meta.concrete_fields
        if f.column not in listed
        and not f.null
        and not f.primary_key
        and (f.has_default() or f.empty_strings_allowed)
    ]
    params.update({f"default_{table}_{f.column}": f.get_default() for f in extra})
    columns = "".join(f", {f.column}" for f in extra)
    values = "".join(f", %(default_{table}_{f.column})s" for f in extra)
    return columns, values


def print_lists() -> None:
    """Print the queries and server time (best of 3, in-process) of the big publisher's lists."""
    from django.test import Client

    from bench.scoped_lists import measure  # the same timing as the lists-only benchmark

    press = Publisher.objects.get(name="Bench Press")
    password = "Bench-" + str(time.time_ns())
    users = get_user_model().objects
    user = users.filter(username="bench-press").first() or publisher_user_create(
        publisher=press, username="bench-press", password=password
    )
    staff = users.filter(username="bench-staff").first() or staff_user_create(
        username="bench-staff", password=password
    )
    print("\n### A publisher's lists with 100,000 orders (in-process, best of 3)\n")
    print("| page | who | queries | ms |")
    print("|---|---|---|---|")
    for who, login in (("publisher", user), ("staff", staff)):
        client = Client()
        client.force_login(login)
        for name, url in PAGES.items():
            if who == "staff" and url == "/account/":
                url = f"/account/?publisher={press.idpub}"
            queries, best, status = measure(client, url)
            flag = "" if status == 200 else f" (HTTP {status})"
            print(f"| {name}{flag} | {who} | {queries} | {best:.0f} |")
