"""The SamCart check on the publisher's admin page (SPEC §17), for TrepStar staff.

Staff set or remove the publisher's SamCart API key through a write-only field (empty keeps
the key; the input never shows one), see its last 4 characters and the latest check run; the
publisher list shows each publisher's last check.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin
from django.db.models import OuterRef, Subquery
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.views.decorators.debug import sensitive_post_parameters

from fulfillment.account_form import (
    GroupingField,
    SamcartKeyField,
    TimeZoneField,
    grouping_or_saved,
    zone_or_saved,
)
from fulfillment.clock import when
from fulfillment.models import Publisher, RunStatus, SamcartCheckRun
from fulfillment.services.samcart_keys import publisher_set_samcart_key

from .base import is_staff_request, short_datetime

if TYPE_CHECKING:
    from django.db.models import QuerySet
    from django.http import HttpRequest, HttpResponse

NEW_KEY_FIELD = "new_samcart_api_key"
REMOVE_KEY_FIELD = "remove_samcart_api_key"
ERROR_KEY_AND_REMOVE = "Enter a new key or remove the key, not both."
NO_KEY = "No key: the SamCart check does not run for this publisher."
KEY_LAST4 = "Key ending in …{last4}"
KEY_REFUSED = "; SamCart refused it on {date}: checks are paused until a new key is entered"
NO_RUN = "No check has run yet."
SAMCART_FIELDSET = (
    "SamCart check",
    {"fields": ("samcart_key_status", NEW_KEY_FIELD, REMOVE_KEY_FIELD, "last_check")},
)


class PublisherForm(forms.ModelForm):
    """The publisher's settings, plus a write-only SamCart API key and its removal (staff);
    the grouping minutes in the account page's words and range."""

    grouping_minutes = GroupingField()
    time_zone = TimeZoneField(
        blank_label="(keep the saved zone)",
        help_text="Times on the publisher's pages and in its e-mails are shown in this zone; "
        "each login may choose its own.",
    )
    new_samcart_api_key = SamcartKeyField(
        label="New SamCart API key",
        help_text="Empty: keep the current key. The key is stored encrypted and never shown.",
    )
    remove_samcart_api_key = forms.BooleanField(label="Remove the SamCart API key", required=False)

    class Meta:
        model = Publisher
        fields: tuple[str, ...] = ()

    def clean_grouping_minutes(self) -> int:
        """Keep the saved grouping when the form sent none."""
        return grouping_or_saved(self.cleaned_data.get("grouping_minutes"), self.instance)

    def clean_time_zone(self) -> str:
        """Keep the saved time zone when the form sent none."""
        return zone_or_saved(self.cleaned_data.get("time_zone", ""), self.instance)

    def clean(self) -> dict[str, Any]:
        """Refuse a new key together with its removal."""
        cleaned = super().clean()
        if cleaned.get(NEW_KEY_FIELD) and cleaned.get(REMOVE_KEY_FIELD):
            raise forms.ValidationError(ERROR_KEY_AND_REMOVE)
        return cleaned


def last_check_annotations() -> dict[str, Subquery]:
    """Return the annotations of each publisher's latest run: when it started, its status."""
    latest = SamcartCheckRun.objects.filter(publisher=OuterRef("pk")).order_by("-started_at", "-id")
    return {
        "last_check_at": Subquery(latest.values("started_at")[:1]),
        "last_check_status": Subquery(latest.values("status")[:1]),
    }


class PublisherSamcartMixin:
    """What the publisher admin adds for the SamCart check (staff only)."""

    form = PublisherForm

    @method_decorator(sensitive_post_parameters(NEW_KEY_FIELD))  # never in error reports
    def change_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """Change a publisher; the posted key stays out of error reports."""
        return super().change_view(request, *args, **kwargs)  # type: ignore[misc]

    @method_decorator(sensitive_post_parameters(NEW_KEY_FIELD))
    def add_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """Add a publisher; the posted key stays out of error reports."""
        return super().add_view(request, *args, **kwargs)  # type: ignore[misc]

    def get_fieldsets(self, request: HttpRequest, obj: Publisher | None = None) -> Any:
        """Show staff the SamCart check's key and last run."""
        fieldsets = super().get_fieldsets(request, obj)  # type: ignore[misc]
        if is_staff_request(request):
            return (*fieldsets, SAMCART_FIELDSET)
        return fieldsets

    def samcart_queryset(self, queryset: QuerySet[Publisher]) -> QuerySet[Publisher]:
        """Add each publisher's last check (for the staff column)."""
        return queryset.annotate(**last_check_annotations())

    def samcart_save(self, request: HttpRequest, obj: Publisher, form: forms.Form) -> None:
        """Store the new key, or remove it, when staff asked; nothing otherwise."""
        data = form.cleaned_data
        key = data.get(NEW_KEY_FIELD, "")
        if key or data.get(REMOVE_KEY_FIELD):
            publisher_set_samcart_key(publisher=obj, key=key, actor=request.user)

    @admin.display(description="API key")
    def samcart_key_status(self, obj: Publisher) -> str:
        """Say whether a key is set (its last 4 characters) and whether SamCart refused it."""
        if obj.pk is None or not obj.samcart_api_key:
            return NO_KEY
        text = KEY_LAST4.format(last4=obj.samcart_api_key_last4)
        if obj.samcart_key_refused_at is not None:
            text += KEY_REFUSED.format(date=when(obj.samcart_key_refused_at))
        return f"{text}."

    @admin.display(description="last check")
    def last_check(self, obj: Publisher) -> str:
        """Link the publisher's latest check run, with its status, and all its runs."""
        if obj.pk is None:
            return NO_RUN
        run = SamcartCheckRun.objects.filter(publisher=obj).order_by("-started_at", "-id").first()
        if run is None:
            return NO_RUN
        return format_html(
            '<a href="{}">{}: {}</a> · <a href="{}">all checks</a>',
            reverse("admin:fulfillment_samcartcheckrun_change", args=[run.pk]),
            when(run.started_at),
            run.get_status_display(),
            _runs_url(obj),
        )

    @admin.display(description="last SamCart check", ordering="last_check_at")
    def last_check_column(self, obj: Publisher) -> str:
        """Show when the last check ran and how it ended, linking the publisher's runs."""
        started = getattr(obj, "last_check_at", None)
        if started is None:
            return "—"
        status = getattr(obj, "last_check_status", "")
        label = RunStatus(status).label if status in RunStatus.values else status
        return format_html(
            '<a href="{}">{} · {}</a>', _runs_url(obj), short_datetime(started), label
        )


def _runs_url(publisher: Publisher) -> str:
    """Return the run list filtered on `publisher`."""
    url = reverse("admin:fulfillment_samcartcheckrun_changelist")
    return f"{url}?publisher__id__exact={publisher.pk}"
