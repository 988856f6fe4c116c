"""Two publishers with everything the admin shows, for the admin and account-page tests.

Publisher B's data is made of distinctive strings (`World.b_secrets`) so a test can assert
that none of them appears in any answer given to publisher A's user.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal

from django.test import Client

from fulfillment.models import (
    LedgerEntry,
    LedgerKind,
    Notification,
    Order,
    OrderLine,
    OrderStatus,
    Outcome,
    Project,
    Publisher,
)
from fulfillment.services.ledger import ledger_record
from fulfillment.services.orders import EDITABLE_ON_HOLD
from tests.factories import (
    make_project,
    make_publisher,
    make_publisher_user,
    make_staff_user,
    post_notify,
    sample,
)

PASSWORD = "pw-12345-x"


def order_body(
    *,
    order_id: str,
    product_id: str = "279813",
    first: str = "Rosalind",
    last: str = "Okafor",
    email: str = "rosalind.okafor@example.com",
    quantity: int = 1,
    complete_address: bool = True,
) -> bytes:
    """Return the `order_products_array` sample with another order id, product and customer."""
    data = json.loads(sample("order_products_array"))
    data["order"]["id"] = int(order_id)
    data["products"][0]["id"] = int(product_id)
    data["products"][0]["quantity"] = quantity
    data["customer"].update(first_name=first, last_name=last, email=email)
    if not complete_address:
        data["order"]["shipping_address"] = ""
    return json.dumps(data).encode()


def box_body(
    *, order_id: str, products: list[tuple[str, int]], street: str | None = None, **who: str
) -> bytes:
    """Return an order body of several products, (SamCart product id, quantity) each: one
    box of several lines (SPEC §18); `street` ships it elsewhere."""
    data = json.loads(order_body(order_id=order_id, **who))
    first = data["products"][0]
    data["products"] = [
        {**first, "id": int(product), "quantity": quantity} for product, quantity in products
    ]
    if street is not None:
        data["order"]["shipping_address"] = street
    return json.dumps(data).encode()


def line_field(line: OrderLine, what: str = "quantity") -> str:
    """Return the name of a line's input on the order page (`quantity` or `remove`)."""
    return f"line_{line.pk}_{what}"


def page_form_data(order: Order, **changes: object) -> dict[str, object]:
    """Return the order change form's POST data as the page sends it: the editable fields and
    each item's quantity (a hold box), with `changes` applied and the Save button."""
    order = Order.objects.get(pk=order.pk)
    data: dict[str, object] = {name: getattr(order, name) for name in EDITABLE_ON_HOLD}
    if order.status == OrderStatus.HOLD:
        for line in order.lines.filter(removed_at__isnull=True):
            data[line_field(line)] = line.quantity
    data.update(changes, _save="Save")
    return data


def notify(publisher: Publisher, body: bytes, *, test: bool = False) -> Notification:
    """Post `body` to the publisher's Notify URL and return the stored notification."""
    response = post_notify(Client(), publisher, body, test=test)
    return Notification.objects.get(pk=response.json()["notification"])


@dataclass
class World:
    """Publisher A (the user under test) and publisher B (whose data must never show)."""

    a: Publisher
    b: Publisher
    a_user: object
    b_user: object
    staff: object
    a_project: Project
    b_project: Project
    a_hold: Order
    b_hold: Order
    b_production: Order
    a_no_match: Notification
    b_no_match: Notification
    b_created: Notification
    b_ledger: LedgerEntry
    b_secrets: list[str] = field(default_factory=list)

    def b_state(self) -> list[tuple]:
        """Return everything about B's rows that a leaked action could change."""
        orders = Order.objects.filter(publisher=self.b).order_by("pk")
        notes = Notification.objects.filter(publisher=self.b).order_by("pk")
        b = Publisher.objects.get(pk=self.b.pk)
        return [
            (b.name, b.email, b.balance, b.notify_key, b.auto_release),
            *orders.values_list("pk", "status", "hold_reason", "ship_street", "cost"),
            *OrderLine.objects.filter(order__publisher=self.b)
            .order_by("pk")
            .values_list("pk", "order_id", "quantity", "removed_at"),
            *notes.values_list("pk", "outcome", "attempts", "processed_at"),
            *Project.objects.filter(publisher=self.b).values_list(
                "pk", "title", "ecommerce_id_string", "unit_cost"
            ),
            ("events", self.b_hold.events.count() + self.b_production.events.count()),
            ("ledger", LedgerEntry.objects.filter(publisher=self.b).count()),
        ]


def build_world() -> World:
    """Create A (no money: its order waits on hold) and B (one order made, one held)."""
    a = make_publisher(name="Alpha Books", email="alpha@example.com")
    a_project = make_project(a, "279813", title="Alpha Almanac")
    make_project(a, "294010", title="Alpha Workbook")
    a_hold = notify(a, order_body(order_id="11110001")).orders.get()
    a_no_match = notify(a, order_body(order_id="11110002", product_id="555555"))
    ledger_record(publisher_id=a.pk, amount=Decimal("1.00"), kind=LedgerKind.DEPOSIT)
    a.refresh_from_db()

    b = make_publisher(name="Beta Secret Press", email="beta-secret@press.example", balance="10")
    b_project = make_project(b, "279813", title="Beta Hidden Planner")
    who = {"first": "Zebulon", "last": "Quillfeather", "email": "zebulon.q@beta.example"}
    b_created = notify(b, order_body(order_id="99887766", **who))
    b_production = b_created.orders.get()
    b_hold = notify(b, order_body(order_id="99887767", **who)).orders.get()
    # Fund B so that a leaked *release* of B's held order would succeed and show.
    b_ledger = ledger_record(publisher_id=b.pk, amount=Decimal("50.00"), kind=LedgerKind.DEPOSIT)
    b_no_match = notify(b, order_body(order_id="99887768", product_id="777777", **who))
    b.refresh_from_db()
    assert b_production.status == OrderStatus.IN_PRODUCTION
    assert a_hold.status == b_hold.status == OrderStatus.HOLD
    assert a_no_match.outcome == b_no_match.outcome == Outcome.NO_MATCH

    a_user = make_publisher_user(a, "alpha-user", PASSWORD)
    b_user = make_publisher_user(b, "beta-user", PASSWORD)
    staff = make_staff_user("trep-staff", PASSWORD)
    return World(
        a=a,
        b=b,
        a_user=a_user,
        b_user=b_user,
        staff=staff,
        a_project=a_project,
        b_project=b_project,
        a_hold=a_hold,
        b_hold=b_hold,
        b_production=b_production,
        a_no_match=a_no_match,
        b_no_match=b_no_match,
        b_created=b_created,
        b_ledger=b_ledger,
        b_secrets=[
            b.name,
            b.email,
            b.idpub,
            b.notify_key,
            "Beta Hidden Planner",
            "Zebulon",
            "Quillfeather",
            "zebulon.q@beta.example",
            "99887766",
            "99887767",
            "99887768",
            "777777",
            "beta-user",
        ],
    )


def assert_no_secrets(response: object, secrets: list[str]) -> None:
    """Assert that no secret string appears in the response body."""
    text = response.content.decode(errors="replace")
    leaked = [s for s in secrets if s in text]
    assert not leaked, f"{response.request['PATH_INFO']} leaked {leaked}"


def release_all(client: Client, **data: str) -> object:
    """Do *release all* as a person does: open the confirmation page (a first POST, which
    charges nothing), then confirm the orders it names; return the followed response."""
    from django.urls import reverse

    asked = client.post(reverse("account-release-all"), data)
    ids = [order.pk for order, _items, _cost in asked.context["charge"]]
    confirm = {**data, "confirmed": "yes", "order": ids}
    return client.post(reverse("account-release-all"), confirm, follow=True)
