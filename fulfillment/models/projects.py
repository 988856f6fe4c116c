"""Projects (a TrepStar print product) and the index of the SamCart ids they fulfil."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, connections, models, transaction

from fulfillment import ecommerce_ids

from .base import ZERO, MoneyField, PublisherScopedQuerySet
from .publishers import Publisher

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from django.db.models import QuerySet

# Fields whose change moves index rows (the attnames too: bulk_update passes `publisher_id`).
INDEXED_FIELDS = frozenset({"ecommerce_id_string", "publisher", "publisher_id"})


class ProjectQuerySet(PublisherScopedQuerySet):
    """Projects, scoped by publisher; bulk writes keep the SamCart id index in step (§5).

    `save()` is covered by the `post_save` hook (`fulfillment.signals`); these overrides cover
    the writes that send no signal: `bulk_create`, `update` (and `bulk_update`, which calls it).
    """

    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> list[Project]:
        """Create the projects, then index them in the same transaction."""
        with transaction.atomic(using=self.db, savepoint=False):
            created = super().bulk_create(objs, *args, **kwargs)
            ids = [p.pk for p in created if p.pk is not None]
            # A backend that returns no pks: compare every project (two queries).
            projects_sync_cart_ids(
                project_ids=ids if len(ids) == len(created) else None, using=self.db
            )
        return created

    def update(self, **kwargs: Any) -> int:
        """Update the rows; when an indexed field changes, re-index the rows it touched."""
        if not INDEXED_FIELDS & kwargs.keys():
            return super().update(**kwargs)
        with transaction.atomic(using=self.db, savepoint=False):
            ids = list(self.values_list("pk", flat=True))
            count = super().update(**kwargs)
            projects_sync_cart_ids(project_ids=ids, using=self.db)
        return count


class Project(models.Model):
    """A publisher's TrepStar project; `ecommerce_id_string` links it to SamCart products."""

    publisher = models.ForeignKey(Publisher, on_delete=models.PROTECT, related_name="projects")
    title = models.CharField(max_length=200)
    ecommerce_id_string = models.CharField(
        "eCommerceIDString",
        max_length=2000,
        blank=True,
        validators=[ecommerce_ids.validate],
        help_text=(
            "The SamCart product ID(s) this project fulfils. "
            + ecommerce_ids.SYNTAX_HELP
            + " Leave empty to link no product."
        ),
    )
    unit_cost = MoneyField(default=ZERO, help_text="Price per copy.")
    shipping_cost = MoneyField(default=ZERO, help_text="Price per order.")
    prices_confirmed = models.BooleanField(
        default=False,
        help_text=(
            "Set when TrepStar staff save the prices. Until then every order of this project "
            "waits on hold (price not confirmed yet)."
        ),
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ProjectQuerySet.as_manager()

    class Meta:
        ordering = ["publisher", "title"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(unit_cost__gte=0, shipping_cost__gte=0),
                name="project_prices_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class ProjectCartIdQuerySet(PublisherScopedQuerySet):
    """Index rows, scoped by publisher."""


class ProjectCartId(models.Model):
    """One SamCart product id of one project: the index that matching looks ids up in (§5).

    Derived from `Project.ecommerce_id_string`; kept in step on every write by
    `projects_sync_cart_ids` below (see `fulfillment.signals`).
    """

    publisher = models.ForeignKey(Publisher, on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="cart_ids")
    external_id = models.CharField(max_length=64)

    objects = ProjectCartIdQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "external_id"], name="project_cart_id_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["publisher", "external_id"], name="cart_id_lookup"),
        ]

    def __str__(self) -> str:
        return f"{self.external_id} → {self.project_id}"


# The SamCart id index (`ProjectCartId`) follows `Project.ecommerce_id_string` (SPEC §5).
#
# One diff serves every path that writes projects: a save (the `post_save` handler in
# `fulfillment.signals`, which also fires for `loaddata`), `bulk_create` and `update` (the
# `ProjectQuerySet` overrides above), the `database` system check and `manage.py
# repair_project_index` (for what bypasses the model: data migrations with historical models,
# raw SQL). The diff reads the strings from the database, not from instances, so it converges on
# what is stored. It lives here, beside the models, because it is a model invariant.

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
