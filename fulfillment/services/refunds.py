"""What a publisher can still do about an order SamCart refunded (issue 20, point 16; SPEC §6).

A SamCart refund changes no status and no money here: it flags the boxes. What can still be
done depends on where each box is: one on hold can be deleted, one scheduled in its edit
window cancelled (its cost comes back), one past its window or in production only TrepStar
can try to stop, one shipped is gone. The Notify answer and the order page say the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db.models import Min, OuterRef, Subquery, Sum
from django.utils.text import capfirst

from fulfillment.clock import publisher_zone, when
from fulfillment.models import (
    ZERO,
    LedgerEntry,
    LedgerKind,
    Order,
    OrderEvent,
    OrderEventKind,
    OrderStatus,
    Publisher,
)
from fulfillment.models.base import MoneyField

from .window import window_open
from .wording import money

if TYPE_CHECKING:
    from datetime import datetime, tzinfo
    from decimal import Decimal

HOLD_ADVICE = "order #{pk} is on hold: delete it if it should not be made"
CANCEL_ADVICE = (
    "order #{pk} is scheduled: cancel it before production starts at {start} to get its {cost} back"
)
STOP_ADVICE = (
    "order #{pk} is already paid and {where}: only TrepStar can still stop it — ask them now at "
    "{email}, naming order #{pk} (SamCart order {external}); what is already made cannot be "
    "refunded"
)
SHIPPED_ADVICE = "order #{pk} has shipped: it can no longer be stopped"
PAST_WINDOW = "past its edit window"
IN_PRODUCTION = "in production"


def refund_advice(order: Order, *, zone: tzinfo | None = None) -> str | None:
    """Say what can still be done about a box refunded in SamCart, or None when nothing
    needs doing (deleted, cancelled, a test)."""
    if order.is_test or order.status == OrderStatus.DELETED:
        return None
    if order.status == OrderStatus.HOLD:
        return HOLD_ADVICE.format(pk=order.pk)
    if order.status == OrderStatus.SHIPPED:
        return SHIPPED_ADVICE.format(pk=order.pk)
    if order.status == OrderStatus.SCHEDULED and window_open(order=order):
        start = when(order.production_at, zone)
        return CANCEL_ADVICE.format(pk=order.pk, start=start, cost=money(order.cost))
    where = IN_PRODUCTION if order.status == OrderStatus.IN_PRODUCTION else PAST_WINDOW
    return STOP_ADVICE.format(
        pk=order.pk, where=where, email=settings.SUPPORT_EMAIL, external=order.external_order_id
    )


def refund_advice_all(*, publisher_id: int, order_id: str) -> str:
    """Say, for every flagged box of a SamCart order, what can still be done ("" if nothing)."""
    boxes = Order.objects.filter(
        publisher_id=publisher_id, external_order_id=order_id, cart_refunded=True
    ).order_by("created_at", "id")
    zone = publisher_zone(Publisher.objects.only("time_zone").get(pk=publisher_id))
    advice = [text for box in boxes if (text := refund_advice(box, zone=zone))]
    if not advice:
        return ""
    return capfirst("; ".join(advice)) + "."


def cart_refunded_at(order_ids: list[int]) -> dict[int, datetime]:
    """Return, per order, when SamCart's refund of it was first recorded (its event)."""
    rows = (
        OrderEvent.objects.filter(order_id__in=order_ids, kind=OrderEventKind.CART_REFUNDED)
        .values("order_id")
        .annotate(first=Min("created_at"))
    )
    return {row["order_id"]: row["first"] for row in rows}


def refund_notice(order: Order, *, zone: tzinfo | None = None) -> str | None:
    """Say on the order and ship pages that SamCart refunded the order, when, and what can
    still be done ("Refunded in SamCart on 2026-12-04 05:20 EST: order #14 is already paid
    and in production: only TrepStar can still stop it — …."); None when it was not."""
    if not order.cart_refunded:
        return None
    moment = cart_refunded_at([order.pk]).get(order.pk)
    head = f"Refunded in SamCart on {when(moment, zone)}"
    advice = refund_advice(order, zone=zone)
    return f"{head}: {advice}." if advice else f"{head}."


SHIP_FLAG = (
    "Refunded in SamCart on {moment} — do not ship; stop it if you can and tell {publisher} "
    "(order #{pk}, SamCart order {external}). Tick “ship anyway” only if they confirm it "
    "should go."
)


def ship_flags(orders: list[Order], *, zone: tzinfo | None = None) -> dict[int, str]:
    """Return, per refunded order among `orders`, the staff's loud flag for the ship page."""
    refunded = [o for o in orders if o.cart_refunded]
    moments = cart_refunded_at([o.pk for o in refunded])
    return {
        o.pk: SHIP_FLAG.format(
            moment=when(moments.get(o.pk), zone),
            publisher=o.publisher.name,
            pk=o.pk,
            external=o.external_order_id,
        )
        for o in refunded
    }


def refunded_total_expression() -> Subquery:
    """Return the sum of a box's `refund` ledger entries, to annotate as `refunded_total`
    (None when it has none): a deleted box refunded is a cancelled one (SPEC §15)."""
    refunds = (
        LedgerEntry.objects.filter(order_id=OuterRef("pk"), kind=LedgerKind.REFUND)
        .order_by()
        .values("order_id")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    return Subquery(refunds, output_field=MoneyField())


def order_refunded_total(order: Order) -> Decimal:
    """Return what the ledger gave back for `order` (its annotation when there is one)."""
    if hasattr(order, "refunded_total"):
        return order.refunded_total or ZERO
    if order.status != OrderStatus.DELETED:  # only a cancelled box shows its refund
        return ZERO
    total = LedgerEntry.objects.filter(order_id=order.pk, kind=LedgerKind.REFUND).aggregate(
        total=Sum("amount")
    )["total"]
    return total or ZERO


def cancelled_refunded_text(order: Order) -> str | None:
    """Say "cancelled — refunded $11.45" for a deleted box the ledger refunded, else None."""
    if order.status != OrderStatus.DELETED:
        return None
    total = order_refunded_total(order)
    return CANCELLED_REFUNDED.format(amount=money(total)) if total > ZERO else None


CANCELLED_REFUNDED = "cancelled — refunded {amount}"
