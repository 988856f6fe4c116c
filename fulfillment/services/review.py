"""Orders the SamCart check found, confirmed by the Notify POST that arrives late (SPEC §17).

While such an order is still on hold `review`, the POST's address replaces the one the check
took from SamCart's customer record (the buyer's current address, which may not be the one of
this sale) and the order follows the normal rules: charged when the balance covers it, else on
hold with the reason the rule gives.
"""

from __future__ import annotations

from django.db import transaction

from fulfillment.carts import CartNotification
from fulfillment.carts.base import Address
from fulfillment.models import HoldReason, Order, OrderEvent, OrderEventKind, OrderStatus

from .ledger import publisher_lock
from .release import orders_release

REVIEW_ADDRESS_REPLACED = (
    "The Notify POST for this sale arrived (notification {notification}): its address replaces "
    "the one the SamCart check took from SamCart's customer record; the order follows the "
    "normal rules now."
)


def _apply(*, order: Order, cart: CartNotification, address: Address, notification_id: int) -> None:
    """Write the POST's buyer and address on a locked order, with an event."""
    order.ship_name = cart.customer.full_name[:200] or order.ship_name
    order.ship_street = address.street
    order.ship_city = address.city
    order.ship_state = address.state
    order.ship_postal_code = address.postal_code
    order.ship_country = address.country
    order.ship_country_code = address.country_code
    order.customer_email = cart.customer.email or order.customer_email
    order.customer_phone = cart.customer.phone or order.customer_phone
    if order.notification_id is None:
        order.notification_id = notification_id
    order.save()
    OrderEvent.objects.create(
        order=order,
        kind=OrderEventKind.EDITED,
        detail=REVIEW_ADDRESS_REPLACED.format(notification=notification_id),
    )


def orders_review_from_notify(
    *, done: list[Order], cart: CartNotification, address: Address, notification_id: int
) -> str:
    """Confirm `done` orders still on hold `review` with the POST's address; say what happened.

    Runs in the caller's transaction: the publisher row, then the orders oldest first (the one
    lock order of money), then the release queue with `reviewed=True`.
    """
    waiting = [o.pk for o in done if o.hold_reason == HoldReason.REVIEW]
    if not waiting:
        return ""
    publisher_id = done[0].publisher_id
    with transaction.atomic(savepoint=False):
        publisher = publisher_lock(publisher_id=publisher_id)
        locked = list(
            Order.objects.select_for_update(of=("self",), no_key=True)
            .filter(pk__in=waiting, status=OrderStatus.HOLD, hold_reason=HoldReason.REVIEW)
            .order_by("created_at", "id")
        )
        for order in locked:
            _apply(order=order, cart=cart, address=address, notification_id=notification_id)
        if not locked:
            return ""
        result = orders_release(
            publisher=publisher, order_ids=[o.pk for o in locked], actor=None, reviewed=True
        )
    return f"Found by the SamCart check and confirmed by this POST: {result.message}"
