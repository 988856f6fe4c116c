"""The one-click link in every alert e-mail (issue 20 #12): switch that alert off for that
login, no login needed; the page says so and offers to switch it on again.

The signed token is the only credential (`services.alert_choices`), so the view is exempt
from CSRF: mail programs POST to it for List-Unsubscribe-Post (RFC 8058). GET and a POST
without `on=1` switch the alert off; a POST with `on=1` switches it on again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from fulfillment.models import AlertKind
from fulfillment.services.alert_choices import choice_from_token, login_choice_set

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse

BAD_LINK = (
    "This link is not valid (it may have been cut short when it was copied). Choose your "
    "e-mail alerts on your preferences page after logging in."
)
# Where a login chooses all its alerts: "My preferences" when it exists, else the account page.
PREFERENCES_URL_NAMES = ("admin:preferences", "preferences", "account")


def preferences_url() -> str:
    """The page where a login chooses its alerts."""
    for name in PREFERENCES_URL_NAMES:
        try:
            return reverse(name)
        except NoReverseMatch:
            continue
    return "/"


@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def alert_choice(request: HttpRequest, token: str) -> HttpResponse:
    """Switch one alert kind off (or, with `on=1`, on again) for the login the token names."""
    found = choice_from_token(token)
    context: dict[str, object] = {"preferences_url": preferences_url(), "token": token}
    if found is None:
        context["error"] = BAD_LINK
        return TemplateResponse(request, "fulfillment/alert_choice.html", context, status=400)
    user, kind = found
    on = request.method == "POST" and request.POST.get("on") == "1"
    login_choice_set(user=user, kind=kind, on=on)
    context.update(
        {"on": on, "kind": AlertKind(kind).label, "address": user.email, "login": user.username}
    )
    return TemplateResponse(request, "fulfillment/alert_choice.html", context)
