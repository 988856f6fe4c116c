"""The Notify URL (SPEC §4): thin — read the request, call one service, map the answer."""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from fulfillment.models import Outcome
from fulfillment.services.notifications import (
    MAX_BODY,
    READY,
    Incoming,
    authenticate,
    notification_receive,
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


def _answer(
    status: int, outcome: str, detail: str, notification_id: int | None = None
) -> JsonResponse:
    payload: dict[str, object] = {"outcome": outcome, "detail": detail}
    if notification_id is not None:
        payload["notification"] = notification_id
    return JsonResponse(payload, status=status)


@csrf_exempt
@transaction.non_atomic_requests
@require_http_methods(["GET", "POST"])
def samcart_notify(request: HttpRequest) -> JsonResponse:
    """Receive one SamCart notification, or check a pasted URL on GET (stores nothing)."""
    idpub = request.GET.get("idpub", "")
    key = request.GET.get("key", "")
    if request.method == "GET":
        _, refusal = authenticate(idpub=idpub, key=key)
        if refusal is not None:
            status = (
                404
                if refusal.outcome == Outcome.UNKNOWN_PUBLISHER or refusal.status == 400
                else refusal.status
            )
            return _answer(status, refusal.outcome, refusal.detail)
        return _answer(200, "ready", READY)
    body, size = _read_body(request)
    answer = notification_receive(
        Incoming(
            idpub=idpub,
            key=key,
            is_test=request.GET.get("test", "").lower() in TRUTHY,
            body=body,
            body_size=size,
            content_type=request.META.get("CONTENT_TYPE", ""),
            remote_addr=request.META.get("REMOTE_ADDR") or None,
        )
    )
    return _answer(answer.status, answer.outcome, answer.detail, answer.notification_id)
