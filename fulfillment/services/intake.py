"""Turn a parsed SamCart purchase into orders, exactly once, paid or held (SPEC §5–§7).

Runs inside the caller's transaction, from one read of the publisher, its matches and its
lines (`intake_snapshot`). Two ways to be sure that read still holds when the orders commit:
the Notify URL's first pass reads before it stores and locks nothing, then charges by a
compare-and-set on the publisher row (`publisher_charge_if_still_true`), which fails, raising
`StaleIntake`, when the balance or prices moved in between; every other pass (the retry of a
stale or racing first pass, a reprocess) locks the publisher row first and reads under the
lock. The unique constraint `order_exactly_once` stays the final guarantee.

Which lines create orders is one rule for every path (Notify URL, retries, reprocess, the
SamCart check): `cart_lines_plan`. A SamCart line that already produced orders is done.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from django.utils import timezone

from fulfillment.carts import CartNotification
from fulfillment.carts.base import Address, LineItem
from fulfillment.models import (
    ZERO,
    FoundBy,
    HoldReason,
    LedgerEntry,
    LedgerKind,
    Order,
    OrderEventKind,
    OrderStatus,
    Outcome,
    Project,
    Publisher,
    SamcartCheckRun,
)

from . import messages
from .charge import can_pay
from .intake_snapshot import IntakeSnapshot, intake_snapshot
from .ledger import publisher_charge_if_still_true, publisher_lock
from .review import orders_review_from_notify
from .status import CHARGED_STATUSES, new_order_events, order_initial_status
from .window import orders_schedule_production, window_end
from .wording import charged_detail

SOURCE = "samcart"


class StaleIntake(Exception):
    """The balance or prices moved since the snapshot: nothing was kept; redo it locked."""


@dataclass
class IntakeResult:
    """The outcome of one purchase notification and what to tell the publisher."""

    outcome: str
    detail: str
    created: list[Order] = field(default_factory=list)
    # With `Remapped.REFUSE`: the orders of done lines that a confirmation would order again.
    remapped: list[Order] = field(default_factory=list)


def matching_projects(
    *, publisher_id: int, product_ids: tuple[str, ...]
) -> dict[str, list[Project]]:
    """Return the active projects of the publisher for each product id, in one indexed query."""
    snapshot = intake_snapshot(
        source=SOURCE, order_id="", product_ids=product_ids, publisher_id=publisher_id
    )
    return snapshot.matches if snapshot is not None else {}


def purchase_snapshot(
    *, cart: CartNotification, idpub: str = "", publisher_id: int | None = None
) -> IntakeSnapshot | None:
    """Read what creating the orders of `cart` needs (None: no such publisher)."""
    return intake_snapshot(
        source=SOURCE,
        order_id=cart.order_id,
        product_ids=cart.product_ids if cart.is_order else (),
        idpub=idpub,
        publisher_id=publisher_id,
    )


def existing_lines(*, publisher_id: int, order_id: str) -> list[Order]:
    """Return every order already made for this SamCart order, any status, oldest first."""
    return list(
        Order.objects.filter(publisher_id=publisher_id, source=SOURCE, external_order_id=order_id)
        .select_related("project")
        .order_by("id")
    )


class Remapped(StrEnum):
    """What to do with a line that is done but now matches a project it has no order in."""

    SKIP = "skip"  # the Notify URL and every automatic path: duplicate, nothing created
    REFUSE = "refuse"  # a reprocess: create nothing at all and ask the person to confirm
    CREATE = "create"  # a reprocess the person confirmed: order it in the new project too


@dataclass
class LinePlan:
    """What the lines of one SamCart order call for, by the one duplicate rule."""

    new: list[tuple[LineItem, Project]] = field(default_factory=list)
    # Orders the cart's lines already produced (any status, deleted included).
    done: list[Order] = field(default_factory=list)
    # Orders of done lines whose current mapping lists a project without an order: only a
    # confirmed reprocess (`Remapped.CREATE`) orders those lines again.
    remapped: list[Order] = field(default_factory=list)


def cart_lines_plan(
    *,
    cart: CartNotification,
    matches: dict[str, list[Project]],
    existing: list[Order],
    remapped: Remapped,
) -> LinePlan:
    """Decide, by the one duplicate rule (SPEC §6), which orders the cart's lines create.

    A SamCart line (publisher, source, order id, product id) that already produced orders, in
    any status and any project, is done: it creates nothing again, even when its product id
    moved to another project since; only `Remapped.CREATE` (a person confirmed) orders it in
    the projects it now matches. A line never seen makes one order per matching project (a
    bundle). Every path that processes a purchase (Notify URL, retry, reprocess, the SamCart
    check) decides through here.
    """
    by_line: dict[str, list[Order]] = {}
    for order in existing:
        by_line.setdefault(order.external_product_id, []).append(order)
    plan = LinePlan()
    seen: set[str] = set()
    for item in cart.items:
        had = by_line.get(item.product_id, [])
        ordered_in = {order.project_id for order in had}
        fresh = [p for p in matches.get(item.product_id, []) if p.pk not in ordered_in]
        if item.product_id not in seen:
            plan.done += had
            if had and fresh and remapped != Remapped.CREATE:
                plan.remapped += had
        seen.add(item.product_id)
        if not had or remapped == Remapped.CREATE:
            plan.new += [(item, project) for project in fresh]
    return plan


def ship_to(*, cart: CartNotification, publisher: Publisher) -> Address:
    """Return the address to ship to (SPEC §6).

    The billing address only when no shipping field came at all, the publisher chose
    `use_billing_address` and the billing address is complete. A shipping address that came
    incomplete (a gift with a typo) is kept, so the order holds with `address_incomplete`.
    """
    if cart.shipping.is_empty() and publisher.use_billing_address and cart.billing.is_complete():
        return cart.billing
    return cart.shipping


def _new_order(
    *,
    cart: CartNotification,
    publisher: Publisher,
    project: Project,
    product_id: str,
    quantity: int,
    address: Address,
    notification_id: int | None,
    is_test: bool,
    found_by_run: SamcartCheckRun | None,
) -> Order:
    """Build (not save) the order for one matched line and project.

    An order the SamCart check found (`found_by_run`) starts on hold `review` (§17).
    """
    return Order(
        publisher=publisher,
        project=project,
        notification_id=notification_id,
        source=SOURCE,
        external_order_id=cart.order_id,
        external_product_id=product_id,
        quantity=quantity,
        ship_name=cart.customer.full_name[:200],
        ship_street=address.street,
        ship_city=address.city,
        ship_state=address.state,
        ship_postal_code=address.postal_code,
        ship_country=address.country,
        ship_country_code=address.country_code,
        customer_email=cart.customer.email,
        customer_phone=cart.customer.phone,
        cost=project.cost_of(quantity),
        is_test=is_test,
        found_by=FoundBy.SAMCART_CHECK if found_by_run else FoundBy.NOTIFY,
        found_by_run=found_by_run,
        hold_reason=HoldReason.REVIEW if found_by_run else HoldReason.NONE,
    )


def _settle(*, orders: list[Order], publisher: Publisher) -> None:
    """Have the status module decide each new order's first status, in arrival order.

    The balance left pays each order in turn. A charged order with an edit window is
    `scheduled` to start production when the window ends (§15).
    """
    now = timezone.now()
    delay = publisher.production_delay_minutes
    total = ZERO
    for order in orders:
        covered = can_pay(balance=publisher.balance - total, cost=order.cost)
        status = order_initial_status(order=order, covered=covered, delay_minutes=delay)
        if status in CHARGED_STATUSES:
            order.charged_at = now
            total += order.cost
        if status == OrderStatus.SCHEDULED:
            order.production_at = window_end(charged_at=now, delay_minutes=delay)


def _charge(*, publisher: Publisher, orders: list[Order]) -> Decimal:
    """Write the charges of the new orders if the snapshot still holds (else StaleIntake);
    return the balance the charge left, as the compare-and-set returned it."""
    charged = [o for o in orders if o.status in CHARGED_STATUSES]
    entries = [
        LedgerEntry(
            publisher=publisher,
            amount=-o.cost,
            kind=LedgerKind.CHARGE,
            order=o,
            note=f"Order {o.pk}",
        )
        for o in charged
    ]
    held_for_money = any(
        o.hold_reason == HoldReason.PAYMENT_REQUIRED and not o.is_test for o in orders
    )
    balance = publisher_charge_if_still_true(
        publisher=publisher, entries=entries, held_for_money=held_for_money
    )
    if balance is None:
        raise StaleIntake
    return balance


def _record_events(*, orders: list[Order], balance_after: Decimal) -> None:
    """Write the events that tell each new order's first status.

    Each charge's event shows the balance after that charge, in the order they were paid,
    counted back from `balance_after` (what the charge left in the row, not the snapshot's).
    """
    charged = [o for o in orders if o.status in CHARGED_STATUSES]
    balance = balance_after + sum((o.cost for o in charged), ZERO)
    events: dict[int, list[tuple[str, str]]] = {}
    for order in orders:
        created = (OrderEventKind.CREATED, messages.order_created(order))
        if order.status in CHARGED_STATUSES:
            balance -= order.cost
            second = (OrderEventKind.CHARGED, charged_detail(order=order, balance=balance))
        else:
            second = (OrderEventKind.HELD, messages.hold_reason(order))
        events[order.pk] = [created, second]
    new_order_events(orders, events)


def _review(
    plan: LinePlan,
    cart: CartNotification,
    address: Address,
    notification_id: int | None,
    found_by_run: SamcartCheckRun | None,
    is_test: bool,
) -> str:
    """Let a Notify POST confirm the done lines the SamCart check found (§17); say what it did."""
    if found_by_run is not None or is_test or notification_id is None:
        return ""
    return orders_review_from_notify(
        done=plan.done, cart=cart, address=address, notification_id=notification_id
    )


def orders_create_from_cart(
    *,
    publisher_id: int,
    notification_id: int | None,
    cart: CartNotification,
    is_test: bool,
    snapshot: IntakeSnapshot | None = None,
    remapped: Remapped = Remapped.SKIP,
    found_by_run: SamcartCheckRun | None = None,
) -> IntakeResult:
    """Create the orders of a purchase once; charge what the balance covers, hold the rest.

    With `snapshot` (read before the notification was stored) nothing is locked and a moved
    balance or price raises StaleIntake; without one the publisher row is locked, then read.
    Which lines create orders is `cart_lines_plan`'s decision; `remapped` says what to do with
    a done line whose product id now matches another project. `found_by_run`: the SamCart
    check creates the orders (no notification), on hold `review`. A Notify POST for lines the
    check found while they wait for review confirms them (`orders_review_from_notify`).
    """
    if snapshot is None:
        # Lock first, then read: a price change or confirmation takes the same lock before it
        # writes the project, so the prices and `prices_confirmed` read here are committed.
        publisher_lock(publisher_id=publisher_id)
        snapshot = purchase_snapshot(cart=cart, publisher_id=publisher_id)
        if snapshot is None:  # cannot happen: the row is locked, so it exists
            raise Publisher.DoesNotExist
    publisher, matches = snapshot.publisher, snapshot.matches
    unmatched = [i for i in cart.product_ids if i not in matches]
    if not matches:
        return IntakeResult(Outcome.NO_MATCH, messages.no_match(publisher.idpub, unmatched))
    existing = (
        existing_lines(publisher_id=publisher.pk, order_id=cart.order_id)
        if snapshot.has_lines
        else []
    )
    plan = cart_lines_plan(cart=cart, matches=matches, existing=existing, remapped=remapped)
    if plan.remapped and remapped == Remapped.REFUSE:
        return IntakeResult(
            Outcome.DUPLICATE, messages.remapped(plan.remapped), remapped=plan.remapped
        )
    done = {(o.external_product_id, o.project_id): o.status for o in plan.done}
    address = ship_to(cart=cart, publisher=publisher)
    if not plan.new:
        detail = messages.duplicate(cart, plan.done, unmatched, remapped=plan.remapped)
        reviewed = _review(plan, cart, address, notification_id, found_by_run, is_test)
        return IntakeResult(Outcome.DUPLICATE, f"{detail} {reviewed}".strip())
    new_orders = [
        _new_order(
            cart=cart,
            publisher=publisher,
            project=project,
            product_id=item.product_id,
            quantity=item.quantity,
            address=address,
            notification_id=notification_id,
            is_test=is_test,
            found_by_run=found_by_run,
        )
        for item, project in plan.new
    ]
    _settle(orders=new_orders, publisher=publisher)
    Order.objects.bulk_create(new_orders)
    balance = _charge(publisher=publisher, orders=new_orders)
    _record_events(orders=new_orders, balance_after=balance)
    orders_schedule_production(orders=new_orders)
    detail = messages.created(new_orders, done, unmatched) + messages.remapped_note(plan.remapped)
    # After the new lines' compare-and-set charge: the review's charges move the balance.
    reviewed = _review(plan, cart, address, notification_id, found_by_run, is_test)
    return IntakeResult(Outcome.CREATED, f"{detail} {reviewed}".strip(), created=new_orders)
