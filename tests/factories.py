"""Builders for test data; they go through the services, like the product does."""

from __future__ import annotations

import itertools
from decimal import Decimal
from pathlib import Path

from django.test import Client
from django.urls import reverse

from fulfillment.models import LedgerKind, Order, OrderLine, Project, Publisher
from fulfillment.services.accounts import publisher_user_create, staff_user_create
from fulfillment.services.ledger import ledger_record
from fulfillment.services.projects import project_create
from fulfillment.services.publishers import publisher_create

FIXTURES = Path(__file__).parent / "fixtures" / "samcart"
_counter = itertools.count(1)


def sample(name: str) -> bytes:
    """Return the bytes of a SamCart fixture body (`order_products_array` or with extension)."""
    path = FIXTURES / name
    if not path.suffix:
        path = path.with_suffix(".json")
    return path.read_bytes()


def make_publisher(*, balance: Decimal | str = "0.00", **fields: object) -> Publisher:
    """Create a publisher, funded with `balance` through a deposit when it is above zero.

    Grouping (SPEC §18) is 0 unless a test asks: a paid box goes to production at once, as
    most tests expect; the box tests set `grouping_minutes` themselves.
    """
    fields.setdefault("grouping_minutes", 0)
    n = next(_counter)
    publisher = publisher_create(
        name=str(fields.pop("name", f"Publisher {n}")),
        email=str(fields.pop("email", f"publisher{n}@example.com")),
        **fields,  # type: ignore[arg-type]
    )
    amount = Decimal(balance)
    if amount > 0:
        ledger_record(publisher_id=publisher.pk, amount=amount, kind=LedgerKind.DEPOSIT)
        publisher.refresh_from_db()
    return publisher


def make_project(
    publisher: Publisher,
    ids: str = "279813",
    *,
    title: str | None = None,
    unit_cost: Decimal | str = "5.00",
    shipping_cost: Decimal | str = "2.00",
    is_active: bool = True,
    prices_confirmed: bool = True,
) -> Project:
    """Create a project of `publisher` listing `ids`; staff confirmed its prices by default."""
    return project_create(
        publisher=publisher,
        title=title or f"Project {next(_counter)}",
        ecommerce_id_string=ids,
        unit_cost=Decimal(unit_cost),
        shipping_cost=Decimal(shipping_cost),
        is_active=is_active,
        prices_confirmed=prices_confirmed,
    )


def make_publisher_user(
    publisher: Publisher,
    username: str | None = None,
    password: str = "pw-12345-x",
    *,
    role: str = "manager",
):
    """Create a login acting for `publisher` with `role` ("manager" or "viewer")."""
    return publisher_user_create(
        publisher=publisher,
        username=username or f"pubuser{next(_counter)}",
        password=password,
        role=role,
    )


def make_staff_user(username: str | None = None, password: str = "pw-12345-x"):
    """Create a TrepStar staff login (staff group, not superuser)."""
    return staff_user_create(username=username or f"staff{next(_counter)}", password=password)


def notify_path(
    publisher: Publisher, *, key: str | None = None, test: bool = False, slash: bool = True
) -> str:
    """Return the Notify URL path with query string for `publisher`."""
    path = reverse("samcart-notify")
    if not slash:
        path = path.rstrip("/")
    query = f"?idpub={publisher.idpub}&key={publisher.notify_key if key is None else key}"
    return path + query + ("&test=1" if test else "")


def post_notify(
    client: Client,
    publisher: Publisher,
    body: bytes | str,
    *,
    content_type: str = "application/json",
    **path_options: object,
):
    """POST `body` to the publisher's Notify URL through the real view."""
    data = body.encode() if isinstance(body, str) else body
    return client.post(
        notify_path(publisher, **path_options),  # type: ignore[arg-type]
        data=data,
        content_type=content_type,
    )


def only_line(order: Order) -> OrderLine:
    """Return the one line of a one-product box (fails loudly when it has more or none)."""
    (line,) = OrderLine.objects.filter(order_id=order.pk).select_related("project")
    return line
