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
