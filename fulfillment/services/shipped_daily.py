"""The daily e-mail of what shipped (issue 20 #22): once a day per publisher, in its zone.

A login that chose it (`LoginPreferences.alert_shipped_daily`, off by default) gets, after
SEND_AFTER in the morning of the publisher's time zone, the orders marked shipped during the
previous local day, with carrier, tracking number and link. The cause is that day, so a second
scan or worker writes nothing; a day when nothing shipped sends nothing.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.db.models import Min, Q
from django.urls import reverse
from django.utils import timezone

from fulfillment.clock import publisher_zone, when
from fulfillment.models import Alert, AlertKind, Order, OrderEventKind, OrderStatus, Publisher

from .alert_mail import site_url
from .alerts import Draft, draft_write
from .tracking import carrier_name, tracking_url
from .wording import items_summary, plural

SEND_AFTER = time(6, 0)  # local time of the publisher from which yesterday's list goes out


def _day_to_tell(publisher: Publisher, now: datetime) -> tuple[date, datetime, datetime] | None:
    """The previous local day and its bounds, once the local morning has come; else None."""
    zone = publisher_zone(publisher)
    local = now.astimezone(zone)
    if local.time() < SEND_AFTER:
        return None
    day = local.date() - timedelta(days=1)
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(local.date(), time(0), tzinfo=zone)
    return day, start, end


def _shipped_between(publisher: Publisher, start: datetime, end: datetime) -> list[Order]:
    """The publisher's (real) orders marked shipped in [start, end), in the order they went."""
    orders = (
        Order.objects.filter(publisher=publisher, status=OrderStatus.SHIPPED, is_test=False)
        .annotate(
            shipped_at=Min("events__created_at", filter=Q(events__kind=OrderEventKind.SHIPPED)),
        )
        .filter(shipped_at__gte=start, shipped_at__lt=end)
        .with_lines()
        .order_by("shipped_at", "id")
    )
    return list(orders)


def _draft(publisher: Publisher, day: date, orders: list[Order]) -> Draft:
    """The e-mail listing the orders shipped on `day`."""
    zone = publisher_zone(publisher)
    rows = [
        {
            "order": order,
            "items": items_summary(order.active_lines()),
            "shipped": when(order.shipped_at, zone),  # type: ignore[attr-defined]
            "carrier": carrier_name(order.carrier),
            "tracking_url": tracking_url(order.carrier, order.tracking_number),
            "url": site_url(reverse("admin:fulfillment_order_change", args=[order.pk])),
        }
        for order in orders
    ]
    shipped_url = reverse("admin:fulfillment_order_changelist") + "?status__exact=shipped"
    return Draft(
        publisher=publisher,
        kind=AlertKind.SHIPPED_DAILY,
        cause=f"day:{day.isoformat()}",
        template="shipped_daily",
        context={"rows": rows, "day": day.isoformat(), "shipped_url": site_url(shipped_url)},
        subject=f"Shipped on {day.isoformat()}: {plural(len(orders), 'order')}",
    )


def shipped_daily_collect(*, now: datetime | None = None) -> int:
    """Write the daily shipped list that is due for each publisher whose logins chose it;
    return how many were written."""
    now = now or timezone.now()
    written = 0
    chosen = Publisher.objects.filter(
        users__is_active=True, users__preferences__alert_shipped_daily=True
    ).distinct()
    for publisher in chosen.order_by("pk"):
        due = _day_to_tell(publisher, now)
        if due is None:
            continue
        day, start, end = due
        cause = f"day:{day.isoformat()}"
        if Alert.objects.filter(
            publisher=publisher, kind=AlertKind.SHIPPED_DAILY, cause=cause
        ).exists():
            continue
        orders = _shipped_between(publisher, start, end)
        if orders and draft_write(_draft(publisher, day, orders)) is not None:
            written += 1
    return written
