"""The Notify URL (SPEC §4): thin — read the request, call one service, map the answer."""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from fulfillment.services.notifications import MAX_BODY, Incoming, NotifyAnswer
from fulfillment.services.throttle import (
    WINDOW_SECONDS,
    notification_receive_throttled,
    notify_url_check_throttled,
)

TRUTHY = {"1", "true", "yes", "on"}


def _read_body(request: HttpRequest) -> tuple[bytes, int]:
    """Read at most MAX_BODY + 1 bytes and return them with the size the client announced."""
    try:
        announced = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        announced = 0
    body = request.read(MAX_BODY + 1)
    return body, max(announced, len(body))


def _answer(answer: NotifyAnswer) -> JsonResponse:
    """Return the small JSON document SamCart shows in its integration log."""
    payload: dict[str, object] = {"outcome": answer.outcome, "detail": answer.detail}
    if answer.notification_id is not None:
        payload["notification"] = answer.notification_id
    response = JsonResponse(payload, status=answer.status)
    if answer.status == 429:
        response["Retry-After"] = str(WINDOW_SECONDS)
    return response


@csrf_exempt
@transaction.non_atomic_requests
@require_http_methods(["GET", "POST"])
def samcart_notify(request: HttpRequest) -> JsonResponse:
    """Receive one SamCart notification, or check a pasted URL on GET (stores nothing)."""
    idpub = request.GET.get("idpub", "")
    key = request.GET.get("key", "")
    remote_addr = request.META.get("REMOTE_ADDR") or None
    if request.method == "GET":
        return _answer(notify_url_check_throttled(idpub=idpub, key=key, remote_addr=remote_addr))
    body, size = _read_body(request)
    incoming = Incoming(
        idpub=idpub,
        key=key,
        is_test=request.GET.get("test", "").lower() in TRUTHY,
        body=body,
        body_size=size,
        content_type=request.META.get("CONTENT_TYPE", ""),
        remote_addr=remote_addr,
    )
    return _answer(notification_receive_throttled(incoming))
