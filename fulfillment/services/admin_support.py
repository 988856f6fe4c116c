"""Writes the admin needs that the other service modules do not offer yet."""

from __future__ import annotations

from fulfillment.models import Publisher

PUBLISHER_SETTINGS = ("name", "email", "require_notify_key", "auto_release", "use_billing_address")


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
