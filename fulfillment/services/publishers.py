"""Publisher writes: creation and Notify URL key rotation (SPEC §4)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from fulfillment.models import Publisher, new_notify_key

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

PREVIOUS_KEY_GRACE = timedelta(days=7)
PUBLISHER_SETTINGS = ("name", "email", "require_notify_key", "auto_release", "use_billing_address")


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


def notify_url(*, publisher: Publisher, base_url: str | None = None) -> str:
    """Return the full Notify URL the publisher pastes into SamCart."""
    base = (base_url or settings.PUBLIC_BASE_URL).rstrip("/")
    return f"{base}/samcart/notify/?idpub={publisher.idpub}&key={publisher.notify_key}"


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
