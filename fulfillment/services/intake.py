"""Turn a parsed SamCart purchase into orders, exactly once, paid or held (SPEC §5–§7).

Runs inside the caller's transaction, from one read of the publisher, its matches and its
lines (`intake_snapshot`). Two ways to be sure that read still holds when the orders commit:
the Notify URL's first pass reads before it stores and locks nothing, then charges by a
compare-and-set on the publisher row (`publisher_charge_if_still_true`), which fails, raising
`StaleIntake`, when the balance or prices moved in between; every other pass (the retry of a
stale or racing first pass, a reprocess) locks the publisher row first and reads under the
lock. The unique constraints `line_exactly_once` and `order_one_box_number` stay the final
guarantee (SPEC §18: two first passes of one SamCart order collide on box 1).

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
    FoundBy,
    HoldReason,
    LedgerEntry,
    LedgerKind,
    Order,
    OrderEventKind,
    OrderLine,
    OrderStatus,
    Outcome,
    Project,
    Publisher,
    SamcartCheckRun,
)

from . import messages
from .boxes import (
    address_key,
    box_add_lines,
    box_choose,
    box_next_number,
    box_split_noted,
    boxes_lock,
)
from .charge import box_cost, box_wait_minutes, can_pay, line_price
from .deferred import insert_deferred
from .intake_snapshot import IntakeSnapshot, intake_snapshot
from .ledger import publisher_charge_if_still_true, publisher_lock
from .review import orders_review_from_notify
from .status import CHARGED_STATUSES, new_order_events, order_initial_status
from .window import window_end
from .wording import charged_detail

SOURCE = "samcart"


class StaleIntake(Exception):
    """The balance or prices moved since the snapshot: nothing was kept; redo it locked."""


@dataclass
class IntakeResult:
    """The outcome of one purchase notification and what to tell the publisher."""

    outcome: str
    detail: str
    created: list[Order] = field(default_factory=list)  # the box the new lines are in
    lines: list[OrderLine] = field(default_factory=list)  # the new lines
    # With `Remapped.REFUSE`: the done lines that a confirmation would order again.
    remapped: list[OrderLine] = field(default_factory=list)


def matching_projects(
    *, publisher_id: int, product_ids: tuple[str, ...]
) -> dict[str, list[Project]]:
    """Return the active projects of the publisher for each product id, in one indexed query."""
    snapshot = intake_snapshot(
        source=SOURCE, order_id="", product_ids=product_ids, publisher_id=publisher_id
    )
    return snapshot.matches if snapshot is not None else {}


def no_match_result(*, snapshot: IntakeSnapshot, cart: CartNotification) -> IntakeResult | None:
    """The one no-match rule (SPEC §4–§5): a purchase none of whose products matches an active
    project creates nothing and says which ids to set where; None when one matched.

    Decided from the read alone, so the Notify URL records it with the store (`notifications`).
    """
    if snapshot.matches:
        return None
    unmatched = [i for i in cart.product_ids if i not in snapshot.matches]
    return IntakeResult(Outcome.NO_MATCH, messages.no_match(snapshot.publisher.idpub, unmatched))


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


def existing_lines(*, publisher_id: int, order_id: str) -> list[OrderLine]:
    """Return every line already made for this SamCart order, removed ones and those of
    deleted boxes included, oldest first, with its box and project."""
    return list(
        OrderLine.objects.filter(
            publisher_id=publisher_id, source=SOURCE, external_order_id=order_id
        )
        .select_related("project", "order")
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
    # Lines the cart's products already made (any box, any status, removed ones included).
    done: list[OrderLine] = field(default_factory=list)
    # Lines of done products whose current mapping lists a project without a line: only a
    # confirmed reprocess (`Remapped.CREATE`) orders those products again.
    remapped: list[OrderLine] = field(default_factory=list)

    @property
    def done_boxes(self) -> list[Order]:
        """Return the boxes of the done lines, once each, oldest first."""
        boxes = {line.order_id: line.order for line in self.done}
        return [boxes[pk] for pk in sorted(boxes)]


def cart_lines_plan(
    *,
    cart: CartNotification,
    matches: dict[str, list[Project]],
    existing: list[OrderLine],
    remapped: Remapped,
) -> LinePlan:
    """Decide, by the one duplicate rule (SPEC §6, §18), which lines the cart's products make.

    A SamCart line (publisher, source, order id, product id) that already made lines, in any
    box, status and project, removed or not, is done: it creates nothing again, even when its
    product id moved to another project since; only `Remapped.CREATE` (a person confirmed)
    orders it in the projects it now matches. A line never seen makes one line per matching
    project (a bundle). Every path that processes a purchase (Notify URL, retry, reprocess,
    the SamCart check) decides through here.
    """
    by_line: dict[str, list[OrderLine]] = {}
    for line in existing:
        by_line.setdefault(line.external_product_id, []).append(line)
    plan = LinePlan()
    seen: set[str] = set()
    for item in cart.items:
        had = by_line.get(item.product_id, [])
        ordered_in = {line.project_id for line in had}
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


def _new_box(
    *,
    cart: CartNotification,
    publisher: Publisher,
    address: Address,
    notification_id: int | None,
    is_test: bool,
    found_by_run: SamcartCheckRun | None,
    box_number: int,
    split_reason: str,
    box_id: int | None,
) -> Order:
    """Build (not save) a new box of `cart`'s SamCart order (`box_id`: its id, when the
    intake's read took one; else the INSERT gives it).

    A box the SamCart check started (`found_by_run`) starts on hold `review` (§17).
    """
    return Order(
        pk=box_id,
        publisher=publisher,
        notification_id=notification_id,
        source=SOURCE,
        external_order_id=cart.order_id,
        box_number=box_number,
        split_reason=split_reason,
        ship_name=cart.customer.full_name[:200],
        ship_street=address.street,
        ship_city=address.city,
        ship_state=address.state,
        ship_postal_code=address.postal_code,
        ship_country=address.country,
        ship_country_code=address.country_code,
        cart_address_key=address_key(address),
        customer_email=cart.customer.email,
        customer_phone=cart.customer.phone,
        is_test=is_test,
        found_by=FoundBy.SAMCART_CHECK if found_by_run else FoundBy.NOTIFY,
        found_by_run=found_by_run,
        hold_reason=HoldReason.REVIEW if found_by_run else HoldReason.NONE,
    )


def _new_lines(
    *,
    cart: CartNotification,
    publisher: Publisher,
    pairs: list[tuple[LineItem, Project]],
    notification_id: int | None,
) -> list[OrderLine]:
    """Build (not save) one line per matched product and project, priced at today's prices."""
    lines = [
        OrderLine(
            publisher=publisher,
            project=project,
            notification_id=notification_id,
            source=SOURCE,
            external_order_id=cart.order_id,
            external_product_id=item.product_id,
            quantity=item.quantity,
        )
        for item, project in pairs
    ]
    for line in lines:
        line_price(line)
    return lines


def _settle(*, box: Order, lines: list[OrderLine], publisher: Publisher) -> None:
    """Price a new box and have the status module decide its first status.

    A charged box waits `scheduled` for `box_wait_minutes` (edit window, grouping) when that
    is more than zero, else goes to production (§15, §18).
    """
    box.cost = box_cost(lines)
    delay = box_wait_minutes(publisher=publisher)
    covered = can_pay(balance=publisher.balance, cost=box.cost)
    status = order_initial_status(order=box, lines=lines, covered=covered, delay_minutes=delay)
    if status in CHARGED_STATUSES:
        box.charged_at = timezone.now()
    if status == OrderStatus.SCHEDULED and box.charged_at is not None:
        box.production_at = window_end(charged_at=box.charged_at, delay_minutes=delay)


def _charge(*, publisher: Publisher, box: Order) -> Decimal:
    """Write the charge of a new box if the snapshot still holds (else StaleIntake); return
    the balance the charge left, as the compare-and-set returned it."""
    entries = (
        [
            LedgerEntry(
                publisher=publisher,
                amount=-box.cost,
                kind=LedgerKind.CHARGE,
                order=box,
                note=f"Order {box.pk}",
            )
        ]
        if box.status in CHARGED_STATUSES
        else []
    )
    held_for_money = box.hold_reason == HoldReason.PAYMENT_REQUIRED and not box.is_test
    balance = publisher_charge_if_still_true(
        publisher=publisher, entries=entries, held_for_money=held_for_money
    )
    if balance is None:
        raise StaleIntake
    return balance


def _record_events(*, box: Order, lines: list[OrderLine], balance_after: Decimal) -> None:
    """Write the events that tell a new box's first status (the charge's shows the balance
    it left, as the compare-and-set returned it)."""
    created = (OrderEventKind.CREATED, messages.order_created(box, lines))
    if box.status in CHARGED_STATUSES:
        second = (OrderEventKind.CHARGED, charged_detail(order=box, balance=balance_after))
    else:
        second = (OrderEventKind.HELD, messages.hold_reason(box, lines))
    new_order_events([box], {box.pk: [created, second]})


def _review(
    plan: LinePlan,
    cart: CartNotification,
    address: Address,
    notification_id: int | None,
    found_by_run: SamcartCheckRun | None,
    is_test: bool,
    joined: Order | None = None,
) -> str:
    """Let a Notify POST confirm the boxes of the done lines the SamCart check found, and the
    review box its new lines `joined` (§17, §18); say what it did."""
    if found_by_run is not None or is_test or notification_id is None:
        return ""
    boxes = [*plan.done_boxes, *([joined] if joined is not None else [])]
    return orders_review_from_notify(
        done=boxes, cart=cart, address=address, notification_id=notification_id
    )


def _start_box(
    *, box: Order, lines: list[OrderLine], publisher: Publisher, after: Order | None
) -> None:
    """Price, settle and save a new (unsaved) box with its `lines`: charged, or held with why;
    `after`: the box it split from, whose history then says where the items went."""
    _settle(box=box, lines=lines, publisher=publisher)
    # With its id known, the box goes with the charge in one statement on PostgreSQL, and its
    # lines with its events and the outcome (`deferred`: two statements of at most 50
    # parameters for one product, which psycopg parses once); else the INSERT gives the box
    # its id first. A racing duplicate collides on the box's number in the charge.
    if box.pk is None:
        Order.objects.bulk_create([box])
    else:
        insert_deferred(Order, [box])
    balance = _charge(publisher=publisher, box=box)
    for line in lines:
        line.order = box
    insert_deferred(OrderLine, lines)
    _record_events(box=box, lines=lines, balance_after=balance)
    if after is not None:
        box_split_noted(after=after, box=box, lines=lines)


def _locked_snapshot(*, publisher_id: int, cart: CartNotification) -> IntakeSnapshot:
    """Lock the publisher row, then read what the intake needs.

    Lock first, then read: a price change or confirmation takes the same lock before it writes
    the project, so the prices and `prices_confirmed` read here are committed.
    """
    publisher_lock(publisher_id=publisher_id)
    snapshot = purchase_snapshot(cart=cart, publisher_id=publisher_id)
    if snapshot is None:  # cannot happen: the row is locked, so it exists
        raise Publisher.DoesNotExist
    return snapshot


def _plan_of(*, snapshot: IntakeSnapshot, cart: CartNotification, remapped: Remapped) -> LinePlan:
    """Read the SamCart order's lines (when it has any) and plan by the one duplicate rule."""
    existing = (
        existing_lines(publisher_id=snapshot.publisher.pk, order_id=cart.order_id)
        if snapshot.has_lines
        else []
    )
    return cart_lines_plan(
        cart=cart, matches=snapshot.matches, existing=existing, remapped=remapped
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
    locked = snapshot is None
    while True:
        if snapshot is None:
            snapshot = _locked_snapshot(publisher_id=publisher_id, cart=cart)
        publisher, matches = snapshot.publisher, snapshot.matches
        unmatched = [i for i in cart.product_ids if i not in matches]
        nothing = no_match_result(snapshot=snapshot, cart=cart)
        if nothing is not None:
            return nothing
        plan = _plan_of(snapshot=snapshot, cart=cart, remapped=remapped)
        if locked or not (snapshot.has_lines and plan.new):
            break
        # New lines of a SamCart order that has lines may join one of its boxes, which takes
        # the locks (publisher, then the boxes): read again under them. (A resend with no new
        # line is decided on the first read, as before boxes.)
        snapshot, locked = None, True
    if plan.remapped and remapped == Remapped.REFUSE:
        return IntakeResult(
            Outcome.DUPLICATE, messages.remapped(plan.remapped), remapped=plan.remapped
        )
    done = {(line.external_product_id, line.project_id): line.order.status for line in plan.done}
    address = ship_to(cart=cart, publisher=publisher)
    if not plan.new:
        detail = messages.duplicate(cart, plan.done, unmatched, remapped=plan.remapped)
        reviewed = _review(plan, cart, address, notification_id, found_by_run, is_test)
        return IntakeResult(Outcome.DUPLICATE, f"{detail} {reviewed}".strip())
    lines = _new_lines(
        cart=cart, publisher=publisher, pairs=plan.new, notification_id=notification_id
    )
    boxes = (
        boxes_lock(publisher_id=publisher.pk, source=SOURCE, order_id=cart.order_id)
        if snapshot.has_lines
        else []
    )
    # A POST without a shipping address has nothing to disagree with: it joins (§18). Nor has
    # the SamCart check: its address is the buyer's current one, not this sale's (§17). A test
    # purchase and a real one never share a box (a test box is never charged).
    addressless = cart.shipping.is_empty() or found_by_run is not None
    choice = box_choose(
        boxes=[box for box in boxes if box.is_test == is_test],
        address=Address() if addressless else address,
        now=timezone.now(),
    )
    if choice.box is not None:
        joined = box_add_lines(publisher=publisher, box=choice.box, lines=lines)
        detail = messages.joined(choice.box, lines, joined, done, unmatched)
        box = choice.box
    else:
        box = _new_box(
            cart=cart,
            publisher=publisher,
            address=address,
            notification_id=notification_id,
            is_test=is_test,
            found_by_run=found_by_run,
            box_number=box_next_number(boxes),
            split_reason=choice.split_reason,
            box_id=snapshot.new_box_id,
        )
        _start_box(box=box, lines=lines, publisher=publisher, after=choice.after)
        detail = messages.created(box, lines, done, unmatched)
    detail += messages.remapped_note(plan.remapped)
    # After the new lines' charge: the review's charges move the balance.
    reviewed = _review(plan, cart, address, notification_id, found_by_run, is_test, choice.box)
    return IntakeResult(Outcome.CREATED, f"{detail} {reviewed}".strip(), created=[box], lines=lines)
