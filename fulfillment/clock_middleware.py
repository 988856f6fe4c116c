"""Activate the viewer's time zone for each request (SPEC §3 one clock).

Django renders every aware datetime of a page (admin lists, read-only fields, `|date`) in the
active time zone; this makes that zone the login's own choice, else its publisher's, else UTC.
The zone is kept on the request (`request.time_zone`) so pages can name it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.signals import request_finished
from django.utils import timezone

from fulfillment import clock

if TYPE_CHECKING:
    from collections.abc import Callable

    from django.http import HttpRequest, HttpResponse


def _back_to_default(**_: object) -> None:
    """Go back to the default zone once a response is sent, so nothing else runs in it."""
    timezone.deactivate()


request_finished.connect(_back_to_default, dispatch_uid="fulfillment-clock-deactivate")


class ViewerTimeZoneMiddleware:
    """Activate `clock.login_zone(request.user)` while the request is handled."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        """Keep the next handler."""
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        """Activate the viewer's zone and handle the request.

        Deactivated when the response is closed (`request_finished`), not when this returns:
        a streamed response (a CSV export) renders its rows later, still in the viewer's zone.
        """
        zone = clock.login_zone(request.user)
        request.time_zone = zone  # type: ignore[attr-defined]
        timezone.activate(zone)
        return self.get_response(request)
