"""`manage.py demo_data`: the demo publishers, logins, projects and boxes that `make run` serves."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone

from fulfillment.models import LedgerKind, Order, Publisher
from fulfillment.models.projects import projects_sync_cart_ids
from fulfillment.samcart_api.standin_data import standin_customer, standin_data, standin_order
from fulfillment.services.accounts import groups_ensure, publisher_user_create, staff_user_create
from fulfillment.services.ledger import ledger_record
from fulfillment.services.notifications import Incoming, notification_receive
from fulfillment.services.projects import project_create
from fulfillment.services.publishers import notify_url, publisher_create
from fulfillment.services.samcart_keys import publisher_set_samcart_key

from .samcart_send import build_body

STAFF = ("staff", "trepstar-staff-demo")
# The SamCart check's demo (SPEC §17): Lighthouse Press has this API key for the stand-in that
# `make run` starts; of its three SamCart sales, the first two reached the Notify URL and the
# third "never arrived", so the worker's first check (or *Check now*) finds it.
SAMCART_KEY = "demo-samcart-api-key-lh42"
SAMCART_SALES = [
    (9_100_001, "279813", timedelta(hours=5)),
    (9_100_002, "294010", timedelta(hours=3)),
]
SAMCART_LOST = (9_100_003, "279813", timedelta(hours=1))
# Boxes (SPEC §18), each a SamCart order sent as its Notify POSTs: (publisher, order id, the
# POSTs as (products, shipping street), its age). Lighthouse Press: a book and its order bump
# a second later (one box of two items); a book, then a gift to another street (two boxes, the
# second "ships to another address"). Quarry Road (no balance): a cart of two products in one
# body, on hold, to edit line by line.
HOME, GIFT = "1 Sample Street", "8 Harbour View"
DEMO_BOXES = [
    (0, 9_200_001, [(["279813"], HOME), (["305550"], HOME)], timedelta(minutes=3)),
    (0, 9_200_002, [(["279813"], HOME), (["305550"], GIFT)], timedelta(minutes=2)),
    (1, 9_200_003, [(["301477", "310001"], HOME)], timedelta(minutes=1)),
]
PUBLISHERS = [
    {
        "name": "Lighthouse Press",
        "email": "orders@lighthouse-press.example",
        "login": ("lighthouse", "lighthouse-demo"),
        "deposit": Decimal("500.00"),
        "projects": [
            ("The Lighthouse Keeper's Almanac (Paperback)", "279813", "6.50", "4.95"),
            ("Companion Workbook (Print)", "{294010}", "3.20", "0.00"),
            ("Almanac + Workbook Bundle", "{294010}{298020}", "8.90", "4.95"),
            ("Lighthouse Bookmark (order bump)", "{305550}", "0.90", "0.00"),
        ],
    },
    {
        "name": "Quarry Road Journals",
        "email": "hello@quarry-road.example",
        "login": ("quarry", "quarry-demo"),
        "deposit": Decimal("0.00"),
        "projects": [
            ("Quarterly Print Journal", "301477", "5.75", "3.50"),
            ("Daily Planner 2027", "{310001}{310002}", "9.40", "4.95"),
        ],
    },
]


class Command(BaseCommand):
    """Create the demo data once; print logins and Notify URLs every time."""

    help = "Create demo publishers, logins and projects (idempotent) and print how to log in."

    def add_arguments(self, parser: CommandParser) -> None:
        """Declare where the SamCart stand-in's data goes."""
        parser.add_argument(
            "--samcart-data",
            type=Path,
            help="Write the SamCart stand-in's orders here (make run serves them).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        """Create what is missing, then print the logins and Notify URLs."""
        groups_ensure()
        with transaction.atomic():
            self._staff()
            for spec in PUBLISHERS:
                self._publisher(spec)
            # Whatever wrote projects before (a fixture, a data migration), the index matches.
            repaired = projects_sync_cart_ids()
        boxes = self._boxes()
        if options["samcart_data"]:
            self._samcart(options["samcart_data"])
        if repaired:
            self.stdout.write(f"Repaired the SamCart id index of {len(repaired)} project(s).")
        if boxes:
            self.stdout.write(
                f"Sent {boxes} demo SamCart order(s) as their Notify POSTs: boxes of several "
                "items, one split to another address, one on hold to edit line by line."
            )
        self.stdout.write(self.style.SUCCESS("Demo data ready. Logins (admin at /admin/):"))
        self.stdout.write(f"  TrepStar staff: {STAFF[0]} / {STAFF[1]}")
        for spec in PUBLISHERS:
            publisher = Publisher.objects.get(email=spec["email"])
            user, password = spec["login"]
            self.stdout.write(
                f"  {publisher.name} (balance ${publisher.balance}): {user} / {password}\n"
                f"    Notify URL: {notify_url(publisher=publisher)}"
            )

    def _staff(self) -> None:
        if not get_user_model().objects.filter(username=STAFF[0]).exists():
            user = staff_user_create(username=STAFF[0], password=STAFF[1])
            user.is_superuser = True
            user.save(update_fields=["is_superuser"])

    def _publisher(self, spec: dict[str, Any]) -> None:
        """Create the publisher with its login, projects and deposit; for one made earlier,
        only the projects it lacks (by title: a demo made before the order bump existed)."""
        publisher = Publisher.objects.filter(email=spec["email"]).first()
        if publisher is not None:
            self._projects(publisher, spec)
            return
        publisher = publisher_create(name=spec["name"], email=spec["email"])
        username, password = spec["login"]
        publisher_user_create(publisher=publisher, username=username, password=password)
        self._projects(publisher, spec)
        if spec["deposit"]:
            ledger_record(
                publisher_id=publisher.pk,
                amount=spec["deposit"],
                kind=LedgerKind.DEPOSIT,
                note="Demo deposit",
            )

    def _projects(self, publisher: Publisher, spec: dict[str, Any]) -> None:
        """Create the spec's projects the publisher has no project of that title for."""
        have = set(publisher.projects.values_list("title", flat=True))
        for title, ids, unit, shipping in spec["projects"]:
            if title in have:
                continue
            project_create(
                publisher=publisher,
                title=title,
                ecommerce_id_string=ids,
                unit_cost=Decimal(unit),
                shipping_cost=Decimal(shipping),
                prices_confirmed=True,  # TrepStar set the demo prices
            )

    def _boxes(self) -> int:
        """Send each demo SamCart order of DEMO_BOXES not received yet as its Notify POSTs,
        through the Notify URL's own service; return how many were sent."""
        sent = 0
        now = timezone.now()
        for index, order_id, posts, age in DEMO_BOXES:
            publisher = Publisher.objects.get(email=PUBLISHERS[index]["email"])
            received = Order.objects.for_publisher(publisher).filter(
                external_order_id=str(order_id)
            )
            if received.exists():
                continue
            for second, (product_ids, street) in enumerate(posts):
                body = build_body(
                    event_type="Order",
                    product_ids=product_ids,
                    quantity=1,
                    order_id=str(order_id),
                    street=street,
                )
                _deliver(publisher, body, received_at=now - age + timedelta(seconds=second))
            sent += 1
        return sent

    def _samcart(self, path: Path) -> None:
        """Give Lighthouse Press its API key, deliver two of its sales, write all three."""
        publisher = Publisher.objects.get(email=PUBLISHERS[0]["email"])
        if not publisher.samcart_api_key:
            publisher_set_samcart_key(publisher=publisher, key=SAMCART_KEY, actor=None)
        now = timezone.now()
        delivered = set(
            Order.objects.for_publisher(publisher).values_list("external_order_id", flat=True)
        )
        for order_id, product_id, age in SAMCART_SALES:
            if str(order_id) in delivered:
                continue
            body = build_body(
                event_type="Order", product_ids=[product_id], quantity=1, order_id=str(order_id)
            )
            _deliver(publisher, body, received_at=now - age)
        sales = [*SAMCART_SALES, SAMCART_LOST]
        orders = [
            standin_order(order_id, product_id, order_date=now - age, customer_id=24_000_001)
            for order_id, product_id, age in sales
        ]
        customer = standin_customer(24_000_001)
        path.parent.mkdir(parents=True, exist_ok=True)
        document = standin_data(api_key=SAMCART_KEY, orders=orders, customers=[customer])
        path.write_text(json.dumps(document, indent=2))
        self.stdout.write(
            f"SamCart stand-in data: {path} (Lighthouse Press has an API key; SamCart order "
            f"{SAMCART_LOST[0]} never reached TrepStar: the worker's first SamCart check finds "
            "it, and so does *Check now* on the account page)."
        )


def _deliver(publisher: Publisher, body: dict[str, Any], *, received_at: datetime) -> None:
    """Hand one Notify POST body to the Notify URL's service, as if SamCart sent it then."""
    raw = json.dumps(body).encode()
    notification_receive(
        Incoming(
            idpub=publisher.idpub,
            key=publisher.notify_key,
            is_test=False,
            body=raw,
            body_size=len(raw),
            content_type="application/json",
            remote_addr="127.0.0.1",
            received_at=received_at,
        )
    )
