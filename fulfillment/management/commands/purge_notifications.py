"""`manage.py purge_notifications`: delete rejected notifications older than 30 days."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from fulfillment.services.reprocess import notifications_purge


class Command(BaseCommand):
    """Delete rejected and unknown-publisher notifications past their keeping time."""

    help = "Delete rejected notifications (bad idpub, key, body or size) older than --days."

    def add_arguments(self, parser: CommandParser) -> None:
        """Declare --days and --dry-run."""
        parser.add_argument("--days", type=int, default=30, help="Keep this many days (30).")
        parser.add_argument("--dry-run", action="store_true", help="Count, delete nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        """Purge and say how many."""
        count = notifications_purge(older_than_days=options["days"], dry_run=options["dry_run"])
        verb = "Would delete" if options["dry_run"] else "Deleted"
        self.stdout.write(
            f"{verb} {count} rejected notification(s) older than {options['days']} days."
        )
