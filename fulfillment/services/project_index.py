"""The SamCart id index (`ProjectCartId`) follows `Project.ecommerce_id_string` (SPEC §5).

One diff serves every path that writes projects: a save (the `post_save` handler in
`fulfillment.signals`, which also fires for `loaddata`), `bulk_create` and `update` (the
`ProjectQuerySet` overrides), the `database` system check and `manage.py repair_project_index`
(for what bypasses the model: data migrations with historical models, raw SQL). The diff reads
the strings from the database, not from instances, so it converges on what is stored.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, connections, transaction

from fulfillment import ecommerce_ids
from fulfillment.models import Project, ProjectCartId

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from django.db.models import QuerySet

CHUNK = 500  # ids per IN (...) list, well below SQLite's limit on query parameters


@dataclass(frozen=True)
class IndexDrift:
    """How the index rows of one project differ from its eCommerceIDString."""

    project_id: int
    publisher_id: int
    title: str
    missing: tuple[str, ...]  # ids the string lists without a row
    extra: tuple[str, ...]  # ids with a row that the string does not list (or wrong publisher)
    stale_rows: tuple[int, ...]  # pks of the rows to delete
    malformed: bool  # the string does not parse: the project matches nothing until fixed

    def describe(self) -> str:
        """Say what differs, for the check and the command."""
        what = []
        if self.malformed:
            what.append("malformed eCommerceIDString, matches nothing")
        if self.missing:
            what.append(f"index lacks {', '.join(self.missing)}")
        if self.extra:
            what.append(f"index has stale {', '.join(self.extra)}")
        return f"project {self.project_id} “{self.title}”: {'; '.join(what)}"


def wanted_ids(value: str) -> tuple[tuple[str, ...], bool]:
    """Return the ids a string lists and whether it is malformed (then it lists none)."""
    try:
        return ecommerce_ids.parse(value), False
    except ValidationError:
        return (), True


def _chunks(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def index_drift(
    *, project_ids: Iterable[int] | None = None, using: str = DEFAULT_DB_ALIAS
) -> list[IndexDrift]:
    """Return the projects whose index rows differ from their string (all, or `project_ids`).

    Two queries per chunk of projects (all projects at once when none are named), whatever
    their number: one for the strings, one for the index rows.
    """
    if project_ids is None:
        return _drift_of(
            Project._base_manager.using(using), ProjectCartId._base_manager.using(using)
        )
    drift: list[IndexDrift] = []
    for chunk in _chunks(sorted(set(project_ids))):
        drift += _drift_of(
            Project._base_manager.using(using).filter(pk__in=chunk),
            ProjectCartId._base_manager.using(using).filter(project_id__in=chunk),
        )
    return drift


def _drift_of(projects: QuerySet[Project], rows: QuerySet[ProjectCartId]) -> list[IndexDrift]:
    """Compare the given projects with the given index rows."""
    index: dict[int, list[tuple[int, int, str]]] = defaultdict(list)
    for pk, project_id, publisher_id, external_id in rows.values_list(
        "pk", "project_id", "publisher_id", "external_id"
    ):
        index[project_id].append((pk, publisher_id, external_id))
    drift: list[IndexDrift] = []
    for pk, publisher_id, title, value in projects.values_list(
        "pk", "publisher_id", "title", "ecommerce_id_string"
    ).order_by("pk"):
        wanted, malformed = wanted_ids(value)
        good = {e for _, p, e in index[pk] if p == publisher_id and e in wanted}
        stale = [(row_pk, e) for row_pk, p, e in index[pk] if p != publisher_id or e not in wanted]
        missing = tuple(e for e in wanted if e not in good)
        if missing or stale or malformed:
            drift.append(
                IndexDrift(
                    project_id=pk,
                    publisher_id=publisher_id,
                    title=title,
                    missing=missing,
                    extra=tuple(sorted(e for _, e in stale)),
                    stale_rows=tuple(row_pk for row_pk, _ in stale),
                    malformed=malformed,
                )
            )
    return drift


def index_repair(*, drift: list[IndexDrift], using: str = DEFAULT_DB_ALIAS) -> int:
    """Make the index match the strings of the drifting projects; return how many changed.

    At most one DELETE per chunk of stale rows and one INSERT of the missing rows. A malformed
    string keeps no row (it lists nothing); the check keeps reporting it until it is fixed.
    """
    stale = [pk for item in drift for pk in item.stale_rows]
    missing = [
        ProjectCartId(project_id=item.project_id, publisher_id=item.publisher_id, external_id=e)
        for item in drift
        for e in item.missing
    ]
    with transaction.atomic(using=using):
        for chunk in _chunks(stale):
            ProjectCartId._base_manager.using(using).filter(pk__in=chunk).delete()
        # A concurrent sync of the same project may have inserted a row first: that is fine.
        ProjectCartId._base_manager.using(using).bulk_create(missing, ignore_conflicts=True)
    return sum(1 for item in drift if item.missing or item.stale_rows)


def projects_sync_cart_ids(
    *, project_ids: Iterable[int] | None = None, using: str = DEFAULT_DB_ALIAS
) -> list[IndexDrift]:
    """Bring the index of the given projects (or of all) in step; return what differed."""
    with transaction.atomic(using=using):
        drift = index_drift(project_ids=project_ids, using=using)
        if drift:
            index_repair(drift=drift, using=using)
    return drift


def index_tables_exist(*, using: str = DEFAULT_DB_ALIAS) -> bool:
    """Tell whether both tables exist (not before the first `migrate`)."""
    tables = set(connections[using].introspection.table_names())
    return {Project._meta.db_table, ProjectCartId._meta.db_table} <= tables
