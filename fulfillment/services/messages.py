"""Plain-English details a publisher reads in SamCart's integration log and in the admin."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fulfillment.models import HoldReason, Order, OrderStatus

from .status import order_address
from .wording import money

if TYPE_CHECKING:
    from fulfillment.carts import CartNotification

NO_MATCH = (
    "No active project of publisher {idpub} lists SamCart product ID {ids}. "
    "Put the ID in the project's Advanced Settings → eCommerceIDString "
    "(for example {example}), then reprocess this notification."
)
UNMATCHED_TAIL = " Not matched: SamCart product ID {ids} (set it in a project's eCommerceIDString)."
IGNORED = 'SamCart event "{type}" needs no print order; nothing was done.'
REFUND_FLAGGED = (
    'SamCart event "{type}" for order {order}: {count} order{s} marked "refunded in SamCart". '
    "No status or money changed; delete held orders yourself if they should not be made."
)
REFUND_NOTHING = 'SamCart event "{type}" for order {order}: no TrepStar order has that order ID.'
DELETED_STAYS = " {count} line{s} you deleted stay{verb} deleted."
REMAPPED_LINE = "SamCart line {product} of order {order} already has {orders}"
REMAPPED_ORDER = "order {pk} in project “{project}”"
REMAPPED = "{lines}; confirm to create another."
DUPLICATE = "Already received: SamCart order {order} has no new line (TrepStar order{s} {ids})."
REMAPPED_ON_ARRIVAL = (
    " SamCart product ID {products} now matches another project; nothing was created or charged"
    " again. To print it there too, reprocess this notification and confirm."
)
HELD_PRICE_PENDING = (
    "On hold: TrepStar has not confirmed the prices of {project} yet. The order waits until "
    "they do, whatever the balance."
)
HELD_ADDRESS = (
    "On hold: the shipping address is incomplete ({missing}). Fix it, then release the order."
)


def _ids(ids: list[str]) -> str:
    return ", ".join(ids)


def _plural(count: int) -> str:
    return "" if count == 1 else "s"


def no_match(idpub: str, unmatched: list[str]) -> str:
    """Say which product ids matched nothing and where to set them."""
    example = "{" + "}{".join(unmatched[:2]) + "}" if len(unmatched) > 1 else unmatched[0]
    return NO_MATCH.format(idpub=idpub, ids=_ids(unmatched), example=example)


def _tail(existing: dict[tuple[str, int], str], unmatched: list[str]) -> str:
    deleted = sum(1 for status in existing.values() if status == OrderStatus.DELETED)
    tail = ""
    if deleted:
        verb = "s" if deleted == 1 else ""
        tail += DELETED_STAYS.format(count=deleted, s=_plural(deleted), verb=verb)
    if unmatched:
        tail += UNMATCHED_TAIL.format(ids=_ids(unmatched))
    return tail


def duplicate(
    cart: CartNotification, done: list[Order], unmatched: list[str], *, remapped: list[Order]
) -> str:
    """Say that every matched line of the order had already been received, and by which orders.

    `remapped`: orders of lines whose product id now matches another project, which only a
    confirmed reprocess orders again.
    """
    ids = ", ".join(str(o.pk) for o in done)
    text = DUPLICATE.format(order=cart.order_id, s=_plural(len(done)), ids=ids)
    text += remapped_note(remapped)
    statuses = {(o.external_product_id, o.project_id): o.status for o in done}
    return text + _tail(statuses, unmatched)


def remapped_note(remapped: list[Order]) -> str:
    """Say which done lines now match another project and were left alone ("" when none)."""
    if not remapped:
        return ""
    products = ", ".join(dict.fromkeys(o.external_product_id for o in remapped))
    return REMAPPED_ON_ARRIVAL.format(products=products)


def created(orders: list[Order], existing: dict[tuple[str, int], str], unmatched: list[str]) -> str:
    """Summarise the orders created: how many went to production and how many wait."""
    produced = sum(1 for o in orders if o.status == OrderStatus.IN_PRODUCTION)
    scheduled = sum(1 for o in orders if o.status == OrderStatus.SCHEDULED)
    held = len(orders) - produced - scheduled
    ids = ", ".join(str(o.pk) for o in orders)
    text = f"Created {len(orders)} TrepStar order{_plural(len(orders))} ({ids}): "
    if scheduled:
        text += f"{scheduled} paid and scheduled (edit window), "
    text += f"{produced} in production, {held} on hold."
    reasons = sorted({o.get_hold_reason_display() for o in orders if o.status == OrderStatus.HOLD})
    if reasons:
        text += f" On hold because: {', '.join(reasons)}."
    if any(o.is_test for o in orders):
        text += " Test orders: never charged, never produced."
    if existing:
        text += f" {len(existing)} line{_plural(len(existing))} already received."
    return text + _tail(existing, unmatched)


def order_created(order: Order) -> str:
    """Describe where a new order came from."""
    test = " (test)" if order.is_test else ""
    found = " Found by the SamCart check." if order.found_by_run_id else ""
    return (
        f"From SamCart order {order.external_order_id}, product {order.external_product_id}: "
        f"{order.quantity} cop{'y' if order.quantity == 1 else 'ies'} of {order.project}{test}."
        f"{found}"
    )


HELD_REVIEW = (
    "On hold for review: found by the SamCart check (its Notify POST never arrived). The "
    "address is the buyer's current one from SamCart: check it, then release the order."
)


def hold_reason(order: Order) -> str:
    """Explain why a new order waits on hold."""
    if order.hold_reason == HoldReason.REVIEW:
        return HELD_REVIEW
    if order.hold_reason == HoldReason.PRICE_PENDING:
        return HELD_PRICE_PENDING.format(project=order.project)
    if order.is_test:
        return "Test order: held, never charged or produced."
    if order.hold_reason == HoldReason.ADDRESS_INCOMPLETE:
        return HELD_ADDRESS.format(missing=order_address(order=order).missing_text())
    return (
        f"On hold: the balance does not cover {money(order.cost)}. "
        "Add funds, then release the order."
    )


def ignored(event_type: str) -> str:
    """Say that an event type creates nothing."""
    return IGNORED.format(type=event_type)


def refund(event_type: str, order_id: str, count: int) -> str:
    """Say what a refund or cancellation did to existing orders."""
    if count == 0:
        return REFUND_NOTHING.format(type=event_type, order=order_id or "(none)")
    return REFUND_FLAGGED.format(type=event_type, order=order_id, count=count, s=_plural(count))


def remapped(orders: list[Order]) -> str:
    """Name the existing orders of SamCart lines a reprocess would create a second order for."""
    lines: dict[tuple[str, str], list[str]] = {}
    for order in orders:
        key = (order.external_order_id, order.external_product_id)
        lines.setdefault(key, []).append(
            REMAPPED_ORDER.format(pk=order.pk, project=order.project.title)
            + (" (deleted)" if order.status == OrderStatus.DELETED else "")
        )
    text = "; ".join(
        REMAPPED_LINE.format(product=product, order=order_id, orders=" and ".join(named))
        for (order_id, product), named in lines.items()
    )
    return REMAPPED.format(lines=text)
