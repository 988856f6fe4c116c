"""Who gets which alert (SPEC §14, issue 20 #12): each login chooses, and every alert e-mail
carries a one-click link that switches that alert off for that login.

The publisher's own setting (account page) is the master switch of a kind; when it is on,
the alert goes to the publisher's address and to every active login whose own choice
(`LoginPreferences`, all on by default but the daily shipped list) is on. The link is a signed
token of (login, kind): no login is needed to use it, and it cannot be made for another login.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.core import signing

from fulfillment.models import AlertKind, LoginPreferences, Publisher

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

# alert kind -> the LoginPreferences field that says whether a login gets it
CHOICE_FIELDS = {
    AlertKind.HOLD_ORDERS: "alert_hold_orders",
    AlertKind.NEEDS_ACTION: "alert_needs_action",
    AlertKind.LOW_BALANCE: "alert_low_balance",
    AlertKind.SHIPPED_DAILY: "alert_shipped_daily",
}
# Kinds the publisher's own address gets (the daily shipped list is a login's choice only).
PUBLISHER_ADDRESS_KINDS = frozenset(
    {AlertKind.HOLD_ORDERS, AlertKind.NEEDS_ACTION, AlertKind.LOW_BALANCE}
)
SALT = "fulfillment.alert-choice"


def login_wants(user: AbstractBaseUser, kind: str) -> bool:
    """Tell whether a login's own choice lets it get alerts of `kind` (defaults without a row)."""
    field = CHOICE_FIELDS.get(kind)  # type: ignore[call-overload]
    if field is None:
        return False
    prefs = LoginPreferences.objects.filter(user=user).values_list(field, flat=True).first()
    if prefs is None:
        return bool(LoginPreferences._meta.get_field(field).default)
    return bool(prefs)


def recipients_for(publisher: Publisher, kind: str | None = None) -> list[str]:
    """The addresses an alert of `kind` goes to, each once (casefolded); every address when
    `kind` is None: the publisher's, then its active logins' whose choice is on."""
    addresses: list[str] = []
    if kind is None or kind in PUBLISHER_ADDRESS_KINDS:
        addresses.append(publisher.email)
    for user in publisher.users.filter(is_active=True).order_by("pk"):
        if kind is None or login_wants(user, kind):
            addresses.append(user.email)
    found: dict[str, str] = {}  # casefolded -> as written, first one wins
    for address in addresses:
        if address:
            found.setdefault(address.casefold(), address)
    return list(found.values())


def login_for_address(publisher: Publisher, address: str) -> AbstractBaseUser | None:
    """The publisher's active login with this address (the first made), if one has it."""
    return (
        publisher.users.filter(is_active=True, email__iexact=address.strip()).order_by("pk").first()
    )


def choice_token(user: AbstractBaseUser, kind: str) -> str:
    """Sign (login, kind) for the one-click link; salted so no other signed value fits."""
    return signing.dumps({"u": user.pk, "k": kind}, salt=SALT, compress=True)


def choice_from_token(token: str) -> tuple[AbstractBaseUser, str] | None:
    """Return the (login, kind) a token names; None for a bad or foreign token."""
    try:
        data = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("k") not in CHOICE_FIELDS:
        return None
    user = get_user_model().objects.filter(pk=data.get("u")).first()
    return None if user is None else (user, data["k"])


def login_choice_set(*, user: AbstractBaseUser, kind: str, on: bool) -> LoginPreferences:
    """Switch one alert kind on or off for one login (its row made when it has none)."""
    prefs, _ = LoginPreferences.objects.get_or_create(user=user)
    setattr(prefs, CHOICE_FIELDS[kind], on)  # type: ignore[index]
    prefs.save(update_fields=[CHOICE_FIELDS[kind]])  # type: ignore[index]
    return prefs
