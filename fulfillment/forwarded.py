"""The client's address behind a reverse proxy (docs/operator.md, "Behind a reverse proxy").

Behind Caddy or nginx every request comes from the proxy's address, so the per-address limits
(Notify URL wrong keys, password reset requests, the login lockout per username and address)
would count every client together. With TRUSTED_PROXY_COUNT = N (1 with BEHIND_TLS_PROXY),
REMOTE_ADDR becomes the address the N-th proxy from us saw: the N-th entry from the right of
`X-Forwarded-For` (each proxy appends the address it received the request from; entries further
left were written by the client and are not trusted). A missing, short or malformed header
leaves REMOTE_ADDR as it is.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse


def forwarded_client(header: str, proxies: int) -> str | None:
    """Return the address `proxies` hops from the right of an X-Forwarded-For value, if valid."""
    if proxies < 1:
        return None
    hops = [hop.strip() for hop in header.split(",")]
    if len(hops) < proxies:
        return None
    candidate = hops[-proxies]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


class ForwardedClientMiddleware:
    """Set REMOTE_ADDR from the trusted proxies' X-Forwarded-For entry (first middleware)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        proxies = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
        header = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if proxies and header:
            client = forwarded_client(header, proxies)
            if client is not None:
                request.META["REMOTE_ADDR"] = client
        return self.get_response(request)
