"""One clock for people (SPEC §3): every moment shown as "2026-12-04 05:20 EST".

A moment is shown in the viewer's time zone: the login's own choice, else its publisher's,
else UTC. E-mails use the zone of the login they go to, or the publisher's. The API keeps
ISO-8601 with its offset.
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING

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
    """Return the zone a login sees: its own choice, else its first publisher's, else UTC."""
    if not getattr(user, "is_authenticated", False):
        return UTC
    own = LoginPreferences.objects.filter(user=user).values_list("time_zone", flat=True).first()
    if own:
        return zone_named(own)
    publisher_tz = (
        Publisher.objects.filter(users=user).order_by("pk").values_list("time_zone", flat=True)
    ).first()
    return zone_named(publisher_tz or "")


def when(moment: datetime | None, zone: tzinfo | None = None) -> str:
    """Show a moment as "2026-12-04 05:20 EST", in `zone` or the active time zone."""
    if moment is None:
        return NO_TIME
    local = moment.astimezone(zone or timezone.get_current_timezone())
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"
