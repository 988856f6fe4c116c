"""The money invariants of SPEC §7 and §18, checked against the database, and order bodies
for tests."""

from __future__ import annotations

import copy
import json
from decimal import Decimal

from fulfillment.models import ZERO, LedgerEntry, LedgerKind, Order, OrderStatus, Publisher
from fulfillment.services.charge import box_cost, order_compute_cost
from tests.factories import sample

CHARGED_STATUSES = (OrderStatus.SCHEDULED, OrderStatus.IN_PRODUCTION, OrderStatus.SHIPPED)
UNCHARGED_STATUSES = (OrderStatus.HOLD, OrderStatus.DELETED)


def assert_money_invariants(publisher: Publisher | int) -> Publisher:
    """Assert SPEC §7's and §18's invariants for one publisher, read fresh; return the row.

    balance ≥ 0 and balance == Σ ledger. Every charge and refund names a box of the same
    publisher, in its ledger. Per box, its ledger (charges − refunds) takes −cost from the
    balance while `scheduled`, `in_production` or `shipped`, and nothing while `hold` or
    `deleted` (a box may be charged several times: a joining line charges the difference; a
    box held again or cancelled is refunded its net charge). A box's cost is `box_cost` of its
    active lines: as priced when charged, at today's prices while on hold. Every box keeps at
    least one active line. Test boxes have no ledger entry at all and never reach production.
    """
    pk = publisher if isinstance(publisher, int) else publisher.pk
    fresh = Publisher.objects.get(pk=pk)
    assert fresh.balance >= ZERO, f"negative balance {fresh.balance}"
    # Summed in Python: SQLite's SUM of a decimal column goes through float.
    entries = list(LedgerEntry.objects.filter(publisher_id=pk).select_related("order"))
    total = sum((entry.amount for entry in entries), ZERO)
    assert fresh.balance == total, f"balance {fresh.balance} != ledger sum {total}"

    net: dict[int, Decimal] = {}
    for entry in entries:
        if entry.kind not in (LedgerKind.CHARGE, LedgerKind.REFUND):
            continue
        order = entry.order
        assert order is not None, f"{entry.kind} {entry.pk} has no order"
        assert order.publisher_id == pk, f"{entry.kind} {entry.pk} is for another publisher's box"
        net[order.pk] = net.get(order.pk, ZERO) - entry.amount
    # A charge of this publisher's box recorded under any other publisher.
    foreign = LedgerEntry.objects.filter(
        kind__in=(LedgerKind.CHARGE, LedgerKind.REFUND), order__publisher_id=pk
    ).exclude(publisher_id=pk)
    assert not foreign.exists(), "a charge of this publisher's box sits in another ledger"

    for box in Order.objects.filter(publisher_id=pk).with_lines():
        charged = net.get(box.pk, ZERO)
        lines = box.active_lines()
        assert lines, f"box {box.pk} has no active line"
        if box.is_test:
            assert box.pk not in net, f"test box {box.pk} has ledger entries"
            assert box.status not in CHARGED_STATUSES, f"test box {box.pk} is {box.status}"
        if box.status in CHARGED_STATUSES:
            assert charged == box.cost, (
                f"box {box.pk} is {box.status} with a net charge of {charged}, cost {box.cost}"
            )
            assert box.cost == box_cost(lines), (
                f"box {box.pk} costs {box.cost}, its lines as priced {box_cost(lines)}"
            )
        else:
            assert charged == ZERO, f"box {box.pk} is {box.status} with a net charge of {charged}"
        if box.status == OrderStatus.HOLD:
            stored = box_cost(lines)
            now = order_compute_cost(order=box, lines=lines)  # prices the copies, saves nothing
            assert box.cost == stored == now, (
                f"hold box {box.pk} costs {box.cost}; its lines as stored {stored}, today {now}"
            )
    return fresh


def order_body(
    *,
    order_id: int | str,
    product_id: int | str = 279813,
    quantity: int = 1,
    address: bool = True,
    billing: bool = True,
    shipping: bool = True,
    extra_products: tuple[tuple[int | str, int], ...] = (),
    street: str | None = None,
) -> bytes:
    """Return a SamCart Order body (from the `order_products_array` sample) with new values.

    `address=False` drops the shipping street (an incomplete address); `billing=False` empties
    the billing address too; `shipping=False` sends no shipping field at all (a product that
    collects none: the only case where the billing address may be used, SPEC §6); `street`
    ships to another street (another address, SPEC §18).
    """
    data = json.loads(sample("order_products_array"))
    data["order"]["id"] = order_id
    line = data["products"][0]
    data["products"] = []
    for pid, qty in ((product_id, quantity), *extra_products):
        product = copy.deepcopy(line)
        product["id"], product["quantity"] = pid, qty
        data["products"].append(product)
    if street is not None:
        data["order"]["shipping_address"] = street
    if not address:
        data["order"]["shipping_address"] = ""
    if not shipping:
        for key in [k for k in data["order"] if k.startswith("shipping_")]:
            data["order"][key] = ""
    if not billing:
        for key in ("billing_address", "billing_city", "billing_zip", "billing_country"):
            data["customer"][key] = ""
    return json.dumps(data).encode()


def dollars(value: str | int) -> Decimal:
    """Return `value` as a two-place Decimal."""
    return Decimal(value).quantize(Decimal("0.01"))
