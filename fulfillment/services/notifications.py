"""The Notify URL's work (SPEC §4): authenticate, store first, then process once.

`notification_receive` is everything the view does between reading the body and answering.
"""

from __future__ import annotations

import hmac
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, OperationalError, transaction
from django.utils import timezone

from fulfillment.carts import CartNotification, PayloadError, parse_samcart
from fulfillment.ids import idpub_or_none
from fulfillment.models import Notification, Outcome, Publisher

from . import messages
from .compiled import insert_one
from .deferred import deferring, update_merged
from .intake import (
    Remapped,
    StaleIntake,
    no_match_result,
    orders_create_from_cart,
    purchase_snapshot,
)
from .intake_snapshot import IntakeSnapshot
from .orders import REFUND_TYPES, orders_flag_cart_refunded
from .refunds import refund_advice_all
from .retries import notification_schedule_retry

logger = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # over this: 413, stored truncated
KEEP_UNAUTHENTICATED = 4 * 1024  # bodies of requests failing idpub/key checks keep this much

DETAIL_IDPUB_MISSING = (
    "The Notify URL has no valid idpub (publisher ID). Copy the full URL from your TrepStar "
    "account page."
)
DETAIL_UNKNOWN_PUBLISHER = (
    "No TrepStar publisher has this idpub. Copy the full URL from your TrepStar account page."
)
DETAIL_BAD_KEY = (
    "The key in the Notify URL is missing or wrong. Copy the full URL from your TrepStar "
    "account page (the key changes when you rotate it)."
)
DETAIL_TOO_LARGE = "The body is larger than 1 MiB; nothing was processed."
DETAIL_ERROR = (
    "TrepStar could not process this notification ({reason}). It is stored and will be "
    "reprocessed automatically (after 1 min, 5 min, 30 min, 2 h and 12 h); nothing was created."
)
READY = (
    "This Notify URL is ready for SamCart: paste it in SamCart under Settings → Integrations → "
    "Notify URL. Purchases will appear in TrepStar as orders."
)

HTTP_STATUS = {
    Outcome.CREATED: 200,
    Outcome.DUPLICATE: 200,
    Outcome.NO_MATCH: 200,
    Outcome.IGNORED: 200,
    Outcome.UNKNOWN_PUBLISHER: 404,
    Outcome.ERROR: 500,
}


@dataclass(frozen=True)
class NotifyAnswer:
    """What to answer SamCart: the HTTP status, the outcome and a plain-English detail."""

    status: int
    outcome: str
    detail: str
    notification_id: int | None = None
    # A reprocess refused because these orders (boxes) already hold the same SamCart lines in
    # other projects (the product was re-mapped): confirm with `allow_remapped=True` to go on.
    remapped_orders: tuple[int, ...] = ()
    remapped_lines: tuple[int, ...] = ()  # those lines, by id


@dataclass(frozen=True)
class Incoming:
    """One request to the Notify URL, as the view read it."""

    idpub: str
    key: str
    is_test: bool
    body: bytes
    body_size: int
    content_type: str
    remote_addr: str | None
    # Set for every POST (its spool file's id and arrival time, SPEC §4); `replayed` when the
    # body comes from the spool rather than from SamCart right now.
    spool_id: uuid.UUID | None = None
    received_at: datetime | None = None
    replayed: bool = False


# A replayed row keeps its old arrival time: the sweep of rows left pending leaves it alone
# this long, while the replay processes it.
REPLAY_SWEEP_AFTER = timedelta(minutes=5)


def notify_key_valid(*, publisher: Publisher, key: str) -> bool:
    """Compare `key` with the current key, or the previous one while it is still valid."""
    given = key.encode()
    if hmac.compare_digest(given, publisher.notify_key.encode()):
        return True
    previous = publisher.previous_notify_key
    valid_until = publisher.previous_key_valid_until
    return bool(
        previous
        and valid_until
        and valid_until > timezone.now()
        and hmac.compare_digest(given, previous.encode())
    )


def refusal_of(*, publisher: Publisher | None, key: str) -> NotifyAnswer | None:
    """Return the answer refusing a well-formed idpub's request, or None when it may go on."""
    if publisher is None:
        return NotifyAnswer(404, Outcome.UNKNOWN_PUBLISHER, DETAIL_UNKNOWN_PUBLISHER)
    if publisher.require_notify_key and not notify_key_valid(publisher=publisher, key=key):
        return NotifyAnswer(403, Outcome.REJECTED, DETAIL_BAD_KEY)
    return None


REFUSED_IDPUB = NotifyAnswer(400, Outcome.REJECTED, DETAIL_IDPUB_MISSING)


def authenticate(*, idpub: str, key: str) -> tuple[Publisher | None, NotifyAnswer | None]:
    """Return the publisher of the URL, or the answer refusing the request."""
    if idpub_or_none(idpub) is None:
        return None, REFUSED_IDPUB
    publisher = Publisher.objects.filter(idpub=idpub).first()
    return publisher, refusal_of(publisher=publisher, key=key)


def _storable(text: str) -> str:
    """Return header or query text a database column can hold (PostgreSQL refuses NUL)."""
    return text.replace("\x00", "\ufffd")


def _store(
    incoming: Incoming, *, publisher: Publisher | None, keep: int, **fields: object
) -> Notification:
    """Save the request as a Notification (autocommit: it survives whatever follows)."""
    if incoming.received_at is not None:
        fields["received_at"] = incoming.received_at
    notification = Notification(
        spool_id=incoming.spool_id,
        publisher=publisher,
        remote_addr=incoming.remote_addr,
        content_type=_storable(incoming.content_type)[:200],
        raw_body=incoming.body[:keep],
        body_size=incoming.body_size,
        body_truncated=len(incoming.body) > keep or incoming.body_size > len(incoming.body),
        idpub_given=_storable(incoming.idpub)[:64],
        is_test=incoming.is_test,
        **fields,
    )
    insert_one(notification)
    return notification


def _parsed(incoming: Incoming) -> CartNotification | None:
    """Parse the body for the first pass; None when it does not parse (processing says why)."""
    if incoming.body_size > MAX_BODY:
        return None
    try:
        return parse_samcart(incoming.body, incoming.content_type)
    except PayloadError:
        return None


def _read(incoming: Incoming, cart: CartNotification | None) -> IntakeSnapshot | None:
    """Read the publisher of a well-formed idpub, with what `cart` needs (one statement)."""
    if cart is None:
        publisher = Publisher.objects.filter(idpub=incoming.idpub).first()
        return IntakeSnapshot(publisher=publisher) if publisher is not None else None
    return purchase_snapshot(cart=cart, idpub=incoming.idpub)


# Called with a request that failed the idpub/key checks, before it is stored: an answer
# refuses it unstored (the rate limit's 429), None stores it as refused.
RefusalGate = Callable[[Publisher | None], "NotifyAnswer | None"]


def notification_receive(incoming: Incoming, *, gate: RefusalGate | None = None) -> NotifyAnswer:
    """Authenticate, store the request, process it, and return the answer for SamCart.

    One read (the publisher, its matches and lines) comes before the store; the body is stored
    in its own commit before anything else is written, then processed from that read. A
    purchase the read alone decides (no product matched) is stored with its outcome in that
    one commit: there is nothing else to write, so nothing that could fail after the store.
    """
    cart, snapshot, publisher = None, None, None
    if idpub_or_none(incoming.idpub) is not None:
        cart = _parsed(incoming)
        snapshot = _read(incoming, cart)
        publisher = snapshot.publisher if snapshot is not None else None
        refusal = refusal_of(publisher=publisher, key=incoming.key)
    else:
        refusal = REFUSED_IDPUB
    if refusal is not None and gate is not None:
        limited = gate(publisher)
        if limited is not None:
            return limited
    if refusal is None and incoming.body_size > MAX_BODY:
        refusal = NotifyAnswer(413, Outcome.REJECTED, DETAIL_TOO_LARGE)
    if refusal is not None:
        keep = MAX_BODY if refusal.status == 413 else KEEP_UNAUTHENTICATED
        stored = _store(
            incoming,
            publisher=publisher,
            keep=keep,
            outcome=refusal.outcome,
            detail=refusal.detail,
            http_status=refusal.status,
            processed_at=timezone.now(),
        )
        return NotifyAnswer(refusal.status, refusal.outcome, refusal.detail, stored.pk)
    decided = _decided_by_the_read(cart, snapshot) if cart is not None else None
    if cart is not None and decided is not None:  # nothing else to do: stored with the body
        fields = _outcome_fields(decided, event_type=cart.event_type, order_id=cart.order_id)
        stored = _store(incoming, publisher=publisher, keep=MAX_BODY, attempts=1, **fields)
        return NotifyAnswer(decided.status, decided.outcome, decided.detail, stored.pk)
    later = {"next_attempt_at": timezone.now() + REPLAY_SWEEP_AFTER} if incoming.replayed else {}
    notification = _store(incoming, publisher=publisher, keep=MAX_BODY, **later)
    return notification_process(notification=notification, cart=cart, snapshot=snapshot)


def _decided_by_the_read(
    cart: CartNotification, snapshot: IntakeSnapshot | None
) -> NotifyAnswer | None:
    """Return the answer of a purchase the read alone decides (no product matched: the one
    rule, `no_match_result`), which then needs no processing pass; else None."""
    if snapshot is None or not cart.is_order:
        return None
    result = no_match_result(snapshot=snapshot, cart=cart)
    if result is None:
        return None
    return NotifyAnswer(HTTP_STATUS[result.outcome], result.outcome, result.detail)


def _outcome_fields(
    answer: NotifyAnswer, *, event_type: str | None, order_id: str | None
) -> dict[str, object]:
    """Return what recording `answer` on a notification writes (with its store, or after a
    processing pass: `_finish`). `None` for the event type or order id leaves them out."""
    fields: dict[str, object] = {
        "outcome": answer.outcome,
        "detail": answer.detail,
        "http_status": answer.status,
        "processed_at": timezone.now(),
        "next_attempt_at": None,  # a failure sets its next try after this (`_fail`)
    }
    if event_type is not None:
        fields["event_type"] = event_type[:64]
    if order_id is not None:
        fields["external_order_id"] = order_id[:64]
    return fields


def _finish(
    notification: Notification,
    answer: NotifyAnswer,
    *,
    event_type: str | None,
    order_id: str | None,
) -> NotifyAnswer:
    """Record the outcome on the stored notification and return the answer naming it.

    `None` for the event type or order id leaves what the row already holds.
    """
    update_merged(  # with the new boxes' events, when a Notify pass kept them (`deferred`)
        Notification,
        notification.pk,
        increment=("attempts",),
        **_outcome_fields(answer, event_type=event_type, order_id=order_id),
    )
    return NotifyAnswer(answer.status, answer.outcome, answer.detail, notification.pk)


def _process(
    notification: Notification,
    cart: CartNotification | None = None,
    snapshot: IntakeSnapshot | None = None,
    remapped: Remapped = Remapped.SKIP,
) -> NotifyAnswer:
    """Act on the body (parsed again from the stored bytes unless given): create orders, flag
    refunds or ignore. `snapshot`, read before the store, spares the lock (see `intake`).

    With `Remapped.REFUSE`, a done line that now matches another project refuses the whole
    pass (409, nothing written, the notification unchanged) so a person can confirm.
    """
    if cart is None:
        try:
            cart = parse_samcart(bytes(notification.raw_body), notification.content_type)
        except PayloadError as error:
            answer = NotifyAnswer(400, Outcome.REJECTED, str(error))
            return _finish(notification, answer, event_type="", order_id="")
    if cart.is_order:
        result = orders_create_from_cart(
            publisher_id=notification.publisher_id,
            notification_id=notification.pk,
            cart=cart,
            is_test=notification.is_test,
            snapshot=snapshot,
            remapped=remapped,
        )
        if result.remapped:
            return NotifyAnswer(
                409,
                notification.outcome,
                result.detail,
                notification.pk,
                # The boxes of the lines in the way, once each (`remapped` holds lines).
                remapped_orders=tuple(dict.fromkeys(line.order_id for line in result.remapped)),
                remapped_lines=tuple(line.pk for line in result.remapped),
            )
        answer = NotifyAnswer(HTTP_STATUS[result.outcome], result.outcome, result.detail)
    elif cart.event_type.casefold() in REFUND_TYPES:
        count = orders_flag_cart_refunded(
            publisher_id=notification.publisher_id,
            order_id=cart.order_id,
            product_ids=cart.product_ids,
            event_type=cart.event_type,
        )
        advice = refund_advice_all(publisher_id=notification.publisher_id, order_id=cart.order_id)
        answer = NotifyAnswer(
            200, Outcome.IGNORED, messages.refund(cart.event_type, cart.order_id, count, advice)
        )
    else:
        answer = NotifyAnswer(200, Outcome.IGNORED, messages.ignored(cart.event_type))
    return _finish(notification, answer, event_type=cart.event_type, order_id=cart.order_id)


def _process_atomic(
    notification: Notification,
    cart: CartNotification | None = None,
    snapshot: IntakeSnapshot | None = None,
    remapped: Remapped = Remapped.SKIP,
) -> NotifyAnswer:
    wait_for_disk = settings.NOTIFY_PROCESS_WAITS_FOR_DISK
    with transaction.atomic(), deferring(wait_for_disk=wait_for_disk):
        return _process(notification, cart, snapshot, remapped)


# PostgreSQL's "deadlock detected" and "could not serialize": the transaction was rolled back
# whole, so running it again is safe.
REDO_SQLSTATES = frozenset({"40P01", "40001"})


def _redo_locked(error: Exception) -> bool:
    """Tell whether a pass that raised `error` should simply run again under the lock.

    A concurrent delivery inserted the same line first (IntegrityError); the balance or prices
    moved after the snapshot (StaleIntake); or PostgreSQL picked this pass as the victim of a
    deadlock with a locked pass of the same line (the unlocked pass holds the line's new
    index entry and waits for the publisher row, the locked pass the reverse). A pass under
    the publisher lock, after the other committed, sees them as they are.
    """
    if isinstance(error, IntegrityError | StaleIntake):
        return True
    cause = error.__cause__ if isinstance(error, OperationalError) else None
    return getattr(cause, "sqlstate", None) in REDO_SQLSTATES


def _fail(notification: Notification, error: Exception) -> NotifyAnswer:
    """Mark the notification `error` with the reason and schedule its automatic retry.

    The event type and order id are kept: parsed again when the body parses, else left as the
    row has them (a failed reprocess must not blank what an earlier pass recorded).
    """
    logger.exception("Processing notification %s failed", notification.pk)
    reason = f"{type(error).__name__}: {str(error)[:200]}"
    answer = NotifyAnswer(500, Outcome.ERROR, DETAIL_ERROR.format(reason=reason))
    try:
        cart = parse_samcart(bytes(notification.raw_body), notification.content_type)
        event_type, order_id = cart.event_type, cart.order_id
    except Exception:  # the error being recorded matters, not this one
        event_type, order_id = None, None
    with transaction.atomic():  # the failure and its retry (next try, task) commit together
        finished = _finish(notification, answer, event_type=event_type, order_id=order_id)
        notification_schedule_retry(notification_id=notification.pk)
    return finished


def notification_process(
    *,
    notification: Notification,
    cart: CartNotification | None = None,
    snapshot: IntakeSnapshot | None = None,
    remapped: Remapped = Remapped.SKIP,
) -> NotifyAnswer:
    """Process a stored notification in its own transaction; never lose it, never raise.

    The Notify URL passes the body it parsed and the snapshot it read before storing.
    """
    try:
        return _process_atomic(notification, cart, snapshot, remapped)
    except Exception as error:
        if not _redo_locked(error):
            return _fail(notification, error)
        logger.info(
            "Notification %s: %s; processing it again under the lock", notification.pk, error
        )
    try:
        return _process_atomic(notification, remapped=remapped)
    except Exception as error:
        return _fail(notification, error)
