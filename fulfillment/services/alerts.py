"""E-mail alerts (SPEC §14): a scan writes each alert once per cause; a worker sends it.

`alerts_collect` looks for what a publisher should hear about (new orders on hold, at most
hourly; notifications that need action; a balance that fell below the threshold, once per
crossing) and writes `Alert` rows, whose unique (publisher, kind, cause) makes a second scan,
or a second worker, write nothing. `alerts_send_due` sends them, each in its own transaction
with its row locked (SKIP LOCKED), so two workers never send the same alert; a failed send is
tried again on the backoff schedule, and after its last try it is marked failed (staff see it
and may resend it: `alert_resend`).

Who gets an alert is `alert_choices` (the publisher's switch, each login's own choice); each
address gets its own message, a login's with its one-click switch-off link. An alert may carry
a sender name and a Reply-To (the buyer's shipping e-mail, `buyer_email`).
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django_tasks import task

from fulfillment import clock
from fulfillment.models import (
    ZERO,
    Alert,
    AlertKind,
    HoldReason,
    LedgerEntry,
    Notification,
    Order,
    OrderLine,
    Publisher,
    RefusedRequestTally,
    SamcartCheckRun,
)

from .alert_choices import recipients_for
from .alert_mail import alert_deliver, site_url
from .backoff import next_try_at
from .ledger import publisher_lock
from .publishers import add_funds_text
from .samcart_notices import created_lines, key_refused_token, runs_to_tell
from .wording import items_summary, money, plural

logger = logging.getLogger(__name__)

GATHER_FOR = timedelta(hours=1)  # later alerts of a kind wait, gathered, at most this long
WRONG_KEY_BURST = 10  # refused requests in one hour that make an alert
LOW_BALANCE_THEN = "release your orders on hold on your account page"
CAUSE_LENGTH = Alert._meta.get_field("cause").max_length


@dataclass(frozen=True)
class Draft:
    """An alert to write: what it is about, once, and what its e-mail says."""

    publisher: Publisher
    kind: str
    cause: str
    template: str
    context: dict[str, object]
    subject: str


def alert_record(**fields: object) -> Alert:
    """Write an alert and enqueue its sending, in one transaction (raises IntegrityError when
    the alert of that cause exists: nothing is written then)."""
    with transaction.atomic():
        alert = Alert.objects.create(**fields)
        send_alert.enqueue(alert.pk)
    return alert


def alert_recipients(publisher: Publisher, kind: str | None = None) -> list[str]:
    """The addresses an alert of `kind` goes to: the publisher's and those of its active
    logins whose own choice is on, each once; every address when `kind` is None."""
    return recipients_for(publisher, kind)


def draft_write(draft: Draft) -> Alert | None:
    """Write the alert unless one exists for its cause; return it, or None when it existed."""
    context = {
        **draft.context,
        "publisher": draft.publisher,
        "account_url": site_url(reverse("account")),
        "support_email": settings.SUPPORT_EMAIL,
    }
    recipients = alert_recipients(draft.publisher, draft.kind)
    if not recipients:  # every login switched it off, and the publisher has no address
        return None
    # Times in the e-mail (`|when`, `|date`) read in the publisher's zone (SPEC §3 one clock).
    with timezone.override(clock.publisher_zone(draft.publisher)):
        body_text = render_to_string(f"fulfillment/email/{draft.template}.txt", context)
        body_html = render_to_string(f"fulfillment/email/{draft.template}.html", context)
    try:
        return alert_record(
            publisher=draft.publisher,
            kind=draft.kind,
            cause=draft.cause,
            recipients=", ".join(recipients),
            subject=draft.subject,
            body_text=body_text,
            body_html=body_html,
        )
    except IntegrityError:  # another scan wrote it first: once per cause
        return None


def _last_alert_at(publisher: Publisher, kind: str) -> datetime | None:
    """When the publisher's last alert of `kind` was written (later ones gather until an hour)."""
    alerts = Alert.objects.filter(publisher=publisher, kind=kind)
    return alerts.aggregate(last=Max("created_at"))["last"]


def _gathering(publisher: Publisher, kind: str, now: datetime) -> bool:
    """Tell whether an alert of `kind` went out less than an hour ago (the next one waits)."""
    last = _last_alert_at(publisher, kind)
    return last is not None and last > now - GATHER_FOR


def box_text(order: Order, lines: list[OrderLine] | None = None) -> str:
    """Name a box with what is in it and its cost: "Order #12 — 2 items: Book, DVD — $23.00"
    (the ship-to name after, when there is one). `lines`: the lines in it, read by the caller;
    else the prefetched ones (`with_lines`)."""
    lines = order.active_lines() if lines is None else lines
    items = items_summary(lines) if lines else "no items"
    name = f" ({order.ship_name})" if order.ship_name else ""
    return f"Order #{order.pk} — {items} — {money(order.cost)}{name}"


def _hold_digest(publisher: Publisher, now: datetime) -> Draft | None:
    """The hold orders no digest named yet, by reason, at most once an hour.

    Run inside the transaction that writes the digest and marks its orders (`alerted_at`): the
    marker, not `created_at`, says what is new, so an order whose transaction commits just
    after a scan read is in the next digest, and a marked one is in no other. The orders are
    locked first, so a second scan waits, then sees them marked.
    """
    if _gathering(publisher, AlertKind.HOLD_ORDERS, now):
        return None
    orders = list(
        Order.objects.on_hold()
        .filter(publisher=publisher, is_test=False, alerted_at__isnull=True)
        .select_for_update(of=("self",))
        .with_lines()
    )
    if not orders or _gathering(publisher, AlertKind.HOLD_ORDERS, now):
        return None  # (asked again under the lock: a scan it waited for may have written one)
    groups: dict[str, list[str]] = {}
    for order in orders:
        groups.setdefault(order.get_hold_reason_display(), []).append(box_text(order))
    paying = [o for o in orders if o.hold_reason == HoldReason.PAYMENT_REQUIRED]
    total = sum((o.cost for o in paying), ZERO)
    shortfall = max(total - publisher.balance, ZERO)
    context = {
        "groups": groups,
        "orders": orders,
        "count": len(orders),
        "balance": money(publisher.balance),
        "shortfall": money(shortfall) if paying and shortfall else "",
        "hold_url": site_url(reverse("admin:fulfillment_order_changelist") + "?status__exact=hold"),
    }
    return Draft(
        publisher=publisher,
        kind=AlertKind.HOLD_ORDERS,
        cause=f"hold:{orders[-1].pk}",
        template="hold_orders",
        context=context,
        subject=f"{plural(len(orders), 'order')} on hold – action required",
    )


def _needs_action(publisher: Publisher, now: datetime) -> Draft | None:
    """Notifications that need a person (`Notification.objects.needs_action`), hours with a
    burst of wrong-key requests, orders the SamCart check made (confirm and release them) and
    a SamCart API key SamCart refused: each thing once.

    The first e-mail of a cause goes at the next scan (within 2 minutes, SPEC §14); within an
    hour of the last one, only repeats of a cause it told wait, gathered, for the hour to end:
    wrong-key bursts, and notifications like one already told (same outcome, same detail: the
    same unmatched product IDs, the same error). A new cause goes at once, with what waited.
    """
    gathering = _gathering(publisher, AlertKind.NEEDS_ACTION, now)
    notifications = list(
        Notification.objects.filter(publisher=publisher, alerted_at__isnull=True)
        .needs_action(now=now)
        .order_by("id")[:50]
    )
    told = "".join(
        Alert.objects.filter(publisher=publisher, kind=AlertKind.NEEDS_ACTION).values_list(
            "cause", flat=True
        )
    )
    runs = runs_to_tell(publisher)
    refused = key_refused_token(publisher)
    refused = "" if refused in told else refused
    tokens = [f"n{n.pk}" for n in notifications[:1] + notifications[-1:]]
    tokens += [f"c{r.pk}" for r in runs[:1] + runs[-1:]] + ([refused] if refused else [])
    bursts = []
    for burst in RefusedRequestTally.objects.filter(
        publisher=publisher, count__gte=WRONG_KEY_BURST, hour__gte=now - timedelta(days=1)
    ).order_by("hour"):
        token = _hour_token(burst.hour)
        # Those that do not fit the cause wait for the next e-mail (not in `told`: not lost).
        if token not in told and len(" ".join([*tokens, token])) <= CAUSE_LENGTH:
            bursts.append(burst)
            tokens.append(token)
    created = [
        (line, site_url(reverse("admin:fulfillment_order_change", args=[line.order_id])))
        for line in created_lines(runs)
    ]
    count = len(notifications) + len(bursts) + len(created) + bool(refused)
    if not count:
        return None
    if gathering and not (created or refused or _new_causes(publisher, notifications, now)):
        return None  # only repeats of what the last hour told: gathered
    links = [
        (n, site_url(reverse("admin:fulfillment_notification_change", args=[n.pk])))
        for n in notifications
    ]
    return Draft(
        publisher=publisher,
        kind=AlertKind.NEEDS_ACTION,
        cause=" ".join(tokens),
        template="needs_action",
        context={
            "notifications": links,
            "bursts": bursts,
            "runs": runs,
            "created": created,
            "key_refused": bool(refused),
        },
        subject=f"SamCart: {plural(count, 'thing')} need{'s' if count == 1 else ''} your action",
    )


def _new_causes(publisher: Publisher, notifications: list[Notification], now: datetime) -> bool:
    """Tell whether a notification has a cause no e-mail of the last hour told (its outcome
    and detail differ from every notification told since)."""
    told = set(
        Notification.objects.filter(
            publisher=publisher, alerted_at__gte=now - GATHER_FOR
        ).values_list("outcome", "detail")
    )
    return any((n.outcome, n.detail) not in told for n in notifications)


def _hour_token(hour: datetime) -> str:
    return f"wrong-key:{hour:%Y-%m-%dT%H}"


def _low_balance(publisher: Publisher) -> list[Draft]:
    """One draft per crossing below the threshold in the ledger entries not judged yet.

    A crossing is an entry that took the balance from at or above the threshold to below it,
    however soon another entry lifted it again. Each entry's balance after it is the running
    sum from the balance before the first unjudged entry. Run in a transaction: the publisher
    row is locked, as every ledger writer locks it before it inserts, so every entry below the
    newest one seen has committed and the watermark (`low_balance_judged_to`) skips none.
    """
    if not publisher.ledger.filter(pk__gt=publisher.low_balance_judged_to).exists():
        return []
    locked = publisher_lock(publisher_id=publisher.pk)
    entries = list(
        LedgerEntry.objects.filter(publisher_id=locked.pk, pk__gt=locked.low_balance_judged_to)
        .order_by("pk")
        .values_list("pk", "amount", "created_at")
    )
    if not entries:
        return []
    Publisher.objects.filter(pk=locked.pk).update(low_balance_judged_to=entries[-1][0])
    threshold = locked.low_balance_threshold
    balance = locked.balance - sum((amount for _, amount, _ in entries), ZERO)
    drafts = []
    for pk, amount, created_at in entries:
        before, balance = balance, balance + amount
        if threshold is None or not before >= threshold > balance:
            continue
        drafts.append(
            Draft(
                publisher=locked,
                kind=AlertKind.LOW_BALANCE,
                cause=f"below:{pk}",
                template="low_balance",
                context={
                    "balance": money(balance),
                    "when": clock.when(created_at, clock.publisher_zone(locked)),
                    "balance_now": money(locked.balance),
                    "threshold": money(threshold),
                    "add_funds": add_funds_text(publisher=locked, then=LOW_BALANCE_THEN),
                },
                subject=f"Your TrepStar balance fell to {money(balance)}",
            )
        )
    return drafts


def _write_hold_digest(publisher: Publisher, now: datetime) -> int:
    """Write the hold digest that is due and mark its orders, in one transaction."""
    with transaction.atomic():
        draft = _hold_digest(publisher, now)
        if draft is None or draft_write(draft) is None:
            return 0
        told = [order.pk for order in draft.context["orders"]]  # type: ignore[attr-defined]
        Order.objects.filter(pk__in=told).update(alerted_at=now)
        return 1


def alerts_collect(*, now: datetime | None = None) -> int:
    """Write the alerts that are due for every publisher; return how many were written."""
    now = now or timezone.now()
    written = 0
    for publisher in Publisher.objects.order_by("pk"):
        if publisher.alert_needs_action:
            with transaction.atomic():
                draft = _needs_action(publisher, now)
                if draft is not None and draft_write(draft) is not None:
                    written += 1
                    told = [n.pk for n, _ in draft.context["notifications"]]  # type: ignore[attr-defined]
                    Notification.objects.filter(pk__in=told).update(alerted_at=now)
                    runs = [run.pk for run in draft.context["runs"]]  # type: ignore[attr-defined]
                    SamcartCheckRun.objects.filter(pk__in=runs).update(alerted_at=now)
        with transaction.atomic():  # the watermark and the alerts it found commit together
            written += sum(draft_write(d) is not None for d in _low_balance(publisher))
        if publisher.alert_hold_orders:
            written += _write_hold_digest(publisher, now)
    return written


def _send_one(alerts: QuerySet[Alert]) -> bool | None:
    """Send the first due alert of `alerts`, locked in its own transaction.

    Return True when it went out, False when sending failed (its next try is set), None when
    no due alert was free (sent already, not due, or another worker holds it).
    """
    with transaction.atomic():
        alert = (
            alerts.due().select_for_update(skip_locked=True).order_by("next_try_at", "id").first()
        )
        if alert is None:
            return None
        alert.attempts += 1
        try:
            alert_deliver(alert)
        except (OSError, smtplib.SMTPException, ValueError) as error:  # ValueError: a header
            served = getattr(alert, "served_before_failure", [])
            sent_to = f" (sent to {', '.join(served)} already)" if served else ""
            alert.last_error = f"{type(error).__name__}: {error}{sent_to}"[:1000]
            later = next_try_at(alert.attempts)
            if later is None:  # the schedule is spent: failed, listed for staff, never retried
                logger.error("Alert %s failed after its last try: %s", alert.pk, error)
                alert.failed_at = timezone.now()
            else:
                logger.warning("Alert %s not sent: %s", alert.pk, error)
                alert.next_try_at = later
            alert.save(
                update_fields=["attempts", "last_error", "next_try_at", "failed_at", "recipients"]
            )
            return False
        alert.sent_at = timezone.now()
        alert.save(update_fields=["attempts", "sent_at"])
        return True


def alert_send(*, alert_id: int) -> bool:
    """Send one alert if it is due and unsent (the task enqueued with it); tell if it went."""
    return bool(_send_one(Alert.objects.filter(pk=alert_id)))


@task()
def send_alert(alert_id: int) -> bool:
    """Send one alert (enqueued with it): once, whichever worker runs it."""
    return alert_send(alert_id=alert_id)


def alerts_send_due(*, limit: int = 200) -> int:
    """Send up to `limit` due alerts (the sweep: retries, and tasks lost with a killed worker)."""
    sent = 0
    for _ in range(limit):
        outcome = _send_one(Alert.objects.all())
        if outcome is None:
            break
        sent += bool(outcome)
    return sent


def alert_resend(*, alert_id: int) -> bool:
    """Give a failed alert one more try, now (staff ask for it); False when it is not failed.

    Its attempts stay counted, so should this try fail too it is failed again at once.
    """
    with transaction.atomic():
        again = Alert.objects.filter(pk=alert_id, failed_at__isnull=False, sent_at__isnull=True)
        if not again.update(failed_at=None, next_try_at=timezone.now()):
            return False
        send_alert.enqueue(alert_id)
    return True
