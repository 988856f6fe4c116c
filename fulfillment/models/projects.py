"""Projects (a TrepStar print product) and the index of the SamCart ids they fulfil."""

from __future__ import annotations

from decimal import Decimal

from django.db import models

from fulfillment import ecommerce_ids

from .base import CENT, ZERO, MoneyField, PublisherScopedQuerySet
from .publishers import Publisher


class ProjectQuerySet(PublisherScopedQuerySet):
    """Projects, scoped by publisher."""


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

    Derived from `Project.ecommerce_id_string` by `services.project_sync_cart_ids`.
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
