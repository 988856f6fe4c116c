"""Publishers' SamCart API keys (SPEC §17): encrypted at rest, shown by their last 4 characters."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.db import transaction

from fulfillment import crypto
from fulfillment.models import Publisher

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger(__name__)

KEY_MAX_LENGTH = 200
ERROR_KEY_FORMAT = "A SamCart API key is 8 to 200 visible characters, without spaces."


def samcart_key_valid(key: str) -> bool:
    """Tell whether `key` looks like an API key: 8–200 printable characters, no whitespace."""
    return (
        8 <= len(key) <= KEY_MAX_LENGTH and key.isprintable() and not any(c.isspace() for c in key)
    )


def publisher_set_samcart_key(
    *, publisher: Publisher, key: str, actor: AbstractBaseUser | None
) -> None:
    """Store (or with "" remove) the publisher's SamCart API key, encrypted; resume checks.

    A new key lifts the pause a refused key set (§17). Raises ValueError on a malformed key.
    """
    key = key.strip()
    if key and not samcart_key_valid(key):
        raise ValueError(ERROR_KEY_FORMAT)
    token = crypto.encrypt(key)
    Publisher.objects.filter(pk=publisher.pk).update(
        samcart_api_key=token, samcart_api_key_last4=key[-4:], samcart_key_refused_at=None
    )
    publisher.samcart_api_key, publisher.samcart_api_key_last4 = token, key[-4:]
    publisher.samcart_key_refused_at = None
    who = getattr(actor, "pk", None)
    logger.info(
        "SamCart API key of publisher %s %s by user %s",
        publisher.idpub,
        "set" if key else "removed",
        who,
    )


def publisher_samcart_key(*, publisher: Publisher) -> str:
    """Return the publisher's SamCart API key in clear ("" when none or unreadable)."""
    try:
        return crypto.decrypt(publisher.samcart_api_key)
    except crypto.InvalidToken:
        logger.error(
            "The SamCart API key of publisher %s cannot be decrypted with FIELD_ENCRYPTION_KEYS",
            publisher.idpub,
        )
        return ""


def samcart_keys_rotate() -> int:
    """Encrypt every stored key again with the first FIELD_ENCRYPTION_KEYS key; count them."""
    count = 0
    with transaction.atomic():
        rows = Publisher.objects.select_for_update().exclude(samcart_api_key="")
        for publisher in rows.only("pk", "samcart_api_key"):
            rotated = crypto.rotate(publisher.samcart_api_key)
            Publisher.objects.filter(pk=publisher.pk).update(samcart_api_key=rotated)
            count += 1
    return count
