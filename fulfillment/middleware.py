"""A guard against NUL bytes in query strings and form fields (SPEC §16).

PostgreSQL refuses NUL (U+0000) in text, so a filter such as `?status__exact=%00` in the admin
used to end in a DataError (500). No page of the product has a use for NUL in a parameter, so
any request carrying one answers 400 before a view runs. The Notify URL is left alone: it
stores whatever SamCart (or anyone) sent and answers for itself (SPEC §4).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.http import HttpResponse, HttpResponseBadRequest, JsonResponse

if TYPE_CHECKING:
    from collections.abc import Callable

    from django.http import HttpRequest, QueryDict

NUL = "\x00"
ERROR_NUL = "A parameter contains a NUL byte (%00), which no field accepts."
# Views that read the raw request themselves and must see every request (store first).
EXEMPT_URL_NAMES = frozenset({"samcart-notify"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def has_nul(params: QueryDict) -> bool:
    """Tell whether a name or a value of `params` holds a NUL byte."""
    return any(NUL in key or any(NUL in v for v in values) for key, values in params.lists())


class RefuseNulBytesMiddleware:
    """Answer 400 to a request whose query string or form fields contain a NUL byte."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        """Keep the next handler."""
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        """Pass the request on; the check runs in `process_view`, once the view is known."""
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., HttpResponse],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponse | None:
        """Refuse NUL in the query string, or in the fields of a form-encoded body."""
        match = request.resolver_match
        if match is not None and match.url_name in EXEMPT_URL_NAMES:
            return None
        if has_nul(request.GET) or (_is_form(request) and has_nul(request.POST)):
            if hasattr(view_func, "cls"):  # a REST framework view: answer like the API does
                return JsonResponse({"detail": ERROR_NUL}, status=400)
            return HttpResponseBadRequest(ERROR_NUL, content_type="text/plain; charset=utf-8")
        return None


def _is_form(request: HttpRequest) -> bool:
    """Tell whether the body is form data that Django parses into `request.POST`."""
    return request.method == "POST" and request.content_type in FORM_TYPES
