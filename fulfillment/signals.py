"""Model-level hooks that keep the SamCart id index in step with projects (SPEC §5).

A signal rather than a database trigger: the eCommerceIDString is parsed in one place
(`fulfillment.ecommerce_ids`), and the app runs on SQLite and PostgreSQL; a trigger would need
that parser twice more (PL/pgSQL and SQLite). `post_save` also fires for `loaddata` (raw saves)
and `get_or_create`/`update_or_create`; `ProjectQuerySet` covers `bulk_create`, `update` and
`bulk_update`; a delete takes the rows with it (`on_delete=CASCADE`, and the database's foreign
key refuses any other delete). Data migrations use historical models without these hooks:
`post_migrate` repairs after them, and the `database` check reports what is left.
"""

from __future__ import annotations

import sys
from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate, post_save, pre_save
from django.dispatch import receiver

from fulfillment.models import Project, ProjectCartId
from fulfillment.models.projects import INDEXED_FIELDS, index_tables_exist, projects_sync_cart_ids


@receiver(post_save, sender=Project, dispatch_uid="fulfillment.project_index_on_save")
def project_index_on_save(
    sender: type[Project],
    instance: Project,
    using: str,
    update_fields: frozenset[str] | None = None,
    **kwargs: Any,
) -> None:
    """Re-index a saved project, unless the save could not have moved its ids."""
    if update_fields is not None and not INDEXED_FIELDS & update_fields:
        return
    projects_sync_cart_ids(project_ids=[instance.pk], using=using)


@receiver(pre_save, sender=ProjectCartId, dispatch_uid="fulfillment.project_index_fixture_row")
def project_index_fixture_row(
    sender: type[ProjectCartId], instance: ProjectCartId, raw: bool, using: str, **kwargs: Any
) -> None:
    """Let a fixture's own index row replace the one its project's save just made.

    `dumpdata` writes both models; on `loaddata` the project comes first and is indexed, then
    the fixture's row (another pk, same id) would break the unique constraint.
    """
    if raw:
        ProjectCartId._base_manager.using(using).filter(
            project_id=instance.project_id, external_id=instance.external_id
        ).exclude(pk=instance.pk).delete()


@receiver(post_save, sender=ProjectCartId, dispatch_uid="fulfillment.project_index_fixture_sync")
def project_index_fixture_sync(
    sender: type[ProjectCartId], instance: ProjectCartId, raw: bool, using: str, **kwargs: Any
) -> None:
    """After a fixture's index row, bring its project's rows back to its string."""
    if raw:
        projects_sync_cart_ids(project_ids=[instance.project_id], using=using)


def project_index_after_migrate(
    sender: AppConfig, using: str = "default", verbosity: int = 1, **kwargs: Any
) -> None:
    """Repair the index after `migrate`: data migrations write projects without our hooks."""
    if not index_tables_exist(using=using):
        return
    repaired = projects_sync_cart_ids(using=using)
    if repaired and verbosity >= 1:
        stdout = kwargs.get("stdout") or sys.stdout
        stdout.write(f"  Repaired the SamCart id index of {len(repaired)} project(s).\n")


def connect_post_migrate(app_config: AppConfig) -> None:
    """Run the repair once per `migrate`, after the app's migrations."""
    post_migrate.connect(
        project_index_after_migrate,
        sender=app_config,
        dispatch_uid="fulfillment.project_index_after_migrate",
    )
