"""Project writes; they keep the SamCart id index (`ProjectCartId`) in step (SPEC §5)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction

from fulfillment import ecommerce_ids
from fulfillment.models import Project, ProjectCartId, Publisher

EDITABLE_FIELDS = ("title", "ecommerce_id_string", "unit_cost", "shipping_cost", "is_active")


def project_sync_cart_ids(*, project: Project) -> None:
    """Make the index rows of `project` match its eCommerceIDString exactly."""
    wanted = set(ecommerce_ids.parse(project.ecommerce_id_string))
    rows = ProjectCartId.objects.filter(project=project)
    rows.exclude(external_id__in=wanted).delete()
    rows.exclude(publisher_id=project.publisher_id).update(publisher_id=project.publisher_id)
    present = set(rows.values_list("external_id", flat=True))
    ProjectCartId.objects.bulk_create(
        ProjectCartId(project=project, publisher_id=project.publisher_id, external_id=i)
        for i in sorted(wanted - present)
    )


@transaction.atomic
def project_create(
    *,
    publisher: Publisher,
    title: str,
    ecommerce_id_string: str = "",
    unit_cost: Decimal = Decimal("0.00"),
    shipping_cost: Decimal = Decimal("0.00"),
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


@transaction.atomic
def project_update(*, project: Project, **fields: Any) -> Project:
    """Change the given fields of `project`, validate, save and re-index its SamCart ids."""
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"Not editable: {', '.join(sorted(unknown))}")
    for name, value in fields.items():
        setattr(project, name, value)
    return project_save(project=project)


@transaction.atomic
def project_save(*, project: Project) -> Project:
    """Validate and save a new or changed project (admin forms call this) and re-index it."""
    # Validate first, so a malformed eCommerceIDString is reported against its field (with
    # any other field's errors) rather than as a bare error raised by `normalise`.
    project.full_clean()
    project.ecommerce_id_string = ecommerce_ids.normalise(project.ecommerce_id_string)
    project.save()
    project_sync_cart_ids(project=project)
    return project


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
