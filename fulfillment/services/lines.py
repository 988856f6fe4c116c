"""A publisher's changes to the lines of a box on hold (SPEC §18): a quantity, a removal.

Only on hold: a scheduled box is paid at its lines' prices, so its lines stay (cancel it for
the refund). A removed line stays in the box, marked removed, so SamCart resending it creates
nothing; the last line of a box is not removed (delete the box instead). Each change prices
the box again at today's prices (a hold cost follows them) and syncs its hold reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from fulfillment.models import OrderEvent, OrderEventKind, OrderLine, OrderStatus

from .charge import box_reprice
from .errors import ERROR_NOT_ON_HOLD, NotEditable
from .ledger import publisher_lock
from .orders import order_update_check
from .status import order_lock, order_sync_hold_reason
from .wording import money

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from fulfillment.models import Order

ERROR_LAST_LINE = (
    "This is the only item left in order {order}: delete the order instead of removing its "
    "last item."
)
ERROR_LINE_REMOVED = "This item was removed from order {order}; it stays removed."
ERROR_LINE_NOT_IN_BOX = "Order {order} has no such item."


def _locked_hold_box(*, line: OrderLine) -> tuple[Order, OrderLine]:
    """Lock the publisher then the box of `line`; insist the box is on hold and the line is
    still in it; return the box and its locked copy of the line."""
    publisher_lock(publisher_id=line.publisher_id)
    box = order_lock(order_id=line.order_id)
    if box.status != OrderStatus.HOLD:
        raise NotEditable(ERROR_NOT_ON_HOLD.format(order=box.pk, status=box.get_status_display()))
    mine = next((each for each in box.lines.all() if each.pk == line.pk), None)
    if mine is None:
        raise NotEditable(ERROR_LINE_NOT_IN_BOX.format(order=box.pk))
    if mine.removed_at is not None:
        raise NotEditable(ERROR_LINE_REMOVED.format(order=box.pk))
    return box, mine


def _reprice(*, box: Order, actor: AbstractBaseUser | None, detail: str, kind: str) -> None:
    """Price a locked hold box again, save its cost, record `detail` and sync its reason."""
    before = box.cost
    box.cost = box_reprice(order=box)
    box.save(update_fields=["cost", "updated_at"])
    if box.cost != before:
        detail += f" Cost {money(before)} → {money(box.cost)}."
    OrderEvent.objects.create(order=box, kind=kind, actor=actor, detail=detail)
    order_sync_hold_reason(order=box, actor=actor)


def order_line_update(
    *, line: OrderLine, quantity: object, actor: AbstractBaseUser | None
) -> OrderLine:
    """Set the quantity of a line of a box on hold; price the box again.

    The quantity goes through the one check of order edits (`order_update_check`: a whole
    number from 1 to MAX_QUANTITY), field-keyed under "quantity".
    """
    order_update_check(quantity=quantity)
    with transaction.atomic():
        box, mine = _locked_hold_box(line=line)
        if mine.quantity == quantity:
            return mine
        was = mine.quantity
        mine.quantity = quantity  # type: ignore[assignment]  # checked: an int in range
        mine.save(update_fields=["quantity"])
        detail = f"{mine.project.title}: quantity {was} → {mine.quantity}."
        _reprice(box=box, actor=actor, detail=detail, kind=OrderEventKind.EDITED)
    return mine


def order_line_remove(*, line: OrderLine, actor: AbstractBaseUser | None) -> OrderLine:
    """Remove a line from a box on hold (it stays removed when SamCart resends it); price
    the box again. The last line of a box is refused: delete the box instead."""
    with transaction.atomic():
        box, mine = _locked_hold_box(line=line)
        if len(box.active_lines()) <= 1:
            raise ValidationError({"lines": [ERROR_LAST_LINE.format(order=box.pk)]})
        mine.removed_at = timezone.now()
        mine.save(update_fields=["removed_at"])
        product = mine.external_product_id
        detail = f"Removed {mine.project.title} × {mine.quantity} (SamCart product {product})."
        _reprice(box=box, actor=actor, detail=detail, kind=OrderEventKind.LINE_REMOVED)
    return mine
