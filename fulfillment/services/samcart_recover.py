"""What a SamCart check does about what it found (SPEC §17): flag refunds, order missing lines.

A missing line becomes an order line through the same intake and unique key as the Notify
URL (`orders_create_from_cart`). It joins the open box of its SamCart order by the intake's
rule, whatever the address (the check only knows the buyer's current one, so it has nothing
to disagree with), and the box then follows the normal join rule (SPEC §18): the address and
the sale came with the box's own Notify POST. With no open box it starts one with the buyer
and address of the customer record, on hold `review`. Each SamCart order is its own
transaction: a Notify POST or another run that made the line meanwhile wins (the unique key
refuses ours, or the intake answers duplicate).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.db import IntegrityError, OperationalError, transaction

from fulfillment.carts import CartNotification
from fulfillment.carts.base import Customer, LineItem
from fulfillment.limits import MAX_QUANTITY
from fulfillment.models import FindingKind, Outcome, SamcartCheckRun

from .intake import orders_create_from_cart
from .notifications import REDO_SQLSTATES
from .orders import orders_flag_cart_refunded
from .samcart_compare import ApiLine

if TYPE_CHECKING:
    from fulfillment.samcart_api import ApiCustomer, ApiOrder, SamcartClient

logger = logging.getLogger(__name__)

REDO_TRIES = 3  # passes of one SamCart order's lines that met a racing delivery

# The event type the order history shows for a refund the check saw ('SamCart sent "…"').
REFUND_SEEN = "{status}, seen by the SamCart check"


def refunds_flag(
    *, publisher_id: int, refunded: list[tuple[ApiLine, tuple[int, ...]]]
) -> list[dict[str, object]]:
    """Flag our lines SamCart shows refunded or reversed, and their boxes; return the findings.

    Only lines with order lines here not flagged yet come in (`page_compare`), so a refund
    already flagged (by a Refund notification or an earlier run) is not said again. The lines
    of one SamCart order are flagged together: one event per box names them all.
    """
    grouped: dict[str, list[tuple[ApiLine, tuple[int, ...]]]] = {}
    for line, boxes in refunded:
        grouped.setdefault(line.order.id, []).append((line, boxes))
    findings = []
    for order_id, pairs in grouped.items():
        statuses = ", ".join(dict.fromkeys(line.status for line, _ in pairs))
        flagged = orders_flag_cart_refunded(
            publisher_id=publisher_id,
            order_id=order_id,
            product_ids=tuple(line.product_id for line, _ in pairs),
            event_type=REFUND_SEEN.format(status=statuses),
        )
        if flagged:
            findings += [line.finding(FindingKind.REFUNDED, boxes) for line, boxes in pairs]
    return findings


def by_order(lines: Iterable[ApiLine]) -> dict[str, list[ApiLine]]:
    """Group lines by their SamCart order, in first-seen order."""
    grouped: dict[str, list[ApiLine]] = {}
    for line in lines:
        grouped.setdefault(line.order.id, []).append(line)
    return grouped


def cart_from_api(
    *, order: ApiOrder, customer: ApiCustomer, lines: list[ApiLine]
) -> CartNotification:
    """Build the purchase the Notify POST would have brought, with only `lines`.

    The address is the customer's shipping address, else their billing address: the current
    one SamCart keeps, which is why the order waits for review.
    """
    address = customer.billing if customer.shipping.is_empty() else customer.shipping
    return CartNotification(
        event_type="Order",
        order_id=order.id,
        created_at=order.order_date,
        customer=Customer(
            first_name=customer.first_name,
            last_name=customer.last_name,
            email=customer.email,
            phone=customer.phone,
        ),
        shipping=address,
        billing=customer.billing,
        items=tuple(
            LineItem(product_id=line.product_id, quantity=line.quantity, price=None)
            for line in lines
        ),
    )


def _create(*, run: SamcartCheckRun, cart: CartNotification) -> list[tuple[int, str]] | None:
    """Create the lines of `cart` found by `run`; return (box id, product id) of each.

    None: someone else ordered the lines meanwhile (a racing Notify POST committed them first:
    the intake found them done). A Notify POST's first pass writes without the publisher lock,
    so its box or lines may meet ours in the unique keys (IntegrityError), or PostgreSQL may
    pick our pass as the victim of the deadlock between its new keys and our publisher lock.
    Either way our transaction was rolled back whole: it runs again, REDO_TRIES times at
    most, under the lock, and then sees what the POST committed (the lines it did not bring
    still join its box).
    """
    for attempt in range(1, REDO_TRIES + 1):
        try:
            with transaction.atomic():
                result = orders_create_from_cart(
                    publisher_id=run.publisher_id,
                    notification_id=None,
                    cart=cart,
                    is_test=False,
                    found_by_run=run,
                )
            break
        except (IntegrityError, OperationalError) as error:
            if attempt == REDO_TRIES or not _raced(error):
                raise
            logger.info("SamCart order %s met a racing delivery; again: %s", cart.order_id, error)
    if result.outcome == Outcome.DUPLICATE:
        logger.info("SamCart order %s: %s", cart.order_id, result.detail)
        return None
    # NO_MATCH (the projects went inactive meanwhile) creates nothing: the lines stay missing.
    return [(line.order_id, line.external_product_id) for line in result.lines]


def _raced(error: Exception) -> bool:
    """Tell whether `error` is a racing delivery's (a unique key, a deadlock, a serialization
    failure: rolled back whole, safe to run again), not a fault to report."""
    if isinstance(error, IntegrityError):
        return True
    return getattr(error.__cause__, "sqlstate", None) in REDO_SQLSTATES


def _order_lines(
    *, run: SamcartCheckRun, client: SamcartClient, lines: list[ApiLine]
) -> list[dict[str, object]]:
    """Order the missing lines of one SamCart order; return their findings."""
    usable = [line for line in lines if 1 <= line.quantity <= MAX_QUANTITY]
    findings = [line.finding(FindingKind.MISSING) for line in lines if line not in usable]
    if not usable:
        return findings
    order = usable[0].order
    customer = client.customer(order_id=order.id)
    created = _create(run=run, cart=cart_from_api(order=order, customer=customer, lines=usable))
    if created is None:
        return findings
    for line in usable:
        # A bundle's lines of one product are in the same box: name it once.
        made = tuple(dict.fromkeys(pk for pk, pid in created if pid == line.product_id))
        findings.append(line.finding(FindingKind.CREATED if made else FindingKind.MISSING, made))
    return findings


def missing_lines_create(
    *,
    run: SamcartCheckRun,
    client: SamcartClient,
    missing: list[ApiLine],
    into: list[dict[str, object]],
) -> None:
    """Order the missing lines, one SamCart order at a time; add their findings to `into`.

    A created line is a `created` finding with its orders; a line that could not be ordered
    (a quantity no order may have, its project gone meanwhile) stays `missing`; one that
    someone else ordered meanwhile is no longer missing and says nothing. An error (SamCart's
    API failing on a customer) stops the run: `into` then holds what was done and every line
    not reached as `missing`, and the error goes on up.
    """
    grouped = list(by_order(missing).values())
    for done, lines in enumerate(grouped):
        try:
            into += _order_lines(run=run, client=client, lines=lines)
        except BaseException:
            into += [line.finding(FindingKind.MISSING) for rest in grouped[done:] for line in rest]
            raise
