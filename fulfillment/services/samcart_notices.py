"""Who hears about a SamCart check (SPEC §17, §14): staff about a brake, publishers about the
orders a run created and about a refused key (through the needs-action alert).
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db.models import Q

from fulfillment.clock import when
from fulfillment.models import STAFF_GROUP, FindingKind, Publisher, RunStatus, SamcartCheckRun

from .wording import plural

logger = logging.getLogger(__name__)

RUNS_PER_ALERT = 20  # runs named in one e-mail; later ones wait for the next
BRAKE_SUBJECT = "SamCart check stopped by the safety brake for publisher {idpub}"
BRAKE_BODY = (
    "The SamCart check {run} of publisher {name} ({idpub}) compared {counted} over "
    "{start} – {end} and found {missing} missing, although notifications did arrive in that "
    "window. It created nothing: the ids may not match (another SamCart account's key?).\n\n"
    "Missing lines (SamCart order / product):\n{lines}\n\n"
    "Look at the run in the admin and at the publisher's notifications before anything else."
)


def staff_addresses() -> list[str]:
    """Return the support address and those of active staff logins, each once."""
    users = get_user_model().objects.filter(
        Q(is_superuser=True) | Q(groups__name=STAFF_GROUP), is_active=True
    )
    found: dict[str, str] = {}
    for address in [settings.SUPPORT_EMAIL, *users.values_list("email", flat=True)]:
        if address:
            found.setdefault(address.casefold(), address)
    return list(found.values())


def brake_tell_staff(*, run: SamcartCheckRun) -> bool:
    """Log the brake as an error and e-mail staff about it; tell whether the e-mail went.

    A failed e-mail is logged, never raised: the run is recorded either way, and the staff
    view lists braked runs.
    """
    publisher = run.publisher
    missing = [f for f in run.findings if f["kind"] == FindingKind.MISSING]
    logger.error(
        "SamCart check %s of publisher %s braked: %s of %s counted lines missing",
        run.pk,
        publisher.idpub,
        len(missing),
        run.lines_counted,
    )
    lines = "\n".join(f"  - {f['order_id']} / {f['product_id']}" for f in missing[:200])
    body = BRAKE_BODY.format(
        run=run.pk,
        name=publisher.name,
        idpub=publisher.idpub,
        counted=plural(run.lines_counted, "line"),
        start=when(run.window_start, UTC),
        end=when(run.window_end, UTC),
        missing=len(missing),
        lines=lines,
    )
    subject = BRAKE_SUBJECT.format(idpub=publisher.idpub)
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, staff_addresses())
    except (OSError, smtplib.SMTPException) as error:
        logger.error("The brake e-mail of SamCart check %s was not sent: %s", run.pk, error)
        return False
    return True


@dataclass(frozen=True)
class CreatedLine:
    """One line a run ordered, for the needs-action e-mail."""

    order_id: int
    samcart_order_id: str
    product_id: str


def runs_to_tell(publisher: Publisher) -> list[SamcartCheckRun]:
    """Return the finished runs that created orders no e-mail named yet, oldest first."""
    runs = SamcartCheckRun.objects.filter(
        publisher=publisher, status=RunStatus.OK, created__gt=0, alerted_at__isnull=True
    )
    return list(runs.order_by("id")[:RUNS_PER_ALERT])


def created_lines(runs: list[SamcartCheckRun]) -> list[CreatedLine]:
    """Return each order the runs created, with its SamCart order and product."""
    return [
        CreatedLine(
            order_id=pk, samcart_order_id=str(f["order_id"]), product_id=str(f["product_id"])
        )
        for run in runs
        for f in run.findings
        if f.get("kind") == FindingKind.CREATED
        for pk in f.get("orders", [])
    ]


def key_refused_token(publisher: Publisher) -> str:
    """Return the cause token of the publisher's current key refusal ("" when none)."""
    refused: datetime | None = publisher.samcart_key_refused_at
    return f"kr{refused:%Y%m%d%H%M%S%f}" if refused else ""
