"""The money invariants of SPEC §7, checked against the database, and order bodies for tests."""

from __future__ import annotations

import copy
import json
from collections import Counter
from decimal import Decimal

from fulfillment.models import ZERO, LedgerEntry, LedgerKind, Order, OrderStatus, Publisher
from tests.factories import sample

CHARGED_STATUSES = (OrderStatus.SCHEDULED, OrderStatus.IN_PRODUCTION, OrderStatus.SHIPPED)


def assert_money_invariants(publisher: Publisher | int) -> Publisher:
    """Assert SPEC §7's invariants for one publisher, read fresh; return the fresh row.

    balance ≥ 0; balance == sum of its ledger; every order is charged at most once and
    refunded at most once; a refund is +cost of a charged order, now `deleted` (a cancelled
    scheduled order); every unrefunded charge is −cost of an order of the same publisher in
    `scheduled`, `in_production` or `shipped`; every such order (not a test) has exactly one
    unrefunded charge; test orders are never charged.
    """
    pk = publisher if isinstance(publisher, int) else publisher.pk
    fresh = Publisher.objects.get(pk=pk)
    assert fresh.balance >= ZERO, f"negative balance {fresh.balance}"
    # Summed in Python: SQLite's SUM of a decimal column goes through float.
    amounts = LedgerEntry.objects.filter(publisher_id=pk).values_list("amount", flat=True)
    total = sum(amounts, ZERO)
    assert fresh.balance == total, f"balance {fresh.balance} != ledger sum {total}"

    entries = LedgerEntry.objects.filter(publisher_id=pk).select_related("order")
    charges = list(entries.filter(kind=LedgerKind.CHARGE))
    refunds = list(entries.filter(kind=LedgerKind.REFUND))
    per_order = Counter(entry.order_id for entry in charges)
    twice = {order_id: n for order_id, n in per_order.items() if n > 1}
    assert not twice, f"orders charged more than once: {twice}"
    refunded = Counter(entry.order_id for entry in refunds)
    twice = {order_id: n for order_id, n in refunded.items() if n > 1}
    assert not twice, f"orders refunded more than once: {twice}"
    for entry in refunds:
        order = entry.order
        assert order is not None, f"refund {entry.pk} has no order"
        assert order.pk in per_order, f"refund {entry.pk} of order {order.pk} never charged"
        assert order.status == OrderStatus.DELETED, f"refunded order {order.pk} is {order.status}"
        assert entry.amount == order.cost, f"refund {entry.amount} != cost {order.cost}"
    for entry in charges:
        order = entry.order
        assert order is not None, f"charge {entry.pk} has no order"
        assert order.publisher_id == pk, f"charge {entry.pk} is for another publisher's order"
        assert entry.amount == -order.cost, f"charge {entry.amount} != −cost {order.cost}"
        assert not order.is_test, f"test order {order.pk} was charged"
        if order.pk not in refunded:
            assert order.status in CHARGED_STATUSES, f"charged order {order.pk} is {order.status}"
    # A charge for another publisher's order recorded under this one would be caught above;
    # here, charges of this publisher's orders recorded under any publisher.
    foreign = LedgerEntry.objects.filter(
        kind__in=(LedgerKind.CHARGE, LedgerKind.REFUND), order__publisher_id=pk
    ).exclude(publisher_id=pk)
    assert not foreign.exists(), "a charge of this publisher's order sits in another ledger"

    charged_orders = Order.objects.filter(publisher_id=pk, status__in=CHARGED_STATUSES)
    uncharged = charged_orders.filter(is_test=False).exclude(pk__in=list(per_order))
    assert not uncharged.exists(), (
        f"orders scheduled/in production/shipped without a charge: "
        f"{list(uncharged.values_list('pk'))}"
    )
    tests_produced = charged_orders.filter(is_test=True)
    assert not tests_produced.exists(), "a test order reached production"
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
) -> bytes:
    """Return a SamCart Order body (from the `order_products_array` sample) with new values.

    `address=False` drops the shipping street (an incomplete address); `billing=False` empties
    the billing address too; `shipping=False` sends no shipping field at all (a product that
    collects none: the only case where the billing address may be used, SPEC §6).
    """
    data = json.loads(sample("order_products_array"))
    data["order"]["id"] = order_id
    line = data["products"][0]
    data["products"] = []
    for pid, qty in ((product_id, quantity), *extra_products):
        product = copy.deepcopy(line)
        product["id"], product["quantity"] = pid, qty
        data["products"].append(product)
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
