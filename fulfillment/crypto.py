"""Encryption at rest for secrets we must read back (SPEC §17: publishers' SamCart API keys).

Fernet (AES-128-CBC with HMAC-SHA256) from `cryptography`, through MultiFernet so the keys can
rotate: the first key of FIELD_ENCRYPTION_KEYS encrypts, every key decrypts. With no key set,
one is derived from SECRET_KEY, so a development checkout works with nothing to configure.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

__all__ = ["InvalidToken", "decrypt", "encrypt", "new_key", "rotate"]


def _derived_key() -> bytes:
    """Return a Fernet key derived from SECRET_KEY (used only when no key is configured)."""
    digest = hashlib.sha256(b"trepstar-field-encryption:" + settings.SECRET_KEY.encode()).digest()
    return base64.urlsafe_b64encode(digest)


def _box() -> MultiFernet:
    """Return the MultiFernet of the configured keys, newest first."""
    keys = [k.strip() for k in settings.FIELD_ENCRYPTION_KEYS if k.strip()]
    try:
        fernets = [Fernet(k.encode()) for k in keys] or [Fernet(_derived_key())]
    except ValueError as error:
        message = "FIELD_ENCRYPTION_KEYS holds a key that is not a Fernet key"
        raise ImproperlyConfigured(message) from error
    return MultiFernet(fernets)


def new_key() -> str:
    """Return a fresh Fernet key, for FIELD_ENCRYPTION_KEYS."""
    return Fernet.generate_key().decode()


def encrypt(plain: str) -> str:
    """Return `plain` encrypted with the first key, as text ("" stays "")."""
    if not plain:
        return ""
    return _box().encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    """Return the text `token` encrypts; raise InvalidToken when no configured key reads it."""
    if not token:
        return ""
    return _box().decrypt(token.encode()).decode()


def rotate(token: str) -> str:
    """Return `token` encrypted again with the first key (the same text inside)."""
    if not token:
        return ""
    return _box().rotate(token.encode()).decode()
