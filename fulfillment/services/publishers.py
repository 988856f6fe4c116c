"""Publisher writes: creation and Notify URL key rotation (SPEC §4)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from fulfillment.models import Publisher, new_notify_key

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
    from django.http import HttpRequest

PREVIOUS_KEY_GRACE = timedelta(days=7)
PUBLISHER_SETTINGS = (
    "name",
    "email",
    "require_notify_key",
    "auto_release",
    "use_billing_address",
    "production_delay_minutes",
    "grouping_minutes",
    "alert_hold_orders",
    "alert_needs_action",
    "low_balance_threshold",
    "time_zone",
)


def publisher_create(*, name: str, email: str, **settings_fields: bool) -> Publisher:
    """Create a publisher with a fresh random idpub and Notify URL key."""
    publisher = Publisher(name=name, email=email, **settings_fields)
    publisher.full_clean()
    publisher.save()
    return publisher


@transaction.atomic
def publisher_rotate_key(*, publisher: Publisher, actor: AbstractBaseUser | None) -> Publisher:
    """Give the publisher a new key; the old one keeps working for 7 days."""
    locked = Publisher.objects.select_for_update(no_key=True).get(pk=publisher.pk)
    locked.previous_notify_key = locked.notify_key
    locked.previous_key_valid_until = timezone.now() + PREVIOUS_KEY_GRACE
    locked.notify_key = new_notify_key()
    locked.save(update_fields=["notify_key", "previous_notify_key", "previous_key_valid_until"])
    publisher.notify_key = locked.notify_key
    publisher.previous_notify_key = locked.previous_notify_key
    publisher.previous_key_valid_until = locked.previous_key_valid_until
    return locked


ADD_FUNDS = (
    "To add funds, pay TrepStar and write to {email} with your publisher ID {idpub} and the "
    "amount: TrepStar records the deposit{then}."
)
AUTO_RELEASE_ON = ", and your orders on hold are released at once (auto-release is on)"


def add_funds_text(*, publisher: Publisher, then: str) -> str:
    """Say how a publisher adds funds (the one wording); `then` ends it without auto-release."""
    ending = AUTO_RELEASE_ON if publisher.auto_release else f"; then {then}"
    return ADD_FUNDS.format(email=settings.SUPPORT_EMAIL, idpub=publisher.idpub, then=ending)


LOCAL_BASE_URL = "http://127.0.0.1:8000"  # commands, when PUBLIC_BASE_URL is not set


KEY_MASK = "••••"  # what stands for the Notify URL key before its last 4 characters
# Who sees the whole Notify URL (its secret key): the logins that may rotate the key, i.e.
# managers and staff; a viewer sees the key masked (`KEY_MASK` and its last 4 characters).
SEE_KEY_PERMISSION = "fulfillment.change_publisher"
KEY_MASKED_NOTE = (
    "The secret key is hidden from your login (a viewer); a manager of your account sees the "
    "whole URL to paste into SamCart."
)


def masked_key(key: str) -> str:
    """Return the key with all but its last 4 characters replaced by `KEY_MASK`."""
    return KEY_MASK + key[-4:]


def may_see_notify_key(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Tell whether `user` may see the whole Notify URL key (managers and staff, not viewers)."""
    return bool(user.has_perm(SEE_KEY_PERMISSION))


def notify_url(
    *,
    publisher: Publisher,
    base_url: str | None = None,
    request: HttpRequest | None = None,
    masked: bool = False,
) -> str:
    """Return the full Notify URL the publisher pastes into SamCart (`masked`: its key hidden
    but the last 4 characters, for a login that may not see the key).

    The base is, first found: `base_url`, the PUBLIC_BASE_URL setting, the address of
    `request` (the one the browser used, its host checked against ALLOWED_HOSTS), then
    LOCAL_BASE_URL. So a demo on another port hands out URLs that work.
    """
    base = base_url or settings.PUBLIC_BASE_URL
    if not base and request is not None:
        base = request.build_absolute_uri("/")
    base = (base or LOCAL_BASE_URL).rstrip("/")
    key = masked_key(publisher.notify_key) if masked else publisher.notify_key
    return f"{base}/samcart/notify/?idpub={publisher.idpub}&key={key}"


def publisher_save(*, publisher: Publisher) -> Publisher:
    """Validate and save a new publisher, or only the settings of an existing one.

    An existing row is saved with `update_fields`, so a form never writes back a balance or a
    Notify URL key it read before a concurrent charge, deposit or key rotation.
    """
    publisher.full_clean()
    if publisher._state.adding:
        publisher.save()
    else:
        publisher.save(update_fields=list(PUBLISHER_SETTINGS))
    return publisher


def publisher_settings_set(*, publisher: Publisher, **choices: object) -> Publisher:
    """Save the given publisher settings (alerts §14, edit window §15), and only them."""
    for name, value in choices.items():
        setattr(publisher, name, value)
    publisher.full_clean(exclude=["users"])
    publisher.save(update_fields=list(choices))
    return publisher
