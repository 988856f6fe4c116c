"""Projects (a TrepStar print product) and the index of the SamCart ids they fulfil."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import models, transaction

from fulfillment import ecommerce_ids

from .base import CENT, ZERO, MoneyField, PublisherScopedQuerySet
from .publishers import Publisher

# Fields whose change moves index rows (the attnames too: bulk_update passes `publisher_id`).
INDEXED_FIELDS = frozenset({"ecommerce_id_string", "publisher", "publisher_id"})


def _sync_index(project_ids: list[int] | None, using: str) -> None:
    """Re-index the given projects (all when None) through the one diff of the services."""
    from fulfillment.services.project_index import projects_sync_cart_ids

    projects_sync_cart_ids(project_ids=project_ids, using=using)


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
            _sync_index(ids if len(ids) == len(created) else None, self.db)
        return created

    def update(self, **kwargs: Any) -> int:
        """Update the rows; when an indexed field changes, re-index the rows it touched."""
        if not INDEXED_FIELDS & kwargs.keys():
            return super().update(**kwargs)
        with transaction.atomic(using=self.db, savepoint=False):
            ids = list(self.values_list("pk", flat=True))
            count = super().update(**kwargs)
            _sync_index(ids, self.db)
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

    def cost_of(self, quantity: int) -> Decimal:
        """Return what `quantity` copies cost in one order: unit cost × quantity + shipping."""
        return (self.unit_cost * quantity + self.shipping_cost).quantize(CENT)


class ProjectCartIdQuerySet(PublisherScopedQuerySet):
    """Index rows, scoped by publisher."""


class ProjectCartId(models.Model):
    """One SamCart product id of one project: the index that matching looks ids up in (§5).

    Derived from `Project.ecommerce_id_string`; kept in step on every write by
    `services.project_index` (see `fulfillment.signals`).
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
