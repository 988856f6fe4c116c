"""The Notify URL (SPEC §4): thin — read the request, call one service, map the answer."""

from __future__ import annotations

import re

from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.templatetags.static import static
from django.utils.cache import add_never_cache_headers, patch_vary_headers
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from fulfillment.services.notifications import MAX_BODY, NotifyAnswer
from fulfillment.services.replay import (
    UNAVAILABLE_RETRY_AFTER,
    notification_receive_guarded,
    notify_url_check_guarded,
)
from fulfillment.services.throttle import WINDOW_SECONDS

FAVICON = "fulfillment/favicon.svg"
RETRY_AFTER = {429: WINDOW_SECONDS, 503: UNAVAILABLE_RETRY_AFTER}
NOTIFY_PATH = re.compile(r"^/samcart/notify/?$")
DETAIL_SERVER_ERROR = (
    "An unexpected error stopped TrepStar before it could answer. Please send this "
    "notification again."
)


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
    # Real UTF-8 ("→", not "\u2192"): JSON is UTF-8 by definition, and people read these.
    response = JsonResponse(
        payload,
        status=answer.status,
        content_type="application/json; charset=utf-8",
        json_dumps_params={"ensure_ascii": False},
    )
    if answer.status in RETRY_AFTER:
        response["Retry-After"] = str(RETRY_AFTER[answer.status])
    return response


def _wants_html(request: HttpRequest) -> bool:
    """Tell whether a person opened the URL in a browser (HTML asked for, not JSON)."""
    accept = request.META.get("HTTP_ACCEPT", "")
    return "text/html" in accept and "application/json" not in accept


def _page(request: HttpRequest, answer: NotifyAnswer) -> HttpResponse:
    """Return the small page a browser gets: the same check, in words; never cached."""
    context = {"ready": answer.status == 200, "detail": answer.detail}
    response = TemplateResponse(
        request, "fulfillment/notify_check.html", context, status=answer.status
    )
    if answer.status in RETRY_AFTER:
        response["Retry-After"] = str(RETRY_AFTER[answer.status])
    add_never_cache_headers(response)  # the URL holds the key
    return response


@csrf_exempt
@transaction.non_atomic_requests
@require_http_methods(["GET", "POST"])
def samcart_notify(request: HttpRequest) -> HttpResponse:
    """Receive one SamCart notification, or check a pasted URL on GET (stores nothing).

    A GET from a browser gets a small page in words; any other client the JSON answer.
    """
    idpub = request.GET.get("idpub", "")
    key = request.GET.get("key", "")
    remote_addr = request.META.get("REMOTE_ADDR") or None
    if request.method == "GET":
        answer = notify_url_check_guarded(idpub=idpub, key=key, remote_addr=remote_addr)
        response = _page(request, answer) if _wants_html(request) else _answer(answer)
        patch_vary_headers(response, ["Accept"])  # a page for browsers, JSON for the rest
        return response
    body, size = _read_body(request)
    answer = notification_receive_guarded(
        query_string=request.META.get("QUERY_STRING", ""),
        body=body,
        body_size=size,
        content_type=request.META.get("CONTENT_TYPE", ""),
        remote_addr=remote_addr,
    )
    return _answer(answer)


def favicon(request: HttpRequest) -> HttpResponse:
    """Send browsers asking for /favicon.ico to the icon (static URL worked out per request)."""
    return HttpResponseRedirect(static(FAVICON))


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: the Notify URL answers JSON even then (SPEC §4), other pages Django's page."""
    if NOTIFY_PATH.match(request.path_info):
        return _answer(NotifyAnswer(500, "error", DETAIL_SERVER_ERROR))
    return defaults.server_error(request)
