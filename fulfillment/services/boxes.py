"""Which box a SamCart order's new lines go in, and lines joining an open box (SPEC §18).

A box is open while it is on hold, or scheduled before its `production_at`. New lines join
the open box of their SamCart order that ships to the same address (a POST without a shipping
address joins the first open box: nothing to disagree with); otherwise they start a new box
that says why. Joining a scheduled box charges the difference when the balance pays it;
otherwise the box's net charge is refunded and it holds, whole, until released.

Everything here runs under the publisher's row lock, with the boxes of the SamCart order
locked (`boxes_lock`), so a window ending or a release cannot move a box between the choice
and the join.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db.models import prefetch_related_objects

from fulfillment.carts.base import Address
from fulfillment.models import (
    HoldReason,
    LedgerKind,
    Order,
    OrderEvent,
    OrderEventKind,
    OrderLine,
    OrderStatus,
    Publisher,
    SplitReason,
)

from .charge import box_cost, box_reprice, can_pay, line_price
from .deferred import insert_deferred
from .ledger import box_refund_net, ledger_record
from .status import order_address, order_hold_reason, order_sync_hold_reason, order_transition
from .window import window_open
from .wording import items_summary, money

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

SPLIT_EVENT = "Item {items} of this SamCart order went to a new box, order {pk}: it {why}."
JOINED_CHARGED = "Charged the difference, {diff}; balance now {balance}."
JOINED_REFUNDED = (
    "The balance ({balance_before}) does not pay the difference ({diff}) for the added items: "
    "the box's charge of {net} is refunded (balance now {balance}) and the whole box waits on "
    "hold until you release it."
)
JOINED_HELD = (
    "An added item cannot be charged yet ({reason}): the box's charge of {net} is refunded "
    "(balance now {balance}) and the whole box waits on hold."
)


def address_key(address: Address) -> str:
    """Return a fingerprint of an address as SamCart sent it: case, spaces and punctuation
    aside, so "12 Main St." and "12 main st" are the same place ("" for no address)."""
    if address.is_empty():
        return ""
    parts = (
        address.street,
        address.city,
        address.state,
        address.postal_code,
        address.country_code or address.country,
    )
    plain = "|".join("".join(ch for ch in part.casefold() if ch.isalnum()) for part in parts)
    return hashlib.sha256(plain.encode()).hexdigest()


def box_open(*, order: Order, now: datetime) -> bool:
    """Tell whether new lines may still join `order`: on hold, or scheduled in its window."""
    return order.status == OrderStatus.HOLD or window_open(order=order, now=now)


@dataclass(frozen=True)
class BoxChoice:
    """Where new lines go: the open box to join, or a new box and why it is separate."""

    box: Order | None
    split_reason: str = SplitReason.NONE
    after: Order | None = None  # the box a new one is split from (it says why, too)


def box_choose(*, boxes: list[Order], address: Address, now: datetime) -> BoxChoice:
    """Choose the box of new lines of a SamCart order among its `boxes` (oldest first)."""
    if not boxes:
        return BoxChoice(box=None)
    open_boxes = [box for box in boxes if box_open(order=box, now=now)]
    key = address_key(address)
    for box in open_boxes:
        # A box waiting for review has the address the SamCart check guessed (the buyer's
        # current one, §17): nothing to disagree with; the POST that joins it confirms it.
        guessed = box.hold_reason == HoldReason.REVIEW
        if (
            not key
            or guessed
            or key in (box.cart_address_key, address_key(order_address(order=box)))
        ):
            return BoxChoice(box=box)
    if open_boxes:
        return BoxChoice(None, SplitReason.ANOTHER_ADDRESS, after=open_boxes[-1])
    last = boxes[-1]
    reason = (
        SplitReason.AFTER_CLOSED
        if last.status == OrderStatus.DELETED
        else SplitReason.AFTER_PRODUCTION
    )
    return BoxChoice(None, reason, after=last)


def boxes_lock(*, publisher_id: int, source: str, order_id: str) -> list[Order]:
    """Lock the boxes of one SamCart order, oldest first, with their lines (the caller holds
    the publisher's row lock: the one lock order)."""
    return list(
        Order.objects.select_for_update(of=("self",), no_key=True)
        .with_lines()
        .filter(publisher_id=publisher_id, source=source, external_order_id=order_id)
        .order_by("box_number")
    )


def box_split_noted(*, after: Order, box: Order, lines: list[OrderLine]) -> None:
    """Tell, in the history of the box a new one split from, where its new items went."""
    why = SplitReason(box.split_reason).label
    OrderEvent.objects.create(
        order=after,
        kind=OrderEventKind.EDITED,
        detail=SPLIT_EVENT.format(items=items_summary(lines), pk=box.pk, why=why),
    )


def _refresh_lines(order: Order) -> list[OrderLine]:
    """Read a box's lines again after lines were added (the prefetch is stale)."""
    getattr(order, "_prefetched_objects_cache", {}).pop("lines", None)
    prefetch_related_objects([order], "lines__project")
    return order.active_lines()


def _lines_joined(order: Order, lines: list[OrderLine]) -> list[OrderLine]:
    """Return a box's active lines once `lines`, just saved, are in it.

    A box locked with its lines (`boxes_lock` reads them after taking the lock, so none were
    added since) gets `lines` appended to that prefetch, so whoever reads its lines next (the
    hold reason, a repricing) sees them, without reading the lines and their projects again;
    any other box is read again.
    """
    prefetched = getattr(order, "_prefetched_objects_cache", {}).get("lines")
    if prefetched is None or prefetched._result_cache is None:
        return _refresh_lines(order)
    prefetched._result_cache.extend(lines)  # the list Django keeps for `order.lines.all()`
    return order.active_lines()


def box_add_lines(
    *,
    publisher: Publisher,
    box: Order,
    lines: list[OrderLine],
    actor: AbstractBaseUser | None = None,
) -> str:
    """Put new, unsaved `lines` in a locked open box of a locked publisher; settle its money.

    On hold the box is priced again at today's prices (a hold cost follows them) and its hold
    reason follows. Scheduled, the lines it had keep the prices it was charged at; the new
    lines are priced now; the difference is charged when the balance pays it, else the box's
    net charge is refunded and the whole box holds (payment required, or the reason the rule
    gives). Returns what happened, for the notification's detail.
    """
    for line in lines:
        line.order = box
        line_price(line)
    OrderLine.objects.bulk_create(lines)
    added = f"Added {items_summary(lines)}."
    if box.status == OrderStatus.HOLD:
        before = box.cost
        box.cost = box_reprice(order=box, lines=_lines_joined(box, lines))
        box.save(update_fields=["cost", "updated_at"])
        detail = f"{added} Cost {money(before)} → {money(box.cost)}."
        _line_added(box, actor, detail)
        order_sync_hold_reason(order=box, actor=actor)
        return detail
    everything = _lines_joined(box, lines)
    new_cost = box_cost(everything)
    diff = new_cost - box.cost
    reason = order_hold_reason(order=box, lines=everything)
    paid = not diff or can_pay(balance=publisher.balance, cost=diff)
    if reason == HoldReason.PAYMENT_REQUIRED and paid:
        if diff:
            ledger_record(
                publisher_id=publisher.pk,
                amount=-diff,
                kind=LedgerKind.CHARGE,
                actor=actor,
                order=box,
                note=f"Order {box.pk}: items added",
            )
            publisher.balance -= diff
        box.cost = new_cost
        box.save(update_fields=["cost", "updated_at"])
        charged = JOINED_CHARGED.format(diff=money(diff), balance=money(publisher.balance))
        detail = f"{added} Cost {money(new_cost - diff)} → {money(new_cost)}. {charged}"
        _line_added(box, actor, detail)
        return detail
    return _box_hold_again(
        publisher=publisher, box=box, reason=reason, diff=diff, added=added, actor=actor
    )


def _line_added(box: Order, actor: AbstractBaseUser | None, detail: str) -> None:
    """Record that lines joined `box` (a write nobody reads back: it rides with the next merge
    inside a Notify pass, `insert_deferred`)."""
    event = OrderEvent(order=box, kind=OrderEventKind.LINE_ADDED, actor=actor, detail=detail)
    insert_deferred(OrderEvent, [event])


def _box_hold_again(
    *,
    publisher: Publisher,
    box: Order,
    reason: str,
    diff: Decimal,
    added: str,
    actor: AbstractBaseUser | None,
) -> str:
    """Refund a locked scheduled box's net charge and put it back on hold, whole."""
    balance_before = publisher.balance
    net = box_refund_net(
        publisher=publisher, order=box, actor=actor, note=f"Order {box.pk}: items added, held again"
    )
    box.cost = box_reprice(order=box)
    box.charged_at = None
    box.production_at = None
    box.alerted_at = None
    if reason == HoldReason.PAYMENT_REQUIRED:
        why = JOINED_REFUNDED.format(
            balance_before=money(balance_before),
            diff=money(diff),
            net=money(net),
            balance=money(publisher.balance),
        )
    else:
        why = JOINED_HELD.format(
            reason=HoldReason(reason).label, net=money(net), balance=money(publisher.balance)
        )
    OrderEvent.objects.create(order=box, kind=OrderEventKind.LINE_ADDED, actor=actor, detail=added)
    order_transition(
        order=box,
        target=OrderStatus.HOLD,
        kind=OrderEventKind.HELD,
        actor=actor,
        detail=why,
        hold_reason=reason,
        extra_fields=("cost", "charged_at", "production_at", "alerted_at"),
    )
    return f"{added} {why}"


def box_next_number(boxes: list[Order]) -> int:
    """Return the number of a new box of a SamCart order with these `boxes`."""
    return max((box.box_number for box in boxes), default=0) + 1
