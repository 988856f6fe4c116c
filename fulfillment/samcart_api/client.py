"""A small client for SamCart's API v1: the orders of a time window and an order's customer.

No ORM and no settings: the caller passes the base URL and the key. Every call has a (connect,
read) time-out; 429, 5xx, time-outs and broken connections are retried with a back-off, 401 and
403 stop at once. The key travels in the `sc-api` header only, never in a message or a log.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import parsedate_to_datetime
from urllib.parse import quote, urlencode, urljoin, urlsplit

import requests

from fulfillment.samcart_api.errors import (
    ERR_BAD_URL,
    ERR_FOREIGN_NEXT,
    ERR_KEY_REFUSED,
    ERR_KEY_UNUSABLE,
    ERR_NOT_JSON,
    ERR_REDIRECT,
    ERR_STATUS,
    ERR_TOO_LARGE,
    ERR_TOO_MANY_PAGES,
    ERR_UNAVAILABLE,
    ApiUnavailable,
    BadResponse,
    KeyRefused,
    SamcartApiError,
)
from fulfillment.samcart_api.records import (
    ApiCustomer,
    ApiOrder,
    customer_from_json,
    page_from_json,
)

__all__ = ["SamcartClient"]  # the rest is public from `fulfillment.samcart_api`

MAX_LIMIT = 100
MAX_RETRY_AFTER = 120.0  # seconds: a longer wait asked for by SamCart is cut to this
MAX_PAGES = 10_000  # a million orders at 100 a page; more means a listing that never ends
_KEY = re.compile(r"[\x21-\x7e]+")  # printable ASCII without spaces: what a header can carry
_SECONDS = re.compile(r"[0-9]{1,9}(?:\.[0-9]{1,6})?")
_DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_ANSWER_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class _Retry:
    """A failed try worth repeating: how long SamCart asked us to wait (None: back off)."""

    wait: float | None
    reason: str


class SamcartClient:
    """Read SamCart's API with one publisher's key."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        timeout: float = 10.0,
        tries: int = 5,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
        max_bytes: int = MAX_ANSWER_BYTES,
    ) -> None:
        """Keep the key and the address; nothing is sent before the first call."""
        self._max_bytes = max_bytes
        self._key = api_key
        self._base = base_url.rstrip("/")
        self._timeout = (timeout, timeout)
        self._tries = max(1, tries)
        self._sleep = sleep
        self._session = session or requests.Session()

    def order_pages(
        self, *, created_min: datetime, created_max: datetime, limit: int = MAX_LIMIT
    ) -> Iterator[list[ApiOrder]]:
        """Yield the orders created in the window, one list per page SamCart sends.

        A page may be empty (the last one, when SamCart links to it). A naive datetime is UTC.
        """
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"limit must be from 1 to {MAX_LIMIT}")
        # test_mode is not sent: we want every order and leave test orders out ourselves.
        query = {
            "created_at_min": _utc_text(created_min, round_up=False),
            "created_at_max": _utc_text(created_max, round_up=True),
            "limit": limit,
        }
        url = f"{self._base}/orders?{urlencode(query)}"
        seen = {url}
        for _ in range(MAX_PAGES):
            orders, following = page_from_json(self._get(url), "the order listing")
            yield orders
            if following is None:
                return
            url = self._next_url(url, following)
            if url in seen:
                return  # the listing loops back to a page already read: nothing new follows
            seen.add(url)
        raise BadResponse(ERR_TOO_MANY_PAGES.format(pages=MAX_PAGES))

    def customer(self, *, order_id: str) -> ApiCustomer:
        """Return the customer of an order, with the addresses SamCart keeps for them."""
        if not str(order_id).strip():
            raise ValueError("order_id is empty")
        url = f"{self._base}/orders/{quote(str(order_id), safe='')}/customer"
        return customer_from_json(self._get(url), f"the customer of order {order_id}")

    def _next_url(self, current: str, following: str) -> str:
        """Return the next page's URL; refuse one on another host, where the key would go."""
        url = urljoin(current, following)
        if _origin(url) != _origin(self._base):
            netloc = urlsplit(url).netloc[:100]
            raise BadResponse(ERR_FOREIGN_NEXT.format(netloc=repr(netloc)))
        return url

    def _get(self, url: str) -> object:
        """Return the JSON SamCart answers to GET url, trying again while it is worth it."""
        what = f"GET {urlsplit(url).path}"
        if not isinstance(self._key, str) or not _KEY.fullmatch(self._key):
            raise KeyRefused(ERR_KEY_UNUSABLE)
        retry = _Retry(wait=None, reason="")
        for attempt in range(self._tries):
            if attempt:
                backoff = 2.0 ** (attempt - 1)  # 1, 2, 4, 8 ... seconds
                self._sleep(retry.wait if retry.wait is not None else backoff)
            outcome = self._try(url, what)
            if not isinstance(outcome, _Retry):
                return outcome
            retry = outcome
        raise ApiUnavailable(ERR_UNAVAILABLE.format(tries=self._tries, last=retry.reason))

    def _try(self, url: str, what: str) -> object:
        """Send one request: return its JSON, a _Retry, or raise what retrying cannot mend."""
        try:
            response = self._session.get(
                url,
                headers={"sc-api": self._key, "Accept": "application/json"},
                timeout=self._timeout,
                # A redirect would carry the sc-api header to wherever it points.
                allow_redirects=False,
                stream=True,  # read at most max_bytes of the body (`_content`)
            )
        except requests.Timeout:
            return _Retry(wait=None, reason="no answer in time")
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
            return _Retry(wait=None, reason="could not connect, or the connection broke")
        except requests.RequestException:
            # `from None`: the cause is requests' own text, which we do not control.
            raise SamcartApiError(ERR_BAD_URL.format(url=self._base[:200])) from None
        with response:
            return self._answer(response, what)

    def _answer(self, response: requests.Response, what: str) -> object:
        """Judge one answer: its JSON, a _Retry, or raise what retrying cannot mend."""
        status = response.status_code
        if 200 <= status < 300:
            try:
                content = self._content(response, what)
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
                return _Retry(wait=None, reason="the connection broke during the answer")
            return _json(content, what)
        if status in (401, 403):
            raise KeyRefused(ERR_KEY_REFUSED.format(status=status))
        if status == 429:
            wait = _retry_after(response.headers.get("Retry-After"))
            return _Retry(wait=wait, reason="HTTP 429, too many requests")
        if status >= 500:
            return _Retry(wait=None, reason=f"HTTP {status}")
        template = ERR_REDIRECT if 300 <= status < 400 else ERR_STATUS
        raise SamcartApiError(template.format(status=status, what=what))

    def _content(self, response: requests.Response, what: str) -> bytes:
        """Return the body, refusing one larger than max_bytes (a page of 100 orders is tens
        of kilobytes: a huge answer is a fault, and must not fill the worker's memory)."""
        chunks, size = [], 0
        for chunk in response.iter_content(chunk_size=64 * 1024):
            size += len(chunk)
            if size > self._max_bytes:
                raise BadResponse(ERR_TOO_LARGE.format(what=what, limit=self._max_bytes))
            chunks.append(chunk)
        return b"".join(chunks)


def _json(content: bytes, what: str) -> object:
    """Parse an answer's JSON (floats as Decimal, no NaN); anything else is a BadResponse."""
    try:
        return json.loads(content, parse_float=Decimal, parse_constant=_no_constant)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError included
        raise BadResponse(ERR_NOT_JSON.format(what=what)) from None


def _no_constant(_name: str) -> object:
    """Refuse NaN and Infinity, which JSON does not have."""
    raise ValueError("not JSON")


def _retry_after(value: str | None) -> float | None:
    """Return the seconds a Retry-After header asks for (number or HTTP date), capped; else None."""
    text = (value or "").strip()
    if _SECONDS.fullmatch(text):
        seconds = float(text)
    else:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        seconds = (moment - datetime.now(UTC)).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _utc_text(moment: datetime, *, round_up: bool) -> str:
    """Return ISO-8601 UTC to the second with "Z"; the window's end rounds up, never narrowing."""
    moment = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
    if round_up and moment.microsecond:
        moment += timedelta(seconds=1)
    return moment.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def _origin(url: str) -> tuple[str, str, int | None]:
    """Return (scheme, host, port) with the scheme's default port filled in."""
    parts = urlsplit(url)
    try:
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
    except ValueError:  # a port that is no number
        return (parts.scheme, "", None)
    return (parts.scheme.casefold(), (parts.hostname or "").casefold(), port)
