"""Publisher-scoped reads used by the admin and the account page (no writes here)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db.models import Count, Min, Q, Sum
from django.utils import timezone

from fulfillment.carts.base import PayloadError
from fulfillment.carts.samcart import parse_samcart
from fulfillment.models import (
    REPROCESSABLE_OUTCOMES,
    ZERO,
    HoldReason,
    LedgerEntry,
    Notification,
    Order,
    OrderStatus,
    ProjectCartId,
    Publisher,
    RefusedRequestTally,
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
    from fulfillment.services.wording import utc_text

    orders = list(
        Order.objects.for_publisher(publisher)
        .filter(window_open_q())
        .only("pk", "ship_name", "production_at")
        .order_by("production_at", "id")[:limit]
    )
    for order in orders:
        order.production_text = utc_text(order.production_at) if order.production_at else "?"
    return orders
