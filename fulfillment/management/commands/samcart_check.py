"""`manage.py samcart_check`: run the SamCart check now, with a progress bar (SPEC §17)."""

from __future__ import annotations

import re
import sys
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from tqdm import tqdm

from fulfillment.clock import when
from fulfillment.ids import idpub_or_none
from fulfillment.models import Publisher, RunKind, RunStatus, SamcartCheckRun
from fulfillment.services.samcart_check import samcart_check_refusal, samcart_check_run

_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
ERROR_IDPUB = "--publisher takes a publisher ID: 6 to 9 digits, such as 1234567 (got {value!r})."
ERROR_NO_PUBLISHER = "No publisher has the ID {idpub}."
ERROR_SINCE = "--since takes a date as YYYY-MM-DD, such as 2026-11-30 (got {value!r})."
ERROR_SINCE_FUTURE = "--since {value} is in the future: the check looks back from now."
ERROR_REFUSED = "Publisher {idpub}: {reason}"
NOT_RUN = "another check holds this publisher; try again when it ends"
ERROR_NOT_ALL = "Not every check ended well: see above."
NONE_TO_CHECK = "No publisher has a usable SamCart API key: nothing to check."


def summary(run: SamcartCheckRun) -> str:
    """Say what a run did, in one line."""
    window = f"{when(run.window_start)} – {when(run.window_end)}"
    text = (
        f"Publisher {run.publisher.idpub}: check {run.pk} {run.get_status_display()} "
        f"({run.get_kind_display()}, {window}): {run.pages} page(s), {run.orders_seen} order(s), "
        f"{run.lines_seen} line(s), {run.lines_counted} compared, {run.missing} missing, "
        f"{run.created} ordered"
    )
    others = [f for f in run.findings if f.get("kind") in ("refunded", "quantity")]
    if others:
        text += f", {len(others)} other finding(s)"
    if run.error:
        text += f". {run.error}"
    return text + "."


class Command(BaseCommand):
    """Check one publisher (--publisher) or every publisher with a key, by hand."""

    help = (
        "Compare SamCart's paid orders with TrepStar's orders now (the SamCart check), for one "
        "publisher or for every publisher with a SamCart API key; a missing line joins the open "
        "box of its order, or starts a box on hold for review."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        """Declare --publisher and --since."""
        parser.add_argument("--publisher", metavar="IDPUB", help="Check this publisher only.")
        parser.add_argument(
            "--since",
            metavar="YYYY-MM-DD",
            help="Compare the orders since this day (midnight UTC); default: since the last "
            "good check less an hour, or the last 3 days.",
        )

    def _since(self, value: str | None) -> date | None:
        """Return the --since day, or raise CommandError for text that is no past date."""
        if value is None:
            return None
        try:
            day = date.fromisoformat(value) if _DAY.fullmatch(value) else None
        except ValueError:  # 2026-02-30
            day = None
        if day is None:
            raise CommandError(ERROR_SINCE.format(value=value))
        if day > timezone.now().date():
            raise CommandError(ERROR_SINCE_FUTURE.format(value=value))
        return day

    def _publishers(self, value: str | None) -> list[Publisher]:
        """Return the publisher asked for (refusing one that cannot be checked), or all."""
        if value is None:
            chosen = []
            for publisher in Publisher.objects.exclude(samcart_api_key="").order_by("pk"):
                reason = samcart_check_refusal(publisher=publisher)
                if reason is None:
                    chosen.append(publisher)
                else:  # paused or running: said, skipped
                    self.stderr.write(ERROR_REFUSED.format(idpub=publisher.idpub, reason=reason))
            return chosen
        idpub = idpub_or_none(value.strip())
        if idpub is None:
            raise CommandError(ERROR_IDPUB.format(value=value))
        publisher = Publisher.objects.filter(idpub=idpub).first()
        if publisher is None:
            raise CommandError(ERROR_NO_PUBLISHER.format(idpub=idpub))
        reason = samcart_check_refusal(publisher=publisher)
        if reason is not None:
            raise CommandError(ERROR_REFUSED.format(idpub=idpub, reason=reason))
        return [publisher]

    def handle(self, *args: Any, **options: Any) -> None:
        """Run each check with a bar counting SamCart orders; print each run's summary."""
        since = self._since(options["since"])
        publishers = self._publishers(options["publisher"])
        if not publishers:
            self.stdout.write(NONE_TO_CHECK)
            return
        failed = False
        # The stream under Django's wrapper, which would end each of the bar's redraws a line.
        stream = getattr(self.stderr, "_out", sys.stderr)
        for publisher in publishers:
            with tqdm(desc=f"Publisher {publisher.idpub}", unit="order", file=stream) as bar:
                try:
                    run = samcart_check_run(
                        publisher=publisher, kind=RunKind.MANUAL, since=since, progress=bar.update
                    )
                except ValueError as error:
                    raise CommandError(str(error)) from None
            if run is None:  # a scheduled run took the publisher meanwhile
                failed = True
                reason = samcart_check_refusal(publisher=publisher) or NOT_RUN
                self.stderr.write(ERROR_REFUSED.format(idpub=publisher.idpub, reason=reason))
                continue
            failed |= run.status in (RunStatus.FAILED, RunStatus.KEY_REFUSED)
            self.stdout.write(summary(run))
        if failed:
            raise CommandError(ERROR_NOT_ALL)
