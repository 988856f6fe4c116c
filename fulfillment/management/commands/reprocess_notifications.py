"""`manage.py reprocess_notifications`: process stored notifications again, idempotently."""

from __future__ import annotations

import sys
from collections import Counter
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q
from django.utils import timezone
from tqdm import tqdm

from fulfillment.models import Notification, Outcome
from fulfillment.models.notifications import STUCK_AFTER
from fulfillment.services.reprocess import notification_reprocess

STUCK = "stuck"
NEEDS_CONFIRMATION = "refused: line already ordered in another project (see --allow-remapped)"


class Command(BaseCommand):
    """Reprocess `error` and stuck notifications (default) or the ids given; safe to repeat."""

    help = (
        "Reprocess notifications: by default every one with outcome 'error' and every stuck one "
        "(stored over a minute ago, never processed); or the given ids."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        """Declare the ids, the outcome filter and the consent to re-mapped lines."""
        parser.add_argument("ids", nargs="*", type=int, help="Notification ids to reprocess.")
        parser.add_argument(
            "--outcome",
            default=None,
            choices=[Outcome.ERROR, Outcome.NO_MATCH, STUCK],
            help="Without ids: reprocess only this outcome (default: error and stuck).",
        )
        parser.add_argument(
            "--allow-remapped",
            action="store_true",
            help=(
                "Create orders even for SamCart lines that already have an order in another "
                "project (the product moved): the purchase is printed and charged again."
            ),
        )

    def _chosen(self, options: dict[str, Any]) -> list[Notification]:
        """Return the notifications to reprocess, oldest first."""
        if options["ids"]:
            chosen = Notification.objects.filter(pk__in=options["ids"])
            missing = set(options["ids"]) - set(chosen.values_list("pk", flat=True))
            if missing:
                raise CommandError(
                    f"No notification with id {', '.join(map(str, sorted(missing)))}."
                )
        else:
            # The same test as `Notification.objects.stuck()`, as a Q to combine with error.
            stuck = Q(outcome=Outcome.PENDING, received_at__lt=timezone.now() - STUCK_AFTER)
            wanted = {
                None: Q(outcome=Outcome.ERROR) | stuck,
                STUCK: stuck,
                Outcome.ERROR: Q(outcome=Outcome.ERROR),
                Outcome.NO_MATCH: Q(outcome=Outcome.NO_MATCH),
            }[options["outcome"]]
            chosen = Notification.objects.filter(wanted)
        return list(chosen.order_by("received_at", "id"))

    def handle(self, *args: Any, **options: Any) -> None:
        """Reprocess each chosen notification with a progress bar; print a summary."""
        notifications = self._chosen(options)
        outcomes: Counter[str] = Counter()
        for notification in tqdm(
            notifications, desc="Reprocessing", unit="notification", file=sys.stderr
        ):
            answer = notification_reprocess(
                notification=notification, allow_remapped=options["allow_remapped"]
            )
            if answer.remapped_orders:
                outcomes[NEEDS_CONFIRMATION] += 1
                self.stderr.write(f"Notification {notification.pk}: {answer.detail}")
                continue
            outcomes[answer.outcome or "not reprocessable"] += 1
        summary = ", ".join(f"{count} {outcome}" for outcome, count in sorted(outcomes.items()))
        self.stdout.write(f"Reprocessed {len(notifications)} notification(s): {summary or 'none'}.")
