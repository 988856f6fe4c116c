"""The words of money for people: amounts, moments, order lists, the queue rule (SPEC §7).

Pure helpers: no database, no writes; services, pages and e-mails say money the same way.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from fulfillment.clock import when
from fulfillment.models import HoldReason

if TYPE_CHECKING:
    from collections.abc import Iterable

    from fulfillment.models import Order, OrderLine

KEPT_PRICE_PENDING = "waits for TrepStar to confirm its price"
KEPT_ADDRESS_INCOMPLETE = "has an incomplete shipping address"
# Why a release keeps an order on hold, by the hold reason `order_hold_reason` gives.
KEPT_REVIEW = (
    "was found by the SamCart check: check its address, then release it on its own (release "
    "all leaves it)"
)
KEPT_FOR_REASON = {
    HoldReason.REVIEW: KEPT_REVIEW,
    HoldReason.PRICE_PENDING: KEPT_PRICE_PENDING,
    HoldReason.ADDRESS_INCOMPLETE: KEPT_ADDRESS_INCOMPLETE,
}
COST_CHANGED = "Cost now {cost} (was {was}): the project's prices changed."
# The one queue rule (SPEC §7), said the same way in messages, on the account page and in docs.
QUEUE_RULE = (
    "Release charges your hold orders oldest first; an order your balance does not cover stays"
    " on hold and the next ones still go."
)


def money(amount: Decimal) -> str:
    """Format an amount for people: $1,234.50."""
    sign = "−" if amount < 0 else ""
    return f"{sign}${abs(amount):,.2f}"


def charged_detail(*, order: Order, balance: Decimal) -> str:
    """Say what charging `order` did, and when production starts for a scheduled one (§15)."""
    text = f"Charged {money(order.cost)}; balance now {money(balance)}."
    if order.production_at is not None:
        text += f" Production starts at {when(order.production_at)} (edit window)."
    return text


def order_numbers(orders: Iterable[Order]) -> str:
    """Name orders for people: "#5, #6 and #8"."""
    names = [f"#{order.pk}" for order in orders]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def plural(count: int, word: str) -> str:
    """Return "1 order" or "3 orders"."""
    return f"{count} {word}{'' if count == 1 else 's'}"


def items_summary(lines: Iterable[OrderLine]) -> str:
    """Say what is in a box: "2 items: Book, DVD × 2" (a line's quantity when more than 1)."""
    lines = list(lines)
    names = [
        f"{line.project.title}" + (f" × {line.quantity}" if line.quantity > 1 else "")
        for line in lines
    ]
    return f"{plural(len(lines), 'item')}: {', '.join(names)}"
