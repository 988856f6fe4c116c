"""`manage.py repair_project_index [--dry-run]`: find and repair SamCart id index drift (§5)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.management.base import BaseCommand
from django.db import DEFAULT_DB_ALIAS, transaction

from fulfillment.models.projects import index_drift, index_repair

if TYPE_CHECKING:
    from django.core.management.base import CommandParser


class Command(BaseCommand):
    """List every project whose index rows differ from its eCommerceIDString; repair them."""

    help = (
        "Compare every project's SamCart id index with its eCommerceIDString and repair the "
        "difference (rows written by a data migration, raw SQL or an interrupted save)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        """--dry-run and --database."""
        parser.add_argument("--dry-run", action="store_true", help="Report only; change nothing.")
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS, help="Database alias.")

    def handle(self, *args: Any, **options: Any) -> None:
        """Report, then repair unless --dry-run."""
        using = options["database"]
        with transaction.atomic(using=using):
            drift = index_drift(using=using)
            if not drift:
                self.stdout.write("The SamCart id index matches every project.")
                return
            for item in drift:
                self.stdout.write(item.describe())
            fixable = [d for d in drift if d.missing or d.stale_rows]
            malformed = sum(1 for d in drift if d.malformed)
            if options["dry_run"]:
                self.stdout.write(f"Would repair {len(fixable)} project(s); nothing changed.")
            else:
                index_repair(drift=fixable, using=using)
                self.stdout.write(self.style.SUCCESS(f"Repaired {len(fixable)} project(s)."))
        if malformed:
            self.stdout.write(
                self.style.WARNING(
                    f"{malformed} project(s) have a malformed eCommerceIDString: correct it in "
                    "the admin (Advanced Settings); they match nothing until then."
                )
            )
