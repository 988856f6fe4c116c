"""Project writes (SPEC §5, §7): validation, the SamCart id index, and prices.

The index (`ProjectCartId`) follows every save through the model-level hooks of
`fulfillment.signals` (see `models.projects.projects_sync_cart_ids`). A change of a project's
prices or of their confirmation re-prices its hold orders in the same transaction
(`hold_orders_refresh`), so the list, the API, the account page and a release all see the new
cost at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction

from fulfillment import ecommerce_ids
from fulfillment.models import ZERO, OrderLine, Project, ProjectCartId, Publisher
from fulfillment.models.projects import projects_sync_cart_ids

from .ledger import publisher_lock_for_pricing
from .release import ReleaseResult, hold_orders_refresh, orders_release_all

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

EDITABLE_FIELDS = ("title", "ecommerce_id_string", "unit_cost", "shipping_cost", "is_active")
PRICE_FIELDS = ("unit_cost", "shipping_cost", "prices_confirmed")
PRICES_CONFIRMED_NOTE = "Prices confirmed."
PRICES_UNCONFIRMED_NOTE = (
    "Prices saved, not confirmed: orders of this project wait on hold (price not confirmed)."
)
ERROR_CONFIRM_FREE = (
    "Set the prices before confirming them: $0.00 per copy and $0.00 per order would print "
    "every order for free. Enter the prices, or untick “prices confirmed”."
)
ERROR_MOVE_WITH_ORDERS = (
    "This project already has orders, which stay with their publisher: it cannot move to "
    "another publisher. Create a new project for the other publisher instead."
)


@dataclass(frozen=True)
class PriceChange:
    """What saving a project's prices did to its hold orders."""

    confirmed: bool
    moved: bool = False  # whether the prices or their confirmation changed
    repriced: int = 0
    released: ReleaseResult | None = None

    @property
    def message(self) -> str:
        """Say it for the person who saved the prices."""
        parts = [PRICES_CONFIRMED_NOTE if self.confirmed else PRICES_UNCONFIRMED_NOTE]
        s = "" if self.repriced == 1 else "s"
        parts.append(f"{self.repriced} hold order{s} of this project updated.")
        if self.released is not None:
            parts.append(self.released.message)
        return " ".join(parts)


def project_sync_cart_ids(*, project: Project) -> None:
    """Make the index rows of `project` match its stored eCommerceIDString exactly."""
    projects_sync_cart_ids(project_ids=[project.pk])


def _stored_prices(*, project: Project) -> tuple[Decimal, Decimal, bool] | None:
    """Return the prices and confirmation in the database (None for a new project)."""
    if project.pk is None:
        return None
    stored = Project.objects.filter(pk=project.pk).values_list(*PRICE_FIELDS).first()
    return stored  # type: ignore[return-value]


def _prices_of(project: Project) -> tuple[Decimal, Decimal, bool]:
    return project.unit_cost, project.shipping_cost, project.prices_confirmed


def _project_write(*, project: Project, actor: AbstractBaseUser | None) -> PriceChange | None:
    """Validate, normalise and save `project`; re-price its hold orders if prices moved.

    Returns what the price change did, or None when no price or confirmation changed.
    """
    with transaction.atomic():
        project_move_lock(project=project)
        project_check_move(project=project, publisher_id=project.publisher_id)
        before = _stored_prices(project=project)
        moved = before is not None and before != _prices_of(project)
        if moved:
            # The one lock order: the publisher first, then the project row, then its orders;
            # the bumped pricing version makes a purchase that read the old prices run again.
            publisher_lock_for_pricing(publisher_id=project.publisher_id)
        # Validate first, so a malformed eCommerceIDString is reported against its field (with
        # any other field's errors) rather than as a bare error raised by `normalise`.
        project.full_clean()
        project.ecommerce_id_string = ecommerce_ids.normalise(project.ecommerce_id_string)
        project.save()  # the post_save hook re-indexes the SamCart ids
        if not moved:
            return None
        repriced = hold_orders_refresh(
            publisher_id=project.publisher_id, project_id=project.pk, actor=actor
        )
        released = None
        newly_confirmed = project.prices_confirmed and not before[2]  # type: ignore[index]
        if newly_confirmed:
            publisher = Publisher.objects.get(pk=project.publisher_id)
            if publisher.auto_release:
                released = orders_release_all(publisher=publisher, actor=actor)
        return PriceChange(
            confirmed=project.prices_confirmed, moved=True, repriced=repriced, released=released
        )


@transaction.atomic
def project_create(
    *,
    publisher: Publisher,
    title: str,
    ecommerce_id_string: str = "",
    unit_cost: Decimal = ZERO,
    shipping_cost: Decimal = ZERO,
    is_active: bool = True,
    prices_confirmed: bool = False,
) -> Project:
    """Create a project after validation and index its SamCart ids.

    `prices_confirmed` is for staff and data loads only: a publisher never confirms prices.
    """
    project = Project(
        publisher=publisher,
        title=title,
        ecommerce_id_string=ecommerce_id_string,
        unit_cost=unit_cost,
        shipping_cost=shipping_cost,
        is_active=is_active,
        prices_confirmed=prices_confirmed,
    )
    return project_save(project=project)


def project_update(
    *, project: Project, actor: AbstractBaseUser | None = None, **fields: Any
) -> Project:
    """Change the given fields of `project`, validate and save; hold orders follow its prices."""
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"Not editable: {', '.join(sorted(unknown))}")
    for name, value in fields.items():
        setattr(project, name, value)
    return project_save(project=project, actor=actor)


def project_save(*, project: Project, actor: AbstractBaseUser | None = None) -> Project:
    """Validate and save a new or changed project (the admin's publisher path calls this).

    The index follows the save. Should the prices or their confirmation have changed (a staff
    script, a service call), the hold orders of the project are re-priced in the same
    transaction; `project_prices_set` is the staff path that also reports what it did.
    """
    _project_write(project=project, actor=actor)
    return project


def project_check_move(*, project: Project, publisher_id: int | None) -> None:
    """Refuse to give a project with orders to another publisher (its orders stay behind).

    A form's check; `_project_write` asks again under the locks of a move (`project_move_lock`).
    """
    if project.pk is None or publisher_id is None:
        return
    stored = Project.objects.filter(pk=project.pk).values_list("publisher_id", flat=True).first()
    has_lines = OrderLine.objects.filter(project_id=project.pk).exists()
    if stored not in (None, publisher_id) and has_lines:
        raise ValidationError({"publisher": ERROR_MOVE_WITH_ORDERS})


def project_move_lock(*, project: Project) -> None:
    """Before `project` goes to another publisher, lock both publishers and bump their prices.

    Both rows are locked in one order (by id), with the lock a price change takes: a purchase
    that matched the project before the move and charges afterwards fails its compare-and-set
    (the bumped `pricing_version`) and runs again under the lock, where it sees the move; one
    that charged first holds its publisher's row until it commits, so the "no orders" check,
    made after this, sees its order. Does nothing for a new project or one that stays.
    """
    if project.pk is None:
        return
    locked: set[int] = set()
    while True:  # again if another move committed meanwhile: its publisher is locked too
        rows = Project.objects.filter(pk=project.pk)
        stored = rows.values_list("publisher_id", flat=True).first()
        if stored in (None, project.publisher_id):
            return
        for publisher_id in sorted({stored, project.publisher_id} - locked):
            publisher_lock_for_pricing(publisher_id=publisher_id)
            locked.add(publisher_id)
        if rows.filter(publisher_id__in=locked).exists():
            return


def prices_check_confirmable(*, unit_cost: Decimal, shipping_cost: Decimal) -> None:
    """Refuse to confirm prices that are both zero (an unset price is never confirmed)."""
    if unit_cost == ZERO and shipping_cost == ZERO:
        raise ValidationError({"prices_confirmed": ERROR_CONFIRM_FREE})


def project_prices_set(
    *,
    project: Project,
    unit_cost: Decimal,
    shipping_cost: Decimal,
    actor: AbstractBaseUser | None,
    confirmed: bool = True,
) -> PriceChange:
    """Set a project's prices as TrepStar staff, confirmed unless `confirmed` is False (§7).

    In one transaction: save (with any other change made to `project`), re-price its hold
    orders (`hold_orders_refresh`: cost and hold reason, with events), and, when this confirms
    the prices and the publisher has `auto_release`, release its hold orders oldest first.
    """
    if confirmed:
        prices_check_confirmable(unit_cost=unit_cost, shipping_cost=shipping_cost)
    project.unit_cost = unit_cost
    project.shipping_cost = shipping_cost
    project.prices_confirmed = confirmed
    change = _project_write(project=project, actor=actor)
    return change or PriceChange(confirmed=confirmed)


def project_shared_ids(*, project: Project) -> dict[str, list[Project]]:
    """Return, for each SamCart id of `project`, the publisher's other projects listing it."""
    ids = ecommerce_ids.parse(project.ecommerce_id_string)
    shared: dict[str, list[Project]] = {}
    rows = (
        ProjectCartId.objects.filter(publisher_id=project.publisher_id, external_id__in=ids)
        .exclude(project_id=project.pk)
        .select_related("project")
        .order_by("external_id", "project__title")
    )
    for row in rows:
        shared.setdefault(row.external_id, []).append(row.project)
    return shared
