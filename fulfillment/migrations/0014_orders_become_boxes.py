"""Today's orders become one-line boxes (SPEC §18): history, events and ledger stay as they are.

Each order gets one line with its project, product id and quantity, priced as it was: the
project's unit cost when that price fits the stored cost, the rest as the line's shipping, so
the breakdown always adds up to the cost that was charged. The orders of one SamCart order are
numbered 1, 2, … by age; a second one says it was made before boxes existed.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

LINES = """
INSERT INTO fulfillment_orderline (
    order_id, publisher_id, project_id, notification_id, source, external_order_id,
    external_product_id, quantity, unit_cost, shipping_cost, cart_refunded, created_at
)
SELECT o.id, o.publisher_id, o.project_id, o.notification_id, o.source, o.external_order_id,
    o.external_product_id, o.quantity,
    CASE WHEN p.unit_cost * o.quantity <= o.cost THEN p.unit_cost ELSE 0 END,
    CASE WHEN p.unit_cost * o.quantity <= o.cost
         THEN ROUND(o.cost - p.unit_cost * o.quantity, 2) ELSE o.cost END,
    o.cart_refunded, o.created_at
FROM fulfillment_order o JOIN fulfillment_project p ON p.id = o.project_id
"""

NUMBERS = """
UPDATE fulfillment_order SET box_number = (
    SELECT COUNT(*) FROM fulfillment_order o2
    WHERE o2.publisher_id = fulfillment_order.publisher_id
      AND o2.source = fulfillment_order.source
      AND o2.external_order_id = fulfillment_order.external_order_id
      AND o2.id <= fulfillment_order.id
)
WHERE EXISTS (
    SELECT 1 FROM fulfillment_order o3
    WHERE o3.publisher_id = fulfillment_order.publisher_id
      AND o3.source = fulfillment_order.source
      AND o3.external_order_id = fulfillment_order.external_order_id
      AND o3.id < fulfillment_order.id
)
"""

REASONS = "UPDATE fulfillment_order SET split_reason = 'before_boxes' WHERE box_number > 1"


def forward(apps: Any, schema_editor: Any) -> None:
    """Give every order its one line and number the orders of each SamCart order."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(LINES)
        cursor.execute(NUMBERS)
        cursor.execute(REASONS)


class Migration(migrations.Migration):
    dependencies = [("fulfillment", "0013_order_lines")]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
