"""Publisher-scoped reads used by the admin and the account page (no writes here)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db.models import Count, Q, Sum

from fulfillment.models import (
    ZERO,
    LedgerEntry,
    Notification,
    Order,
    OrderStatus,
    Publisher,
    is_trepstar_staff,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
    from django.db.models import QuerySet


@dataclass(frozen=True)
class HoldSummary:
    """The publisher's orders waiting on hold: real ones (count, total cost) and test ones."""

    count: int
    total: Decimal
    test_count: int


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
    """Return the publisher whose account page `user` sees.

    Staff may pick any publisher by `idpub`; a publisher user always gets their own (an
    `idpub` naming another publisher is ignored, so it cannot reveal anything).
    """
    if idpub and is_trepstar_staff(user):
        return Publisher.objects.filter(idpub=idpub).first()
    if idpub:
        return publishers_for_user(user).filter(idpub=idpub).first() or publisher_for_user(user)
    return publisher_for_user(user)


def hold_summary(publisher: Publisher) -> HoldSummary:
    """Count the publisher's hold orders and add up what they cost (test orders apart)."""
    totals = (
        Order.objects.for_publisher(publisher)
        .filter(status=OrderStatus.HOLD)
        .aggregate(
            count=Count("pk", filter=Q(is_test=False)),
            total=Sum("cost", filter=Q(is_test=False)),
            test_count=Count("pk", filter=Q(is_test=True)),
        )
    )
    return HoldSummary(
        count=totals["count"], total=totals["total"] or ZERO, test_count=totals["test_count"]
    )


def recent_notifications(publisher: Publisher, limit: int = 20) -> list[Notification]:
    """Return the publisher's latest notifications, newest first, without their bodies."""
    return list(
        Notification.objects.for_publisher(publisher)
        .defer("raw_body")
        .order_by("-received_at", "-id")[:limit]
    )


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
