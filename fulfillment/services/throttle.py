"""Rate limits on Django's shared cache: failed Notify URL checks (SPEC §4) and password reset
e-mails (at the end of the module).

Fixed one-minute windows count the requests that failed the `idpub`/key checks: 400
(malformed idpub), 404 (unknown idpub) and 403 (missing or wrong key), so the publisher-ID
oracle is limited too. Two counters: one per (client address, idpub), one per client address
whatever the idpubs (random idpubs must not buy fresh windows). Past 10 failures for one idpub,
or 30 from the address, further failing requests answer 429 and store no notification. Such a
refusal is counted, not stored: in the publisher's hourly `RefusedRequestTally` when the idpub
names one; an unknown or malformed idpub has no publisher to tally on, so its refusals are only
counted in the address's cache counter. The address's first refusal past 30 in a window is
logged (with the address) for the operator.

The Notify URL reads the publisher before it stores anything, so only a request that failed
the checks touches the cache: it *reserves* a slot (an atomic `incr`) before it is stored, so
concurrent requests can never store more than 10 refused rows a window per idpub, 30 per
address. A request with the
right key is never counted nor refused by the limit, so an attacker sharing SamCart's address
(another SamCart account pointed at this idpub, a proxy in front of both) cannot shut the
publisher's orders out, and SamCart's deliveries cost no cache round trip.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import logging
import time

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from fulfillment.ids import idpub_or_none
from fulfillment.models import Outcome, Publisher, RefusedRequestTally

from .notifications import (
    READY,
    Incoming,
    NotifyAnswer,
    authenticate,
    notification_receive,
)

logger = logging.getLogger(__name__)

FAILURE_LIMIT = 10  # failed checks per window, per client address and idpub
ADDRESS_FAILURE_LIMIT = 30  # failed checks per window, per client address, whatever the idpubs
WINDOW_SECONDS = 60
DETAIL_TOO_MANY = (
    "Too many requests with a wrong key or publisher ID came from this address in the last "
    "minute, so this one was refused and not stored. Copy the full Notify URL from your "
    "TrepStar account page and try again in a minute."
)

LOG_ADDRESS_LIMITED = (
    "Notify URL: %s failed the idpub/key checks more than 30 times this minute; refusing its "
    "failing requests (429, not stored) until the minute ends"
)


def _client_address(remote_addr: str | None) -> str | None:
    """Return `remote_addr` when it is an IP address (what the tally can store), else None."""
    try:
        return str(ipaddress.ip_address(remote_addr or ""))
    except ValueError:
        return None


def _bucket(*, remote_addr: str | None, idpub: str | None) -> str:
    """Return the cache key counting this address's failures for this idpub in this window.

    `idpub=None` names the address's counter over all idpubs.
    """
    # Every malformed idpub shares one bucket: varying garbage must not buy fresh windows.
    named = "*" if idpub is None else idpub_or_none(idpub) or "malformed"
    digest = hashlib.sha256(f"{remote_addr or '-'}|{named}".encode()).hexdigest()[:32]
    return f"notify-failures:{digest}:{int(time.time()) // WINDOW_SECONDS}"


def _buckets(*, remote_addr: str | None, idpub: str) -> tuple[str, str]:
    """Return the (address and idpub, address) counters of a request."""
    return (
        _bucket(remote_addr=remote_addr, idpub=idpub),
        _bucket(remote_addr=remote_addr, idpub=None),
    )


def _over_limit(buckets: tuple[str, str]) -> tuple[bool, bool]:
    """Count one failure in both counters; return (over a limit, the address's first refusal)."""
    per_idpub, per_address = (_reserve(bucket) for bucket in buckets)
    over = per_idpub > FAILURE_LIMIT or per_address > ADDRESS_FAILURE_LIMIT
    return over, per_address == ADDRESS_FAILURE_LIMIT + 1


def _count(bucket: str, *, window: int) -> int:
    """Count one more request in `bucket` atomically and return the new count."""
    try:
        return cache.incr(bucket)
    except ValueError:  # the window's first request
        if cache.add(bucket, 1, timeout=window * 2):
            return 1
        return cache.incr(bucket)


def _reserve(bucket: str, *, window: int = WINDOW_SECONDS) -> int:
    """Reserve a slot in `bucket`; 0 when the cache is down (the limit fails open)."""
    try:
        return _count(bucket, window=window)
    except Exception:  # Redis down or full: SamCart's orders matter more than the limit
        logger.exception("Rate limit: the cache failed; not limiting")
        return 0


def _release(bucket: str) -> None:
    """Give back the slot of a request whose checks passed (it was no failure)."""
    with contextlib.suppress(Exception):  # window expired, or the cache is down: nothing to do
        cache.decr(bucket)


def refused_request_record(*, publisher: Publisher, remote_addr: str | None) -> None:
    """Count one rate-limited request in the publisher's tally of the current hour."""
    now = timezone.now()
    hour = now.replace(minute=0, second=0, microsecond=0)
    tally = RefusedRequestTally.objects.filter(publisher=publisher, hour=hour)
    changes = {"count": F("count") + 1, "last_remote_addr": remote_addr, "last_at": now}
    if tally.update(**changes):
        return
    try:
        with transaction.atomic():
            RefusedRequestTally.objects.create(
                publisher=publisher, hour=hour, count=1, last_remote_addr=remote_addr, last_at=now
            )
    except IntegrityError:  # a concurrent request created the hour's row first
        tally.update(**changes)


def notification_receive_throttled(incoming: Incoming) -> NotifyAnswer:
    """Receive a POST to the Notify URL unless its address failed the checks too often."""
    remote_addr = _client_address(incoming.remote_addr)

    def gate(publisher: Publisher | None) -> NotifyAnswer | None:
        """A failed check: count it; past a limit refuse it unstored (429), counted."""
        over, first = _over_limit(_buckets(remote_addr=remote_addr, idpub=incoming.idpub))
        if not over:
            return None
        if publisher is not None:
            refused_request_record(publisher=publisher, remote_addr=remote_addr)
        if first:  # the address's first refusal this minute, whatever the idpub
            logger.warning(LOG_ADDRESS_LIMITED, remote_addr or "an unknown address")
        return NotifyAnswer(429, Outcome.REJECTED, DETAIL_TOO_MANY)

    return notification_receive(incoming, gate=gate)


def notify_url_check_throttled(*, idpub: str, key: str, remote_addr: str | None) -> NotifyAnswer:
    """Answer a GET of the Notify URL (a pasted-URL check); it stores nothing, even when limited.

    A refusal answers 404 (unknown or malformed idpub) or 403 (bad key), as before.
    """
    remote_addr = _client_address(remote_addr)
    buckets = _buckets(remote_addr=remote_addr, idpub=idpub)
    over, _ = _over_limit(buckets)
    _, refusal = authenticate(idpub=idpub, key=key)
    if refusal is None:
        for bucket in buckets:
            _release(bucket)
        return NotifyAnswer(200, "ready", READY)
    if over:
        return NotifyAnswer(429, Outcome.REJECTED, DETAIL_TOO_MANY)
    status = 404 if refusal.status in (400, 404) else refusal.status
    return NotifyAnswer(status, refusal.outcome, refusal.detail)


# Password reset e-mails (SPEC §14, §16): a flood of reset requests must not flood a mailbox
# nor turn the site into a mail cannon. Fixed one-hour windows on the same shared cache.
RESET_WINDOW_SECONDS = 3600
RESET_MAILS_PER_ACCOUNT = 3  # reset e-mails per login and hour
RESET_REQUESTS_PER_CLIENT = 10  # reset requests per client address and hour


def _hourly_bucket(kind: str, who: str) -> str:
    """Return the cache key counting `who` for `kind` in this hour."""
    digest = hashlib.sha256(who.encode()).hexdigest()[:32]
    return f"{kind}:{digest}:{int(time.time()) // RESET_WINDOW_SECONDS}"


def password_reset_request_allowed(*, remote_addr: str | None) -> bool:
    """Count a reset request from this client address; False past its hourly cap."""
    bucket = _hourly_bucket("password-reset-client", _client_address(remote_addr) or "-")
    return _reserve(bucket, window=RESET_WINDOW_SECONDS) <= RESET_REQUESTS_PER_CLIENT


def password_reset_mail_allowed(*, user_id: int) -> bool:
    """Count a reset e-mail to this login; False past its hourly cap."""
    bucket = _hourly_bucket("password-reset-account", str(user_id))
    return _reserve(bucket, window=RESET_WINDOW_SECONDS) <= RESET_MAILS_PER_ACCOUNT


def rate_count(*, bucket: str, window: int) -> int:
    """Count one more request in `bucket`'s current fixed window of `window` seconds and
    return the count (0 when the cache is down: the limit fails open)."""
    return _reserve(f"{bucket}:{int(time.time()) // window}", window=window)
