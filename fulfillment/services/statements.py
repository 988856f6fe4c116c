"""Monthly statements (issue 20, point 21): a publisher's money month by month.

A statement is the opening balance, every ledger entry of the month (deposits, charges,
refunds, adjustments) with the balance after each, and the closing balance. Months begin and
end at midnight in the publisher's time zone (`clock.publisher_zone`): an entry at
2026-12-01 03:00 UTC belongs to November for a publisher in New York.

The sums tie to the ledger by construction: opening = sum of every earlier entry (the first
month opens at 0, as the ledger's sum is the balance), closing = opening + the month's entries,
so a month's closing is the next month's opening and the last closing is the balance.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo
from decimal import Decimal

from django.db.models import Sum
from django.utils import timezone

from fulfillment.clock import publisher_zone
from fulfillment.models import CENT, ZERO, LedgerEntry, LedgerKind, Publisher

from .errors import ServiceError

MONTH_FORMAT = re.compile(r"([0-9]{4})-([0-9]{2})")
BAD_MONTH = "Choose a month as YYYY-MM, for example 2026-11."
FIRST_YEAR = 2000
LAST_YEAR = 2999


class MonthError(ServiceError):
    """A month parameter that is not a month."""


@dataclass(frozen=True)
class StatementLine:
    """One ledger entry on a statement, with the balance right after it."""

    entry_id: int
    created_at: datetime
    kind: str
    amount: Decimal
    balance_after: Decimal
    order_id: int | None
    external_order_id: str
    note: str

    @property
    def kind_label(self) -> str:
        """Return the kind as people read it ("Deposit")."""
        return LedgerKind(self.kind).label


@dataclass(frozen=True)
class Statement:
    """A publisher's month: opening balance, entries, closing balance, totals per kind."""

    publisher: Publisher
    month: date  # the first day of the month
    zone: tzinfo
    opening: Decimal
    lines: tuple[StatementLine, ...]

    @property
    def closing(self) -> Decimal:
        """Return the balance at the end of the month."""
        return self.opening + sum((line.amount for line in self.lines), ZERO)

    def total(self, kind: str) -> Decimal:
        """Return the sum of the month's entries of `kind`."""
        return sum((line.amount for line in self.lines if line.kind == kind), ZERO)

    @property
    def totals(self) -> list[tuple[str, Decimal]]:
        """Return (kind label, sum) for every kind, in the ledger's order of kinds."""
        return [(kind.label, self.total(kind.value)) for kind in LedgerKind]

    @property
    def label(self) -> str:
        """Return the month as "November 2026"."""
        return f"{self.month:%B %Y}"


def month_parse(text: str | None) -> date:
    """Return the first day of the month "YYYY-MM"; MonthError for anything else."""
    match = MONTH_FORMAT.fullmatch(text or "")
    if not match:
        raise MonthError(BAD_MONTH)
    year, month = int(match.group(1)), int(match.group(2))
    if not (FIRST_YEAR <= year <= LAST_YEAR and 1 <= month <= 12):
        raise MonthError(BAD_MONTH)
    return date(year, month, 1)


def month_next(month: date) -> date:
    """Return the first day of the month after `month`."""
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def month_previous(month: date) -> date:
    """Return the first day of the month before `month`."""
    return date(month.year - (month.month == 1), (month.month - 2) % 12 + 1, 1)


def month_start(month: date, zone: tzinfo) -> datetime:
    """Return the moment the month begins: its first midnight in `zone`."""
    return datetime.combine(month, time.min, tzinfo=zone)


def month_current(publisher: Publisher) -> date:
    """Return the first day of the publisher's current month (in its time zone)."""
    today = timezone.now().astimezone(publisher_zone(publisher)).date()
    return today.replace(day=1)


def month_of(moment: datetime, publisher: Publisher) -> date:
    """Return the first day of the publisher's month that holds `moment`."""
    return moment.astimezone(publisher_zone(publisher)).date().replace(day=1)


def statement_build(*, publisher: Publisher, month: date) -> Statement:
    """Return the publisher's statement of `month` (two queries)."""
    zone = publisher_zone(publisher)
    start, end = month_start(month, zone), month_start(month_next(month), zone)
    ledger = LedgerEntry.objects.filter(publisher=publisher)
    earlier = ledger.filter(created_at__lt=start).aggregate(total=Sum("amount"))["total"]
    # Quantized: SQLite sums decimals as floats (0.21 - 0.21 = 2.8e-17); PostgreSQL is exact.
    opening = (earlier or ZERO).quantize(CENT)
    rows = (
        ledger.filter(created_at__gte=start, created_at__lt=end)
        .order_by("created_at", "id")
        .values_list(
            "id", "created_at", "kind", "amount", "order_id", "order__external_order_id", "note"
        )
    )
    lines: list[StatementLine] = []
    balance = opening
    for entry_id, created_at, kind, amount, order_id, external_id, note in rows:
        balance += amount
        lines.append(
            StatementLine(
                entry_id=entry_id,
                created_at=created_at,
                kind=kind,
                amount=amount,
                balance_after=balance,
                order_id=order_id,
                external_order_id=external_id or "",
                note=note,
            )
        )
    return Statement(
        publisher=publisher, month=month, zone=zone, opening=opening, lines=tuple(lines)
    )


def statement_months(publisher: Publisher) -> list[date]:
    """Return the months from the publisher's first ledger entry to now, newest first."""
    first = LedgerEntry.objects.filter(publisher=publisher).order_by("created_at", "id").first()
    current = month_current(publisher)
    month = month_of(first.created_at, publisher) if first else current
    months = []
    while month <= current:
        months.append(month)
        month = month_next(month)
    return months[::-1]
