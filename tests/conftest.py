"""Shared fixtures. Tests marked `postgres` run only on PostgreSQL (CI sets DATABASE_URL)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client

from fulfillment.models import Order
from tests.admin_world import World, build_world
from tests.factories import make_project, make_publisher, post_notify
from tests.invariants import order_body

# The Chromium fixture every browser test module uses (tests/browser.py); the SamCart
# stand-in of the check's tests (tests/samcart_world.py).
pytest_plugins = ["tests.browser", "tests.samcart_world"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip PostgreSQL-only tests on SQLite, saying why."""
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL (CI does)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Start every test with an empty cache (the Notify URL rate limit counts in it)."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _own_spool(settings, tmp_path_factory):
    """Spool into a directory of the test's own, never the checkout's `var/notify-spool`: a body
    one test spools must not be replayed into another test's database by a worker."""
    settings.NOTIFY_SPOOL_DIR = tmp_path_factory.mktemp("spool")


@pytest.fixture
def held_box(client) -> Order:
    """A box a Notify POST created and held (payment required: balance 0), with its one line,
    its notification and its events."""
    publisher = make_publisher(balance="0.00")
    make_project(publisher, "279813")
    post_notify(client, publisher, order_body(order_id="H1"))
    return Order.objects.get(publisher=publisher)


def _publisher_with_demo_projects(balance: str):
    """A publisher with the demo projects' ids: 279813, 294010 and the bundle {294010}{298020}."""
    publisher = make_publisher(balance=balance)
    make_project(publisher, "279813", title="Almanac", unit_cost="6.50", shipping_cost="4.95")
    make_project(publisher, "{294010}", title="Workbook", unit_cost="3.20", shipping_cost="0.00")
    make_project(
        publisher, "{294010}{298020}", title="Bundle", unit_cost="8.90", shipping_cost="4.95"
    )
    return publisher


@pytest.fixture
def funded_publisher(db):
    """A publisher with $500 and the demo projects' ids."""
    return _publisher_with_demo_projects("500.00")


@pytest.fixture
def unfunded_publisher(db):
    """A publisher with a zero balance and the same ids."""
    return _publisher_with_demo_projects("0.00")


@pytest.fixture
def is_postgres() -> bool:
    """Tell whether the suite runs on PostgreSQL."""
    return connection.vendor == "postgresql"


@pytest.fixture
def world(db) -> World:
    """Two publishers with logins, projects, orders and notifications (tests/admin_world.py)."""
    return build_world()


@pytest.fixture
def a_client(world: World) -> Client:
    """A test client logged in as publisher A's user."""
    client = Client()
    client.force_login(world.a_user)
    return client


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server; Django's mail goes to it for the test."""
    from tests.smtp import SmtpServer

    with SmtpServer() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = server.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        settings.EMAIL_TIMEOUT = 10
        yield server
