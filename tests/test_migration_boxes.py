"""The data migration that turns today's orders into one-line boxes (SPEC §18).

Runs the real migrations backwards to 0012 (orders with a project and a quantity), writes
orders the old way, migrates forward and checks every order became a box of one line priced
so its breakdown adds up to the cost it had, with its history, events and ledger untouched.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("fulfillment", "0012_samcart_check_run_name")]
AFTER = [("fulfillment", "0015_order_lines_only")]


def _migrate(targets: list[tuple[str, str]]):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def old_world():
    """Orders as they were before boxes: one per product, two of one SamCart order."""
    apps = _migrate(BEFORE)
    publisher_model = apps.get_model("fulfillment", "Publisher")
    project_model = apps.get_model("fulfillment", "Project")
    order_model = apps.get_model("fulfillment", "Order")
    event_model = apps.get_model("fulfillment", "OrderEvent")
    ledger_model = apps.get_model("fulfillment", "LedgerEntry")
    publisher = publisher_model.objects.create(
        name="Old Press", email="old@example.com", idpub="1234567", notify_key="k" * 32
    )
    almanac = project_model.objects.create(
        publisher=publisher,
        title="Almanac",
        ecommerce_id_string="279813",
        unit_cost=Decimal("6.50"),
        shipping_cost=Decimal("4.95"),
    )
    workbook = project_model.objects.create(
        publisher=publisher,
        title="Workbook",
        ecommerce_id_string="294010",
        unit_cost=Decimal("3.20"),
        shipping_cost=Decimal("0.00"),
    )
    made = {
        # Priced at today's prices: 6.50 × 2 + 4.95.
        "bought": order_model.objects.create(
            publisher=publisher,
            project=almanac,
            external_order_id="900",
            external_product_id="279813",
            quantity=2,
            cost=Decimal("17.95"),
            status="in_production",
        ),
        # The same SamCart order's bump, its own order then.
        "bump": order_model.objects.create(
            publisher=publisher,
            project=workbook,
            external_order_id="900",
            external_product_id="294010",
            quantity=1,
            cost=Decimal("3.20"),
            status="hold",
            hold_reason="payment_required",
        ),
        # Charged when the Almanac cost 9.00: the prices moved since.
        "old_price": order_model.objects.create(
            publisher=publisher,
            project=almanac,
            external_order_id="901",
            external_product_id="279813",
            quantity=1,
            cost=Decimal("3.00"),
            status="shipped",
        ),
    }
    for order in made.values():
        event_model.objects.create(order=order, kind="created", detail="old event")
    ledger_model.objects.create(
        publisher=publisher, amount=Decimal("-17.95"), kind="charge", order=made["bought"]
    )
    ids = {name: order.pk for name, order in made.items()}
    yield ids
    # Leave the database as the other tests expect it: at the newest migration, not at AFTER.
    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


def test_every_order_becomes_a_box_of_one_line_with_its_history(old_world):
    apps = _migrate(AFTER)
    order_model = apps.get_model("fulfillment", "Order")
    line_model = apps.get_model("fulfillment", "OrderLine")

    boxes = {name: order_model.objects.get(pk=pk) for name, pk in old_world.items()}
    lines = {name: list(line_model.objects.filter(order_id=pk)) for name, pk in old_world.items()}

    assert {name: len(found) for name, found in lines.items()} == {
        "bought": 1,
        "bump": 1,
        "old_price": 1,
    }
    bought = lines["bought"][0]
    assert (bought.external_product_id, bought.quantity, bought.project.title) == (
        "279813",
        2,
        "Almanac",
    )
    assert (bought.unit_cost, bought.shipping_cost) == (Decimal("6.50"), Decimal("4.95"))
    assert bought.external_order_id == "900" and bought.publisher_id == boxes["bought"].publisher_id
    # Every breakdown adds up to the cost the order had, whatever the prices are now.
    # (The historical model has no `cost` property: the formula of `box_cost`, written out.)
    for name, box in boxes.items():
        items = sum(line.unit_cost * line.quantity for line in lines[name])
        assert items + max(line.shipping_cost for line in lines[name]) == box.cost, name
    # 3.00 cannot be 6.50 a copy: the line says 0.00 a copy and 3.00 shipping, which adds up.
    old = lines["old_price"][0]
    assert (old.unit_cost, old.shipping_cost) == (Decimal("0.00"), Decimal("3.00"))
    # The two orders of SamCart order 900 are boxes 1 and 2; the second says why.
    assert (boxes["bought"].box_number, boxes["bump"].box_number) == (1, 2)
    assert (boxes["bought"].split_reason, boxes["bump"].split_reason) == ("", "before_boxes")
    assert boxes["old_price"].box_number == 1
    # Statuses, events and ledger are untouched.
    assert [boxes[n].status for n in ("bought", "bump", "old_price")] == [
        "in_production",
        "hold",
        "shipped",
    ]
    event_model = apps.get_model("fulfillment", "OrderEvent")
    assert event_model.objects.filter(detail="old event").count() == 3
    ledger_model = apps.get_model("fulfillment", "LedgerEntry")
    assert list(ledger_model.objects.values_list("order_id", "amount")) == [
        (old_world["bought"], Decimal("-17.95"))
    ]
