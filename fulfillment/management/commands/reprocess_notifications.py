"""`manage.py reprocess_notifications`: process stored notifications again, idempotently."""

from __future__ import annotations

import sys
from collections import Counter
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from fulfillment.models import Notification, Outcome
from fulfillment.services.notifications import notification_reprocess


class Command(BaseCommand):
    """Reprocess `error` notifications (default) or the ids given; exactly-once makes it safe."""

    help = "Reprocess notifications: all with outcome 'error' by default, or the given ids."

    def add_arguments(self, parser: CommandParser) -> None:
        """Declare the ids and the outcome filter."""
        parser.add_argument("ids", nargs="*", type=int, help="Notification ids to reprocess.")
        parser.add_argument(
            "--outcome",
            default=Outcome.ERROR,
            choices=[Outcome.ERROR, Outcome.NO_MATCH],
            help="Without ids: reprocess notifications with this outcome (error).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        """Reprocess each chosen notification with a progress bar; print a summary."""
        if options["ids"]:
            chosen = Notification.objects.filter(pk__in=options["ids"])
            missing = set(options["ids"]) - set(chosen.values_list("pk", flat=True))
            if missing:
                raise CommandError(
                    f"No notification with id {', '.join(map(str, sorted(missing)))}."
                )
        else:
            chosen = Notification.objects.filter(outcome=options["outcome"])
        outcomes: Counter[str] = Counter()
        notifications = list(chosen.order_by("received_at", "id"))
        for notification in tqdm(
            notifications, desc="Reprocessing", unit="notification", file=sys.stderr
        ):
            answer = notification_reprocess(notification=notification)
            outcomes[answer.outcome or "not reprocessable"] += 1
        summary = ", ".join(f"{count} {outcome}" for outcome, count in sorted(outcomes.items()))
        self.stdout.write(f"Reprocessed {len(notifications)} notification(s): {summary or 'none'}.")
