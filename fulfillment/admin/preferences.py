"""My preferences: a login's own time zone and which alert e-mails it gets (SPEC §3, §14).

Any logged-in login may open it; it reads and writes only that login's own
`LoginPreferences` row (no parameter names another login). An unknown time zone is a form
error, never a 500.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from fulfillment import clock
from fulfillment.account_form import TimeZoneField
from fulfillment.models import LoginPreferences, Publisher

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse

PREFERENCES_SAVED = "Preferences saved: times are shown in {zone}."
NOT_SAVED = "Preferences not saved: correct the errors below."
ALERT_FIELDS = (
    "alert_hold_orders",
    "alert_needs_action",
    "alert_low_balance",
    "alert_shipped_daily",
)


class PreferencesForm(forms.ModelForm):
    """A login's time zone (empty: its publisher's) and its four alert choices."""

    time_zone = TimeZoneField(
        blank_label="(my publisher's time zone)",
        help_text="Times on every page are shown in this zone, with its abbreviation (EST, CET…).",
    )

    class Meta:
        model = LoginPreferences
        fields = ("time_zone", *ALERT_FIELDS)


def _publisher_zone_text(request: HttpRequest) -> str:
    """Name the zone the login would follow with no choice of its own."""
    publisher = Publisher.objects.filter(users=request.user).order_by("pk").first()
    return clock.zone_name(clock.publisher_zone(publisher)) if publisher else "UTC"


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    """Show and save the login's own preferences."""
    row = LoginPreferences.objects.filter(user=request.user).first()
    row = row or LoginPreferences(user=request.user)
    form = PreferencesForm(request.POST if request.method == "POST" else None, instance=row)
    if request.method == "POST":
        if form.is_valid():
            form.save()
            zone = clock.zone_name(clock.login_zone(request.user))
            messages.success(request, PREFERENCES_SAVED.format(zone=zone))
            return HttpResponseRedirect(reverse("preferences"))
        messages.error(request, NOT_SAVED)
    context = {
        **admin.site.each_context(request),
        "title": "My preferences",
        "form": form,
        "publisher_zone": _publisher_zone_text(request),
    }
    return TemplateResponse(request, "admin/fulfillment/preferences.html", context)
