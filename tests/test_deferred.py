"""Deferred writes (`services/deferred.py`, issue 21): an INSERT whose answer nobody reads rides
with the next UPDATE that merges it, and nothing ever changes order or goes missing."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from fulfillment.models import Notification, Order, OrderEvent, OrderEventKind
from fulfillment.services.deferred import deferring, insert_deferred, update_merged
from fulfillment.services.intake_snapshot import intake_snapshot
from tests.factories import make_project, make_publisher, post_notify
from tests.invariants import order_body

pytestmark = pytest.mark.django_db
CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")
POSTGRES = pytest.mark.skipif(
    "connection.vendor != 'postgresql'", reason="SQLite writes at once (no UPDATE in WITH)"
)


@pytest.fixture
def box(held_box: Order) -> Order:
    return held_box


def _events(box: Order, n: int) -> list[OrderEvent]:
    return [OrderEvent(order=box, kind=OrderEventKind.EDITED, detail=f"d{i}") for i in range(n)]


def _statements(captured: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if not q["sql"].startswith(CONTROL)]


def _notes(box: Order) -> list[str]:
    return list(box.events.filter(kind=OrderEventKind.EDITED).values_list("detail", flat=True))


@POSTGRES
def test_kept_inserts_go_in_the_statement_of_the_update_that_merges_them(box):
    notification = Notification.objects.get()
    with CaptureQueriesContext(connection) as captured, transaction.atomic(), deferring():
        insert_deferred(OrderEvent, _events(box, 2))
        insert_deferred(OrderEvent, _events(box, 1))
        assert _statements(captured) == []  # kept
        rows = update_merged(Notification, notification.pk, detail="merged")

    assert rows == 1
    [statement] = _statements(captured)
    assert statement.startswith('WITH "deferred_0" AS (INSERT INTO "fulfillment_orderevent"')
    assert (
        '"deferred_1" AS (INSERT' in statement and 'UPDATE "fulfillment_notification"' in statement
    )
    assert sorted(_notes(box)) == ["d0", "d0", "d1"]
    assert Notification.objects.get().detail == "merged"


@POSTGRES
def test_any_other_statement_sends_the_kept_writes_first_so_it_sees_them(box):
    with transaction.atomic(), deferring():
        insert_deferred(OrderEvent, _events(box, 2))
        assert sorted(_notes(box)) == ["d0", "d1"]  # the read came after them
        insert_deferred(OrderEvent, _events(box, 1))
        sid = transaction.savepoint()  # a savepoint sends them before it is taken
        transaction.savepoint_rollback(sid)
    assert sorted(_notes(box)) == ["d0", "d0", "d1"]


def test_leaving_the_block_writes_what_no_update_merged(box):
    with transaction.atomic(), deferring():
        insert_deferred(OrderEvent, _events(box, 3))
    assert sorted(_notes(box)) == ["d0", "d1", "d2"]


def test_an_error_in_the_block_drops_the_kept_writes_with_the_rest(box):
    with pytest.raises(RuntimeError), transaction.atomic(), deferring():
        insert_deferred(OrderEvent, _events(box, 2))
        raise RuntimeError("processing failed")
    assert _notes(box) == []
    with transaction.atomic(), deferring():  # and the next block starts empty
        rows = update_merged(Notification, Notification.objects.get().pk, detail="alone")
    assert rows == 1 and _notes(box) == []


def test_outside_the_block_inserts_are_written_at_once(box):
    with CaptureQueriesContext(connection) as captured:
        insert_deferred(OrderEvent, _events(box, 2))
    assert len(_statements(captured)) == 1
    assert sorted(_notes(box)) == ["d0", "d1"]
    assert update_merged(Notification, Notification.objects.get().pk, detail="plain") == 1


def _snapshot(publisher, order_id: str, products: tuple[str, ...]):
    return intake_snapshot(
        source="samcart", order_id=order_id, product_ids=products, idpub=publisher.idpub
    )


@POSTGRES
def test_the_read_takes_one_new_box_id_only_when_a_new_box_is_certain(client):
    """The new box's id comes from the order sequence in the intake's one read: once for three
    matched products, never for an order that has lines (it may join) or matches nothing."""
    publisher = make_publisher(balance="100.00")
    for product in ("279813", "294010", "298020"):
        make_project(publisher, product)
    first = _snapshot(publisher, "S1", ("279813", "294010", "298020"))
    second = _snapshot(publisher, "S2", ("279813",))
    assert first.new_box_id is not None and second.new_box_id == first.new_box_id + 1
    assert _snapshot(publisher, "S3", ("111111",)).new_box_id is None  # no match
    post_notify(client, publisher, order_body(order_id="S4"))
    box = Order.objects.get(external_order_id="S4")
    assert box.pk == second.new_box_id + 1  # S3 took none; S4's own read took the next
    assert _snapshot(publisher, "S4", ("294010",)).new_box_id is None  # has lines
    assert _snapshot(publisher, "S5", ("279813",)).new_box_id == box.pk + 1


def test_a_new_box_gets_the_id_its_read_took_and_its_lines_and_charge_with_it(client):
    publisher = make_publisher(balance="100.00")
    make_project(publisher, "279813")
    post_notify(client, publisher, order_body(order_id="S6"))
    box = Order.objects.get()
    charge = box.ledger_entries.get()
    assert (box.lines.count(), charge.amount) == (1, -box.cost)
    assert box.events.count() == 2  # created, charged
