"""Template filters of the one clock and the one way to write money (SPEC §3)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django import template

from fulfillment import clock
from fulfillment.services import wording

register = template.Library()


@register.filter
def when(moment: datetime | None) -> str:
    """Show a moment in the viewer's (active) time zone: "2026-12-04 05:20 EST"."""
    return clock.when(moment)


@register.filter
def money(amount: Decimal | None) -> str:
    """Show an amount of money as "$30.00"."""
    return "—" if amount is None else wording.money(amount)
