"""Plain-English details a publisher reads in SamCart's integration log and in the admin."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fulfillment.models import HoldReason, Order, OrderLine, OrderStatus

from .status import hold_reason_label, order_address
from .wording import items_summary, money

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
    "No status or money changed here. {advice}"
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
    cart: CartNotification,
    done: list[OrderLine],
    unmatched: list[str],
    *,
    remapped: list[OrderLine],
) -> str:
    """Say that every matched line of the order had already been received, and in which boxes.

    `remapped`: lines whose product id now matches another project, which only a confirmed
    reprocess orders again.
    """
    boxes = sorted({line.order_id for line in done})
    ids = ", ".join(str(pk) for pk in boxes)
    text = DUPLICATE.format(order=cart.order_id, s=_plural(len(boxes)), ids=ids)
    text += remapped_note(remapped)
    return text + _tail(_statuses(done), unmatched)


def _statuses(lines: list[OrderLine]) -> dict[tuple[str, int], str]:
    """Return each line's state, a removed line counted as deleted."""
    return {
        (line.external_product_id, line.project_id): (
            OrderStatus.DELETED if line.removed_at else line.order.status
        )
        for line in lines
    }


def remapped_note(remapped: list[OrderLine]) -> str:
    """Say which done lines now match another project and were left alone ("" when none)."""
    if not remapped:
        return ""
    products = ", ".join(dict.fromkeys(line.external_product_id for line in remapped))
    return REMAPPED_ON_ARRIVAL.format(products=products)


def _box_state(box: Order) -> str:
    """Say where a box stands: "in production", "paid and scheduled", "on hold (reason)"."""
    if box.status == OrderStatus.SCHEDULED:
        return "paid and scheduled (it waits before production for more items and edits)"
    if box.status == OrderStatus.HOLD:
        return f"on hold ({hold_reason_label(box)})"
    return box.get_status_display()


def created(
    box: Order, lines: list[OrderLine], existing: dict[tuple[str, int], str], unmatched: list[str]
) -> str:
    """Summarise a new box: what is in it and where it stands."""
    text = f"Created TrepStar order {box.pk} ({items_summary(lines)}, {money(box.cost)}): "
    text += f"{_box_state(box)}."
    if box.split_reason:
        text += f" A separate box for SamCart order {box.external_order_id}: it "
        text += f"{box.get_split_reason_display()}."
    if box.is_test:
        text += " Test order: never charged, never produced."
    if existing:
        text += f" {len(existing)} line{_plural(len(existing))} already received."
    return text + _tail(existing, unmatched)


def joined(
    box: Order,
    lines: list[OrderLine],
    what: str,
    existing: dict[tuple[str, int], str],
    unmatched: list[str],
) -> str:
    """Summarise lines that joined an open box."""
    text = f"Joined TrepStar order {box.pk} of SamCart order {box.external_order_id}: {what} "
    text += f"The box is {_box_state(box)}."
    if existing:
        text += f" {len(existing)} line{_plural(len(existing))} already received."
    return text + _tail(existing, unmatched)


def order_created(box: Order, lines: list[OrderLine]) -> str:
    """Describe where a new box came from and what is in it."""
    test = " (test)" if box.is_test else ""
    found = " Found by the SamCart check." if box.found_by_run_id else ""
    products = ", ".join(dict.fromkeys(line.external_product_id for line in lines))
    return (
        f"From SamCart order {box.external_order_id}, product {products}: "
        f"{items_summary(lines)}{test}.{found}"
    )


HELD_REVIEW = (
    "On hold for review: found by the SamCart check (its Notify POST never arrived). The "
    "address is the buyer's current one from SamCart: check it, then release the order."
)


def hold_reason(box: Order, lines: list[OrderLine]) -> str:
    """Explain why a new box waits on hold."""
    if box.hold_reason == HoldReason.REVIEW:
        return HELD_REVIEW
    if box.hold_reason == HoldReason.PRICE_PENDING:
        pending = [line.project.title for line in lines if not line.project.prices_confirmed]
        return HELD_PRICE_PENDING.format(project=", ".join(dict.fromkeys(pending)))
    if box.is_test:
        return "Test order: held, never charged or produced."
    if box.hold_reason == HoldReason.ADDRESS_INCOMPLETE:
        return HELD_ADDRESS.format(missing=order_address(order=box).missing_text())
    return (
        f"On hold: the balance does not cover {money(box.cost)}. Add funds, then release the order."
    )


def ignored(event_type: str) -> str:
    """Say that an event type creates nothing."""
    return IGNORED.format(type=event_type)


def refund(event_type: str, order_id: str, count: int, advice: str = "") -> str:
    """Say what a refund or cancellation did to existing orders, and what can still be done
    about each (`refunds.refund_advice_all`: delete, cancel, or ask TrepStar to stop it)."""
    if count == 0:
        return REFUND_NOTHING.format(type=event_type, order=order_id or "(none)")
    text = REFUND_FLAGGED.format(
        type=event_type, order=order_id, count=count, s=_plural(count), advice=advice
    )
    return text.strip()


def remapped(done: list[OrderLine]) -> str:
    """Name the existing lines of SamCart products a reprocess would order a second time."""
    lines: dict[tuple[str, str], list[str]] = {}
    for line in done:
        key = (line.external_order_id, line.external_product_id)
        gone = line.removed_at is not None or line.order.status == OrderStatus.DELETED
        lines.setdefault(key, []).append(
            REMAPPED_ORDER.format(pk=line.order_id, project=line.project.title)
            + (" (deleted)" if gone else "")
        )
    text = "; ".join(
        REMAPPED_LINE.format(product=product, order=order_id, orders=" and ".join(named))
        for (order_id, product), named in lines.items()
    )
    return REMAPPED.format(lines=text)
