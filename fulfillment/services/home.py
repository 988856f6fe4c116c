"""What the admin home pages show (issue 20, point 8): what needs a person, with counts.

A publisher's login sees, per publisher it acts for, its balance, the hold orders and what
they cost beside the balance (the release preview's queue rule), the scheduled orders with
when production starts, the notifications that need action and the SamCart check. TrepStar
staff see their work lists: projects waiting for prices, SamCart refunds of orders already
paid, stuck or failed notifications, failed alerts and publishers below their threshold.
Reads only; every query is scoped by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import F, Q

from fulfillment.models import (
    ZERO,
    Alert,
    Notification,
    Order,
    OrderStatus,
    Outcome,
    Project,
    Publisher,
)
from fulfillment.selectors import (
    HoldSummary,
    SamcartCheckCard,
    hold_summary,
    samcart_check_card,
    scheduled_orders,
)

from .refunds import cart_refunded_at
from .release import orders_release_preview

HOME_LIST_LIMIT = 10  # a work list names at most this many rows; its count and link say the rest
HOME_PUBLISHER_LIMIT = 5  # a login acting for more publishers gets the first ones by name
# The release preview reads every hold order with its lines: on the landing page only while
# there are few (the account page's *Release all* asks with the whole list).
PREVIEW_LIMIT = 200


@dataclass
class PublisherHome:
    """One publisher's panel on its login's home page."""

    publisher: Publisher
    hold: HoldSummary
    charge_now: int  # hold orders a release would charge now (the queue rule)
    charge_total: Decimal  # what they cost together
    scheduled: list[Order]
    needs_action: int
    no_match: int
    errors: int
    check: SamcartCheckCard

    @property
    def shortfall(self) -> Decimal:
        """Return what the balance lacks to pay every order on hold for payment."""
        return max(self.hold.payable_total - self.publisher.balance, ZERO)


@dataclass
class WorkList:
    """One of the staff's work lists: how many rows, the first ones, the list that has all."""

    count: int
    rows: list = field(default_factory=list)


@dataclass
class StaffHome:
    """The staff home page: each work list with its count."""

    prices: WorkList
    refunds: WorkList
    stuck: WorkList
    failed_notifications: WorkList
    failed_alerts: WorkList
    low_balance: WorkList

    @property
    def total(self) -> int:
        """Count every row waiting for staff, in all the lists."""
        return sum(
            w.count
            for w in (
                self.prices,
                self.refunds,
                self.stuck,
                self.failed_notifications,
                self.failed_alerts,
                self.low_balance,
            )
        )


def publisher_home(publisher: Publisher) -> PublisherHome:
    """Read one publisher's panel: money, hold and scheduled orders, problems, SamCart check."""
    hold = hold_summary(publisher)
    charge_now, charge_total = 0, ZERO
    if hold.payable and hold.count + hold.test_count <= PREVIEW_LIMIT:
        preview = orders_release_preview(publisher=publisher)
        charge_now, charge_total = len(preview.charge), preview.total
    problems = Notification.objects.for_publisher(publisher).needs_action()
    return PublisherHome(
        publisher=publisher,
        hold=hold,
        charge_now=charge_now,
        charge_total=charge_total,
        scheduled=scheduled_orders(publisher, limit=HOME_LIST_LIMIT),
        needs_action=problems.count(),
        no_match=problems.filter(outcome=Outcome.NO_MATCH).count(),
        errors=problems.filter(outcome=Outcome.ERROR).count(),
        check=samcart_check_card(publisher),
    )


def paid_refunded_orders() -> Q:
    """Return the condition of boxes refunded in SamCart after they were paid: scheduled or in
    production, where TrepStar must stop them by hand (nothing cancels them by itself)."""
    return Q(
        cart_refunded=True,
        status__in=(OrderStatus.SCHEDULED, OrderStatus.IN_PRODUCTION),
        is_test=False,
    )


def _work_list(queryset, limit: int = HOME_LIST_LIMIT) -> WorkList:  # noqa: ANN001
    """Return the count of `queryset` and its first rows."""
    return WorkList(count=queryset.count(), rows=list(queryset[:limit]))


def staff_home() -> StaffHome:
    """Read the staff work lists (a dozen queries, whatever the data)."""
    refunds = _work_list(
        Order.objects.filter(paid_refunded_orders())
        .select_related("publisher")
        .order_by("created_at", "id")
    )
    refunded_at = cart_refunded_at([o.pk for o in refunds.rows])
    for order in refunds.rows:
        order.refunded_at = refunded_at.get(order.pk)
    return StaffHome(
        prices=_work_list(
            Project.objects.filter(prices_confirmed=False, is_active=True)
            .select_related("publisher")
            .order_by("created_at", "id")
        ),
        refunds=refunds,
        stuck=_work_list(Notification.objects.stuck().select_related("publisher")),
        failed_notifications=_work_list(
            Notification.objects.filter(
                outcome=Outcome.ERROR, next_attempt_at__isnull=True
            ).select_related("publisher")
        ),
        failed_alerts=_work_list(
            Alert.objects.filter(failed_at__isnull=False).select_related("publisher")
        ),
        low_balance=_work_list(
            Publisher.objects.filter(
                low_balance_threshold__isnull=False, balance__lt=F("low_balance_threshold")
            ).order_by("balance", "name")
        ),
    )
