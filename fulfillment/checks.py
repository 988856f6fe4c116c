"""System checks tagged `database` (`manage.py check --database default`; `migrate` runs them).

Warnings, not errors: an error would stop `migrate`, and `migrate` is one of the things that
repairs the index (the `post_migrate` hook in `fulfillment.signals`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core import checks

from fulfillment.models.projects import index_drift, index_tables_exist

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from django.apps import AppConfig

SHOWN = 5  # projects named in one warning; the command lists them all
DRIFT_ID = "fulfillment.W001"
MALFORMED_ID = "fulfillment.W002"
DRIFT_MESSAGE = (
    "The SamCart id index of {count} project(s) differs from their eCommerceIDString, so "
    "notifications do not match them as they should: {examples}."
)
DRIFT_HINT = "Run `manage.py repair_project_index` (it lists and repairs every one)."
MALFORMED_MESSAGE = (
    "{count} project(s) have a malformed eCommerceIDString and match no SamCart product: "
    "{examples}."
)
MALFORMED_HINT = "Correct it in the admin: Projects → Advanced Settings → eCommerceIDString."


def _examples(items: Sequence[Any]) -> str:
    named = "; ".join(item.describe() for item in items[:SHOWN])
    return named + (f"; and {len(items) - SHOWN} more" if len(items) > SHOWN else "")


@checks.register(checks.Tags.database)
def check_project_index(
    app_configs: Iterable[AppConfig] | None = None,
    databases: Iterable[str] | None = None,
    **kwargs: Any,
) -> list[checks.CheckMessage]:
    """Report projects whose index rows differ from their string (two queries in all)."""
    if app_configs is not None and "fulfillment" not in {a.label for a in app_configs}:
        return []
    found: list[checks.CheckMessage] = []
    for alias in databases or ():
        if not index_tables_exist(using=alias):
            continue  # before the first migrate
        drift = index_drift(using=alias)
        malformed = [d for d in drift if d.malformed]
        mismatched = [d for d in drift if d.missing or d.stale_rows]
        if mismatched:
            found.append(
                checks.Warning(
                    DRIFT_MESSAGE.format(count=len(mismatched), examples=_examples(mismatched)),
                    hint=DRIFT_HINT,
                    id=DRIFT_ID,
                )
            )
        if malformed:
            found.append(
                checks.Warning(
                    MALFORMED_MESSAGE.format(count=len(malformed), examples=_examples(malformed)),
                    hint=MALFORMED_HINT,
                    id=MALFORMED_ID,
                )
            )
    return found


ENCRYPTION_DERIVED_ID = "fulfillment.W010"
ENCRYPTION_BAD_ID = "fulfillment.E011"
ENCRYPTION_DERIVED_MESSAGE = (
    "FIELD_ENCRYPTION_KEYS is not set: publishers' SamCart API keys are encrypted with a key "
    "derived from SECRET_KEY, and changing SECRET_KEY would make them unreadable."
)
ENCRYPTION_DERIVED_HINT = (
    "Set FIELD_ENCRYPTION_KEYS to a Fernet key (docs/operator.md, SamCart API keys)."
)
ENCRYPTION_BAD_MESSAGE = "FIELD_ENCRYPTION_KEYS holds a value that is not a Fernet key."


@checks.register(checks.Tags.security, deploy=True)
def check_field_encryption_keys(
    app_configs: Iterable[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Say when production encrypts SamCart API keys with the SECRET_KEY-derived key, or
    when a configured key is not a Fernet key (`manage.py check --deploy`)."""
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    from fulfillment import crypto

    if not [k for k in settings.FIELD_ENCRYPTION_KEYS if k.strip()]:
        return [
            checks.Warning(
                ENCRYPTION_DERIVED_MESSAGE, hint=ENCRYPTION_DERIVED_HINT, id=ENCRYPTION_DERIVED_ID
            )
        ]
    try:
        crypto.encrypt("check")
    except ImproperlyConfigured:
        return [
            checks.Error(ENCRYPTION_BAD_MESSAGE, hint=ENCRYPTION_DERIVED_HINT, id=ENCRYPTION_BAD_ID)
        ]
    return []
