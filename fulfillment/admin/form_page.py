"""A small staff-only form page about one publisher (deposits, new logins)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from .base import is_staff_request

if TYPE_CHECKING:
    from django import forms
    from django.contrib.admin import ModelAdmin
    from django.http import HttpRequest

    from fulfillment.models import Publisher


def staff_publisher(model_admin: ModelAdmin, request: HttpRequest, object_id: str) -> Publisher:
    """Return the publisher of the page; only TrepStar staff may open such pages."""
    if not is_staff_request(request):
        raise PermissionDenied
    return model_admin.get_object(request, object_id)


def back_to_publisher(publisher: Publisher) -> HttpResponseRedirect:
    """Redirect to the publisher's admin page after a successful form."""
    return HttpResponseRedirect(reverse("admin:fulfillment_publisher_change", args=[publisher.pk]))


def render_form_page(
    model_admin: ModelAdmin,
    request: HttpRequest,
    publisher: Publisher,
    form: forms.Form,
    *,
    crumb: str,
    intro: str,
    submit_label: str,
) -> TemplateResponse:
    """Render `form` on the shared publisher form page, titled "<crumb> — <publisher>"."""
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"{crumb} — {publisher.name}",
        "opts": model_admin.opts,
        "original": publisher,
        "form": form,
        "crumb": crumb,
        "intro": intro,
        "submit_label": submit_label,
    }
    return TemplateResponse(request, "admin/fulfillment/publisher/form_page.html", context)
