"""Compare SamCart's orders, a page at a time, with the orders made here (SPEC §17).

A page costs two statements whatever its size: our lines of its SamCart order ids, and the
active projects of its product ids (`matching_projects`). Nothing is written here: the result
says what is missing, refunded or of another quantity, and the run decides what to do.

A *line* is one product of one SamCart order (the unique key of our order lines, SPEC §18):
cart items of the same product in one order add up, as the Notify URL's parser merges them.
Ours is held whenever an `OrderLine` of it exists, removed or in a deleted box (exactly once:
it is never ordered again); only the live ones, in a box not deleted and not removed, are
compared for quantity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fulfillment.models import FindingKind, OrderLine, OrderStatus

from .intake import SOURCE, matching_projects

if TYPE_CHECKING:
    from fulfillment.samcart_api import ApiCartItem, ApiOrder

COUNTED_STATUSES = frozenset({"charged", "fulfilled"})
REFUNDED_STATUSES = frozenset({"refunded", "partially_refunded", "reversed"})


@dataclass(frozen=True)
class OurLine:
    """What we hold for one line: the boxes it is in, and those not flagged refunded yet."""

    order_ids: tuple[int, ...] = ()
    unflagged: tuple[int, ...] = ()
    # Live lines (not removed, box not deleted): their box and quantity, to compare with SamCart's.
    quantities: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class ApiLine:
    """One line of a SamCart order: its items of one product, added up."""

    order: ApiOrder
    product_id: str
    quantity: int  # the counted items' (charged or fulfilled), else all items'
    status: str  # the first item's; "charged" when any item counts
    counts_paid: bool
    refunded: bool

    def finding(self, kind: str, orders: tuple[int, ...] = ()) -> dict[str, object]:
        """Return this line as a finding of `kind` (the shape `SamcartCheckRun.findings` has)."""
        entry: dict[str, object] = {
            "kind": kind,
            "order_id": self.order.id,
            "product_id": self.product_id,
            "item_status": self.status,
            "quantity": self.quantity,
        }
        if orders:
            entry["orders"] = list(orders)
        return entry


@dataclass
class Comparison:
    """What the pages compared so far found (kept across pages, decided on at the end)."""

    pages: int = 0
    orders_seen: int = 0
    lines_seen: int = 0
    lines_counted: int = 0
    missing: list[ApiLine] = field(default_factory=list)
    # Refunded lines with orders here not flagged yet, and those orders.
    refunded: list[tuple[ApiLine, tuple[int, ...]]] = field(default_factory=list)
    quantity: list[dict[str, object]] = field(default_factory=list)


def api_lines(order: ApiOrder) -> list[ApiLine]:
    """Return the lines of an order: its items grouped by product id, in first-seen order."""
    grouped: dict[str, list[ApiCartItem]] = {}
    for item in order.items:
        grouped.setdefault(item.product_id, []).append(item)
    lines = []
    for product_id, items in grouped.items():
        paid = [i for i in items if i.status in COUNTED_STATUSES]
        lines.append(
            ApiLine(
                order=order,
                product_id=product_id,
                quantity=sum(i.quantity for i in (paid or items)),
                status=paid[0].status if paid else items[0].status,
                counts_paid=bool(paid),
                refunded=any(i.status in REFUNDED_STATUSES for i in items),
            )
        )
    return lines


def _once(boxes: tuple[int, ...], pk: int) -> tuple[int, ...]:
    """Return `boxes` with `pk` added unless it is there already."""
    return boxes if pk in boxes else (*boxes, pk)


def our_lines(*, publisher_id: int, order_ids: list[str]) -> dict[tuple[str, str], OurLine]:
    """Return our lines of these SamCart orders by (order id, product id), in one statement."""
    rows = (
        OrderLine.objects.filter(
            publisher_id=publisher_id, source=SOURCE, external_order_id__in=order_ids
        )
        .order_by("id")
        .values_list(
            "order_id",
            "external_order_id",
            "external_product_id",
            "quantity",
            "order__status",
            "cart_refunded",
            "removed_at",
        )
    )
    found: dict[tuple[str, str], OurLine] = {}
    for pk, order_id, product_id, quantity, status, refunded, removed_at in rows:
        line = found.get((order_id, product_id), OurLine())
        live = status != OrderStatus.DELETED and removed_at is None
        # A bundle's lines (one product, several projects) may share a box: each box once.
        found[(order_id, product_id)] = OurLine(
            order_ids=_once(line.order_ids, pk),
            unflagged=line.unflagged if refunded else _once(line.unflagged, pk),
            quantities=(*line.quantities, (pk, quantity)) if live else line.quantities,
        )
    return found


def page_compare(*, publisher_id: int, page: list[ApiOrder], into: Comparison) -> None:
    """Compare one page of SamCart orders with ours and add what it found to `into`.

    A line counts when an item is `charged` or `fulfilled`, the order is not in test mode and
    its product id maps to an active project of the publisher. Test orders are seen, not
    compared; a refunded line is flagged only where we have its orders (whatever its mapping).
    """
    into.pages += 1
    into.orders_seen += len(page)
    live = [order for order in page if not order.test_mode]
    lines = [line for order in live for line in api_lines(order)]
    into.lines_seen += sum(len(api_lines(order)) for order in page if order.test_mode)
    into.lines_seen += len(lines)
    if not lines:
        return
    product_ids = tuple(dict.fromkeys(line.product_id for line in lines))
    mapped = matching_projects(publisher_id=publisher_id, product_ids=product_ids)
    ours = our_lines(publisher_id=publisher_id, order_ids=[order.id for order in live])
    for line in lines:
        held = ours.get((line.order.id, line.product_id), OurLine())
        if line.refunded and held.unflagged:
            into.refunded.append((line, held.unflagged))
        if not line.counts_paid or line.product_id not in mapped:
            continue
        into.lines_counted += 1
        if not held.order_ids:
            into.missing.append(line)
            continue
        other = tuple(
            dict.fromkeys(pk for pk, quantity in held.quantities if quantity != line.quantity)
        )
        if other:
            into.quantity.append(line.finding(FindingKind.QUANTITY, other))
