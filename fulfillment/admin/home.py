"""The admin's home page (issue 20, point 8): what needs the person who logs in, then the apps.

A publisher's login lands on its publisher's balance, hold orders with the shortfall,
scheduled orders, problem notifications and the SamCart check; TrepStar staff land on their
work lists. Django's app list stays below. The site's own index view is kept and given the
home's context; its template is `admin/fulfillment/home.html`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.urls import reverse

from fulfillment.clock import login_zone
from fulfillment.models import is_trepstar_staff
from fulfillment.selectors import publishers_for_user
from fulfillment.services.home import HOME_PUBLISHER_LIMIT, publisher_home, staff_home

if TYPE_CHECKING:
    from django.contrib.admin import AdminSite
    from django.http import HttpRequest, HttpResponse

HOME_TEMPLATE = "admin/fulfillment/home.html"
ORDERS = "admin:fulfillment_order_changelist"
NOTIFICATIONS = "admin:fulfillment_notification_changelist"


def _links() -> dict[str, str]:
    """Return the filtered lists the home links to."""
    orders = reverse(ORDERS)
    notifications = reverse(NOTIFICATIONS)
    return {
        "hold": f"{orders}?status__exact=hold",
        "payment": f"{orders}?status__exact=hold&hold_reason__exact=payment_required",
        "scheduled": f"{orders}?status__exact=scheduled",
        "no_match": f"{notifications}?outcome__exact=no_match",
        "error": f"{notifications}?outcome__exact=error",
        "stuck": f"{notifications}?stuck=1",
        "checks": reverse("admin:fulfillment_samcartcheckrun_changelist"),
        "prices": reverse("admin:fulfillment_project_changelist")
        + "?prices_confirmed__exact=0&is_active__exact=1",
        "refunds_scheduled": f"{orders}?cart_refunded__exact=1&status__exact=scheduled",
        "refunds_production": f"{orders}?cart_refunded__exact=1&status__exact=in_production",
        "failed_alerts": reverse("admin:fulfillment_alert_changelist") + "?delivery=failed",
        "publishers": reverse("admin:fulfillment_publisher_changelist"),
        "account": reverse("account"),
    }


def home_context(request: HttpRequest) -> dict[str, Any]:
    """Return what the home page shows to this login (nothing for a login of no publisher)."""
    # The page's moments are shown in this zone (`{% timezone %}` around the home).
    context: dict[str, Any] = {"home_links": _links(), "home_zone": login_zone(request.user)}
    if is_trepstar_staff(request.user):
        context["staff_home"] = staff_home()
        return context
    publishers = list(publishers_for_user(request.user)[: HOME_PUBLISHER_LIMIT + 1])
    context["publisher_homes"] = [publisher_home(p) for p in publishers[:HOME_PUBLISHER_LIMIT]]
    context["more_publishers"] = len(publishers) > HOME_PUBLISHER_LIMIT
    return context


def install_home(site: AdminSite) -> None:
    """Make `site`'s index the home page: its own view, with the home's context and template.

    Run before the site's URLs are built (at import of the admin package): `get_urls` wraps
    `site.index` as it finds it then.
    """
    plain_index = site.index

    def index(request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        """Show the home above Django's app list."""
        return plain_index(request, {**home_context(request), **(extra_context or {})})

    site.index = index  # type: ignore[method-assign]
    site.index_template = HOME_TEMPLATE
