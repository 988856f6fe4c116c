"""`manage.py demo_data`: the demo publishers, logins and projects that `make run` serves."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from fulfillment.models import LedgerKind, Publisher
from fulfillment.models.projects import projects_sync_cart_ids
from fulfillment.services.accounts import groups_ensure, publisher_user_create, staff_user_create
from fulfillment.services.ledger import ledger_record
from fulfillment.services.projects import project_create
from fulfillment.services.publishers import notify_url, publisher_create

STAFF = ("staff", "trepstar-staff-demo")
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

    def handle(self, *args: Any, **options: Any) -> None:
        """Create what is missing, then print the logins and Notify URLs."""
        groups_ensure()
        with transaction.atomic():
            self._staff()
            for spec in PUBLISHERS:
                self._publisher(spec)
            # Whatever wrote projects before (a fixture, a data migration), the index matches.
            repaired = projects_sync_cart_ids()
        if repaired:
            self.stdout.write(f"Repaired the SamCart id index of {len(repaired)} project(s).")
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
        if Publisher.objects.filter(email=spec["email"]).exists():
            return
        publisher = publisher_create(name=spec["name"], email=spec["email"])
        username, password = spec["login"]
        publisher_user_create(publisher=publisher, username=username, password=password)
        for title, ids, unit, shipping in spec["projects"]:
            project_create(
                publisher=publisher,
                title=title,
                ecommerce_id_string=ids,
                unit_cost=Decimal(unit),
                shipping_cost=Decimal(shipping),
                prices_confirmed=True,  # TrepStar set the demo prices
            )
        if spec["deposit"]:
            ledger_record(
                publisher_id=publisher.pk,
                amount=spec["deposit"],
                kind=LedgerKind.DEPOSIT,
                note="Demo deposit",
            )
