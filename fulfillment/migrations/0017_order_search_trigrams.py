"""Trigram indexes for the order list's search (issue 21), on PostgreSQL only.

The search asks `UPPER(column::text) LIKE UPPER('%word%')` (Django's `icontains`) of the name,
the e-mail and the SamCart order id; a GIN index of the same expression with `gin_trgm_ops`
answers it without reading every order. It needs the `pg_trgm` extension (docs/operator.md:
trusted since PostgreSQL 13, so the database's owner may create it; otherwise a superuser runs
`CREATE EXTENSION pg_trgm;` once). The indexes are built `CONCURRENTLY`, so the Notify URL
keeps writing orders meanwhile. SQLite has no such index and migrates without one.
"""

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

# (index name, column) of fulfillment_order; the search in `fulfillment.admin.order_search`.
TRIGRAM_INDEXES = (
    ("order_name_trgm", "ship_name"),
    ("order_email_trgm", "customer_email"),
    ("order_cart_id_trgm", "external_order_id"),
)
LINE_PRODUCT_INDEX = "line_product_upper"


def create_trigram_indexes(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    """Create pg_trgm and the three indexes on PostgreSQL; nothing elsewhere."""
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, column in TRIGRAM_INDEXES:
        schema_editor.execute(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON fulfillment_order"
            f" USING gin ((UPPER(({column})::text)) gin_trgm_ops)"
        )


def create_line_product_index(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    """Index `UPPER(external_product_id)` of the lines: the search's whole, any-case product id
    (`iexact`), which `line_by_product` cannot answer (60 ms over a publisher's lines)."""
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {LINE_PRODUCT_INDEX} ON fulfillment_orderline"
        " (UPPER((external_product_id)::text))"
    )


def drop_line_product_index(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    """Drop the lines' any-case product id index."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {LINE_PRODUCT_INDEX}")


def drop_trigram_indexes(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    """Drop the three indexes (the extension stays: other databases' objects may use it)."""
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _column in TRIGRAM_INDEXES:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [
        ("fulfillment", "0016_clock_buyer_email_preferences"),
    ]

    operations = [
        migrations.RunPython(create_trigram_indexes, drop_trigram_indexes, elidable=False),
        migrations.RunPython(create_line_product_index, drop_line_product_index, elidable=False),
    ]
