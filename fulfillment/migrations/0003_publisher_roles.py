"""Roles (SPEC §3): the one "Publisher users" group becomes "Publisher managers".

Existing logins keep the rights they had. Both role groups get their permissions from
`services.accounts.groups_ensure`, which runs after every migrate (post_migrate).
"""

from django.apps.registry import Apps
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

LEGACY = "Publisher users"
MANAGERS = "Publisher managers"


def rename(apps: Apps, old: str, new: str) -> None:
    """Rename group `old` to `new`; when both exist, move `old`'s members into `new`."""
    Group = apps.get_model("auth", "Group")
    source = Group.objects.filter(name=old).first()
    if source is None:
        return
    target = Group.objects.filter(name=new).first()
    if target is None:
        source.name = new
        source.save(update_fields=["name"])
        return
    target.user_set.add(*source.user_set.all())
    source.delete()


def forwards(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    """Rename the legacy group to the manager role."""
    rename(apps, LEGACY, MANAGERS)


def backwards(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    """Give the manager role its legacy name back."""
    rename(apps, MANAGERS, LEGACY)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("fulfillment", "0002_prices_confirmed_refused_tally"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
