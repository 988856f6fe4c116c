"""Publisher-scoped reads used by the admin and the account page (no writes here)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db.models import Count, Min, Q, Subquery, Sum
from django.utils import timezone

from fulfillment import clock
from fulfillment.carts.base import PayloadError
from fulfillment.carts.samcart import parse_samcart
from fulfillment.models import (
    REPROCESSABLE_OUTCOMES,
    ZERO,
    FindingKind,
    HoldReason,
    LedgerEntry,
    Notification,
    Order,
    OrderLine,
    OrderStatus,
    ProjectCartId,
    Publisher,
    RefusedRequestTally,
    RunStatus,
    SamcartCheckRun,
    is_trepstar_staff,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
    from django.db.models import QuerySet


REFUSED_PERIOD = timedelta(hours=24)  # the account page counts wrong-key requests this far back
# After an eCommerceIDString is fixed, the `no_match` notifications of this long ago are offered
# for reprocessing (SamCart retries nothing; older purchases are someone's decision).
NAMING_PERIOD = timedelta(days=90)
NAMING_LIMIT = 500  # bodies parsed at most, newest first
# The account page lists at most this many findings of each kind; the run's admin page has all.
CARD_FINDINGS_LIMIT = 50
FINDING_TEXT_LIMIT = 100  # characters of a SamCart id shown (findings hold what SamCart sent)


@dataclass(frozen=True)
class HoldSummary:
    """The publisher's orders waiting on hold: real ones (count, total cost) and test ones.

    `payable` counts those only money keeps on hold (`payment_required`), `cheapest` is the
    lowest cost among them (None without any): the account page says whether the balance
    covers any of them.
    """

    count: int
    total: Decimal
    test_count: int
    payable: int = 0
    payable_total: Decimal = ZERO
    cheapest: Decimal | None = None
    scheduled: int = 0  # paid orders in their edit window (§15), counted in the same query

    @property
    def other(self) -> int:
        """Count the real hold orders that wait for something other than money."""
        return self.count - self.payable


def publishers_for_user(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Publisher]:
    """Return the publishers `user` acts for (none for anonymous users), by name."""
    if not user.is_authenticated:
        return Publisher.objects.none()
    return Publisher.objects.filter(users=user).order_by("name", "pk")


def publisher_for_user(user: AbstractBaseUser | AnonymousUser) -> Publisher | None:
    """Return the publisher `user` acts for, or None (staff and unlinked users)."""
    return publishers_for_user(user).first()


def publisher_for_account_page(
    user: AbstractBaseUser | AnonymousUser, idpub: str = ""
) -> Publisher | None:
    """Return the publisher whose account page `user` sees, or None.

    Without `idpub`: the user's own publisher (None for staff and unlinked logins). With one:
    that publisher when staff ask or when the user acts for it, else None (the caller answers
    404: never another publisher's page, and never the user's own one instead).
    """
    if not idpub:
        return publisher_for_user(user)
    if is_trepstar_staff(user):
        return Publisher.objects.filter(idpub=idpub).first()
    return publishers_for_user(user).filter(idpub=idpub).first()


def hold_summary(publisher: Publisher) -> HoldSummary:
    """Count the publisher's hold orders and add up what they cost (test orders apart); count
    its scheduled orders too (one query)."""
    held = Q(status__exact=OrderStatus.HOLD)
    real = held & Q(is_test=False)
    payable = real & Q(hold_reason=HoldReason.PAYMENT_REQUIRED)
    totals = (
        Order.objects.for_publisher(publisher)
        .filter(status__in=(OrderStatus.HOLD, OrderStatus.SCHEDULED))
        .aggregate(
            count=Count("pk", filter=real),
            total=Sum("cost", filter=real),
            test_count=Count("pk", filter=held & Q(is_test=True)),
            payable=Count("pk", filter=payable),
            payable_total=Sum("cost", filter=payable),
            cheapest=Min("cost", filter=payable),
            scheduled=Count("pk", filter=Q(status__exact=OrderStatus.SCHEDULED)),
        )
    )
    return HoldSummary(
        count=totals["count"],
        total=totals["total"] or ZERO,
        test_count=totals["test_count"],
        payable=totals["payable"],
        payable_total=totals["payable_total"] or ZERO,
        cheapest=totals["cheapest"],
        scheduled=totals["scheduled"],
    )


HOLD_LIST_LIMIT = 10  # the account page names at most this many boxes on hold


def hold_boxes(
    publisher: Publisher, limit: int = HOLD_LIST_LIMIT
) -> list[tuple[Order, list[OrderLine]]]:
    """Return the publisher's first real boxes on hold, oldest first, each with the lines in
    it (projects read): one query however many, the lines joined to their boxes."""
    first = (
        Order.objects.for_publisher(publisher).on_hold().filter(is_test=False).values("pk")[:limit]
    )
    lines = (
        OrderLine.objects.filter(order_id__in=Subquery(first), removed_at__isnull=True)
        .select_related("order", "project")
        .order_by("order__created_at", "order_id", "id")
    )
    boxes: dict[int, tuple[Order, list[OrderLine]]] = {}
    for line in lines:
        boxes.setdefault(line.order_id, (line.order, []))[1].append(line)
    return list(boxes.values())


def notifications_naming(
    publisher: Publisher, product_ids: set[str] | frozenset[str]
) -> tuple[list[Notification], set[str]]:
    """Return the publisher's recent `no_match` and `error` notifications naming `product_ids`.

    What a publisher may reprocess after fixing an eCommerceIDString (SPEC §8): their bodies
    are parsed again (the cart parser, newest first, at most NAMING_LIMIT of the last
    NAMING_PERIOD), oldest first, with the ids of `product_ids` they named.
    """
    if not product_ids:
        return [], set()
    candidates = (
        Notification.objects.for_publisher(publisher)
        .accepted()
        .filter(
            outcome__in=REPROCESSABLE_OUTCOMES,
            received_at__gte=timezone.now() - NAMING_PERIOD,
        )
        .only("pk", "raw_body", "content_type", "received_at", "outcome", "detail")
        .order_by("-received_at", "-id")[:NAMING_LIMIT]
    )
    named: list[Notification] = []
    ids: set[str] = set()
    for notification in candidates:
        try:
            parsed = parse_samcart(bytes(notification.raw_body), notification.content_type)
        except PayloadError:
            continue
        found = set(parsed.product_ids) & set(product_ids)
        if found:
            named.append(notification)
            ids |= found
    return named[::-1], ids


def recent_notifications(publisher: Publisher, limit: int = 20) -> list[Notification]:
    """Return the publisher's latest accepted notifications, newest first, without bodies.

    Requests refused for a wrong key are left out (an attacker must not fill this list);
    `refused_requests` counts them.
    """
    return list(
        Notification.objects.for_publisher(publisher)
        .accepted()
        .defer("raw_body")
        .order_by("-received_at", "-id")[:limit]
    )


@dataclass(frozen=True)
class RefusedRequests:
    """Requests refused for a wrong key over a period: stored ones (403) and rate-limited ones."""

    count: int
    last_remote_addr: str | None
    last_at: datetime | None


def refused_requests(
    publisher: Publisher, *, period: timedelta = REFUSED_PERIOD
) -> RefusedRequests:
    """Count the publisher's requests refused for a wrong key in the last `period`."""
    return refused_requests_among(
        Notification.objects.for_publisher(publisher),
        RefusedRequestTally.objects.for_publisher(publisher),
        period=period,
    )


def refused_requests_for_user(
    user: AbstractBaseUser | AnonymousUser, *, period: timedelta = REFUSED_PERIOD
) -> RefusedRequests:
    """Count the refused requests of every publisher `user` may see (staff: all)."""
    return refused_requests_among(
        Notification.objects.for_user(user),
        RefusedRequestTally.objects.for_user(user),
        period=period,
    )


def refused_requests_among(
    notifications: QuerySet[Notification],
    tallies: QuerySet[RefusedRequestTally],
    *,
    period: timedelta = REFUSED_PERIOD,
) -> RefusedRequests:
    """Count stored wrong-key requests (403 rows) and rate-limited ones (tallies) in `period`.

    Rate-limited requests are tallied per hour, so their part covers whole hours.
    """
    since = timezone.now() - period
    stored = notifications.key_refused().filter(received_at__gte=since)
    recent_tallies = tallies.filter(hour__gte=since.replace(minute=0, second=0, microsecond=0))
    stored_count = stored.count()
    tallied = recent_tallies.aggregate(n=Sum("count"))["n"] or 0
    latest: list[tuple] = []  # the latest of each kind, looked up only when there is one
    if stored_count:
        latest += [
            (n.received_at, n.remote_addr)
            for n in stored.order_by("-received_at").only("received_at", "remote_addr")[:1]
        ]
    if tallied:
        latest += [(t.last_at, t.last_remote_addr) for t in recent_tallies.order_by("-last_at")[:1]]
    count = stored_count + tallied
    last_at, last_remote_addr = max(latest, key=lambda pair: pair[0], default=(None, None))
    return RefusedRequests(count=count, last_remote_addr=last_remote_addr, last_at=last_at)


@dataclass(frozen=True)
class NotificationBox:
    """A box a notification touched: whether it started the box, and the lines it brought."""

    box: Order
    started: bool
    lines: list[OrderLine]


def notification_boxes(*, notification: Notification) -> list[NotificationBox]:
    """Return the boxes a notification started or added lines to, oldest first, each with the
    lines it brought (removed ones included, with their projects): two queries."""
    lines = list(
        OrderLine.objects.filter(notification=notification)
        .select_related("project", "order")
        .order_by("id")
    )
    started = {box.pk: box for box in Order.objects.filter(notification=notification)}
    boxes: dict[int, Order] = {**started, **{line.order_id: line.order for line in lines}}
    brought: dict[int, list[OrderLine]] = {}
    for line in lines:
        brought.setdefault(line.order_id, []).append(line)
    return [
        NotificationBox(box=boxes[pk], started=pk in started, lines=brought.get(pk, []))
        for pk in sorted(boxes)
    ]


def order_events(order: Order) -> QuerySet:
    """Return the events of `order`, oldest first, with their actors."""
    return order.events.select_related("actor").order_by("created_at", "id")


def recent_ledger(publisher: Publisher, limit: int = 10) -> list[LedgerEntry]:
    """Return the publisher's latest ledger entries, newest first."""
    return list(
        LedgerEntry.objects.for_publisher(publisher)
        .select_related("order", "created_by")
        .order_by("-created_at", "-id")[:limit]
    )


def cart_ids_of_other_projects(
    *, publisher_id: int, project_id: int | None
) -> dict[str, list[str]]:
    """Map each SamCart id the publisher's other projects list to those projects' titles.

    The project form warns with it, as the person types, when an id is already another
    project's (a bundle: one purchase makes an order for each).
    """
    rows = (
        ProjectCartId.objects.filter(publisher_id=publisher_id)
        .exclude(project_id=project_id)
        .order_by("external_id", "project__title")
        .values_list("external_id", "project__title")
    )
    shared: dict[str, list[str]] = {}
    for external_id, title in rows:
        shared.setdefault(external_id, []).append(title)
    return shared


def scheduled_orders(publisher: Publisher, limit: int = 20) -> list[Order]:
    """Return the publisher's scheduled orders whose edit window is open, next production
    first, each with `production_text` to show."""
    from fulfillment.services.window import window_open_q

    orders = list(
        Order.objects.for_publisher(publisher)
        .filter(window_open_q())
        .only("pk", "ship_name", "production_at")
        .order_by("production_at", "id")[:limit]
    )
    for order in orders:
        order.production_text = clock.when(order.production_at) if order.production_at else "?"
    return orders


@dataclass(frozen=True)
class CheckFinding:
    """One finding of a SamCart check run, as text for the page (`SamcartCheckRun.findings`)."""

    kind: str
    order_id: str
    product_id: str
    item_status: str
    quantity: str
    orders: tuple[int, ...] = ()


@dataclass(frozen=True)
class SamcartCheckCard:
    """What the account page says about the SamCart check (SPEC §17).

    `last_run` is the latest finished run; `running` the run under way, if any. `lines` are
    the missing lines of `last_run` (created or not), `refunds` and `quantities` its other
    findings, each list cut at CARD_FINDINGS_LIMIT (`more` counts what was left off).
    """

    configured: bool
    last4: str
    key_refused_at: datetime | None
    last_run: SamcartCheckRun | None = None
    running: SamcartCheckRun | None = None
    lines: tuple[CheckFinding, ...] = ()
    refunds: tuple[CheckFinding, ...] = ()
    quantities: tuple[CheckFinding, ...] = ()
    more: int = 0
    # Orders any run found that still wait on hold for review (the last run may say "all
    # received" once they exist): what the publisher must act on.
    awaiting_review: tuple[Order, ...] = ()

    @property
    def all_received(self) -> bool:
        """Tell whether the last run compared cleanly and found no line missing."""
        run = self.last_run
        return run is not None and run.status == RunStatus.OK and not self.lines


def _finding_text(value: object) -> str:
    """Return a value SamCart sent as bounded text ("" for none)."""
    return "" if value is None else str(value)[:FINDING_TEXT_LIMIT]


def check_finding(raw: object) -> CheckFinding | None:
    """Return one stored finding as text, or None when it is not an object."""
    if not isinstance(raw, dict):
        return None
    orders = raw.get("orders")
    pks = orders if isinstance(orders, list) else []
    return CheckFinding(
        kind=_finding_text(raw.get("kind")),
        order_id=_finding_text(raw.get("order_id")),
        product_id=_finding_text(raw.get("product_id")),
        item_status=_finding_text(raw.get("item_status")),
        quantity=_finding_text(raw.get("quantity")),
        orders=tuple(pk for pk in pks if type(pk) is int and pk > 0),
    )


def run_findings(run: SamcartCheckRun) -> dict[str, list[CheckFinding]]:
    """Group the findings of `run` by kind (entries that are not objects are skipped)."""
    grouped: dict[str, list[CheckFinding]] = {}
    stored = run.findings if isinstance(run.findings, list) else []
    for raw in stored:
        finding = check_finding(raw)
        if finding is not None:
            grouped.setdefault(finding.kind, []).append(finding)
    return grouped


def _awaiting_review(publisher: Publisher) -> list[Order]:
    """Return the boxes the SamCart check found that wait for review, oldest first (cut),
    each with `items_text` ("2 items: Book, DVD"; its lines in one more query)."""
    from fulfillment.services.wording import items_summary

    orders = list(
        Order.objects.for_publisher(publisher)
        .filter(status=OrderStatus.HOLD, hold_reason=HoldReason.REVIEW)
        .select_related("found_by_run")
        .with_lines()
        .order_by("created_at", "id")[:CARD_FINDINGS_LIMIT]
    )
    for order in orders:
        lines = order.active_lines()
        order.items_text = items_summary(lines) if lines else "no items"
    return orders


def samcart_check_card(publisher: Publisher) -> SamcartCheckCard:
    """Read what the account page's SamCart check card shows (two queries however many runs
    and orders: the orders waiting for review, the latest runs;
    none without a key: no check runs then, and the runs of a removed key stay in the admin)."""
    card = SamcartCheckCard(
        configured=bool(publisher.samcart_api_key),
        last4=publisher.samcart_api_key_last4,
        key_refused_at=publisher.samcart_key_refused_at,
    )
    if not card.configured:
        return card
    card = replace(card, awaiting_review=tuple(_awaiting_review(publisher)))
    # The two latest runs: a running one and the last finished one, or the last finished one.
    latest = list(
        SamcartCheckRun.objects.for_publisher(publisher).order_by("-started_at", "-id")[:2]
    )
    running = next((r for r in latest if r.status == RunStatus.RUNNING), None)
    last_run = next((r for r in latest if r.status != RunStatus.RUNNING), None)
    if last_run is None:
        return replace(card, running=running)
    grouped = run_findings(last_run)
    lines = grouped.get(FindingKind.CREATED, []) + grouped.get(FindingKind.MISSING, [])
    refunds = grouped.get(FindingKind.REFUNDED, [])
    quantities = grouped.get(FindingKind.QUANTITY, [])
    cut = CARD_FINDINGS_LIMIT
    more = sum(max(len(group) - cut, 0) for group in (lines, refunds, quantities))
    return replace(
        card,
        last_run=last_run,
        running=running,
        lines=tuple(lines[:cut]),
        refunds=tuple(refunds[:cut]),
        quantities=tuple(quantities[:cut]),
        more=more,
    )


def order_purchase_received_at(order: Order) -> datetime | None:
    """Return when the purchase behind `order` arrived: its notification's `received_at`
    (the annotation of `OrderQuerySet.with_purchase_received` when there, else one query);
    None for a box no notification made (found by the SamCart check)."""
    if hasattr(order, "purchase_received_at"):
        return order.purchase_received_at
    if order.notification_id is None:
        return None
    received = Notification.objects.filter(pk=order.notification_id).values_list(
        "received_at", flat=True
    )
    return received.first()
