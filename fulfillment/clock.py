"""One clock for people (SPEC §3): every moment shown as "2026-12-04 05:20 EST".

A moment is shown in the viewer's time zone: the login's own choice, else its publisher's,
else UTC. E-mails use the zone of the login they go to, or the publisher's. The API keeps
ISO-8601 with its offset.
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from fulfillment.models import LoginPreferences, Publisher

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

NO_TIME = "—"


def zone_named(name: str) -> tzinfo:
    """Return the time zone of an IANA name; UTC for an empty or unknown name."""
    try:
        return zoneinfo.ZoneInfo(name) if name else UTC
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return UTC


def zone_name(zone: tzinfo) -> str:
    """Name a time zone for people: its IANA name ("America/New_York"), or "UTC"."""
    return getattr(zone, "key", None) or str(zone)


# Names the zone database holds that are no place: the machine's own zone, legacy rules.
NOT_PLACES = frozenset({"localtime", "posixrules", "Factory"})


def zone_choices() -> list[tuple[str, str]]:
    """Return every IANA time zone as form choices, sorted by name."""
    names = zoneinfo.available_timezones() - NOT_PLACES
    return [(name, name) for name in sorted(names)]


def publisher_zone(publisher: Publisher) -> tzinfo:
    """Return the publisher's time zone."""
    return zone_named(publisher.time_zone)


def login_zone(user: AbstractBaseUser | AnonymousUser) -> tzinfo:
    """Return the zone a login sees: its own choice, else its first publisher's, else UTC.

    One query (it runs on every page): both names are read as subqueries of the login's row.
    """
    if not getattr(user, "is_authenticated", False):
        return UTC
    own = LoginPreferences.objects.filter(user=OuterRef("pk")).values("time_zone")[:1]
    publisher = (
        Publisher.objects.filter(users=OuterRef("pk")).order_by("pk").values("time_zone")[:1]
    )
    logins = get_user_model()._default_manager.filter(pk=user.pk)
    names = logins.values_list(Subquery(own), Subquery(publisher)).first()
    own_name, publisher_name = names or ("", "")
    return zone_named(own_name or publisher_name or "")


def when(moment: datetime | None, zone: tzinfo | None = None) -> str:
    """Show a moment as "2026-12-04 05:20 EST", in `zone` or the active time zone."""
    if moment is None:
        return NO_TIME
    local = moment.astimezone(zone or timezone.get_current_timezone())
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"
