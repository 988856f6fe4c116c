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


def _synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


@POSTGRES
@pytest.mark.django_db(transaction=True)
def test_a_block_that_need_not_wait_for_the_disk_says_so_with_its_first_own_statement(box):
    """The setting rides after the first merge, in its round trip, once; the rows it returns
    are the merge's; the next transaction waits again."""
    notification = Notification.objects.get()
    with (
        CaptureQueriesContext(connection) as captured,
        transaction.atomic(),
        deferring(wait_for_disk=False),
    ):
        insert_deferred(OrderEvent, _events(box, 1))
        assert update_merged(Notification, notification.pk, detail="first") == 1
        assert _synchronous_commit() == "off"
        assert update_merged(Notification, notification.pk, detail="second") == 1

    first, show, second = _statements(captured)
    assert first.startswith('WITH "deferred_0" AS (INSERT')
    assert first.endswith("; SET LOCAL synchronous_commit TO OFF")
    assert show == "SHOW synchronous_commit"
    assert "synchronous_commit" not in second
    assert _notes(box) == ["d0"] and Notification.objects.get().detail == "second"
    assert _synchronous_commit() == "on"


@POSTGRES
@pytest.mark.django_db(transaction=True)
def test_a_block_waits_for_the_disk_unless_told_and_kept_writes_alone_carry_the_setting(box):
    with transaction.atomic(), deferring():
        insert_deferred(OrderEvent, _events(box, 1))
        assert _synchronous_commit() == "on"
    with transaction.atomic(), deferring(wait_for_disk=False):
        insert_deferred(OrderEvent, _events(box, 1))
        assert _synchronous_commit() == "off"  # the kept write went first, with the setting
    assert _notes(box) == ["d0", "d0"]


@POSTGRES
@pytest.mark.django_db(transaction=True)
def test_a_block_nested_in_another_transaction_leaves_its_commit_alone(box):
    """SET LOCAL in a savepoint would set the outer transaction's commit, which is not the
    block's to decide."""
    with transaction.atomic():
        with transaction.atomic(), deferring(wait_for_disk=False):
            insert_deferred(OrderEvent, _events(box, 1))
            assert _synchronous_commit() == "on"
        assert _synchronous_commit() == "on"
    assert _notes(box) == ["d0"]


COMMIT_LOG = """
CREATE TABLE commit_log (id serial, op text, setting text);
CREATE FUNCTION commit_log_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO commit_log (op, setting) VALUES (TG_OP, current_setting('synchronous_commit'));
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER commit_log_notification AFTER INSERT OR UPDATE
    ON fulfillment_notification DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION commit_log_row();
"""
COMMIT_LOG_DROP = """
DROP TRIGGER IF EXISTS commit_log_notification ON fulfillment_notification;
DROP FUNCTION IF EXISTS commit_log_row();
DROP TABLE IF EXISTS commit_log;
"""


@POSTGRES
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("waits", [False, True])
def test_a_notify_post_stores_with_a_commit_that_waits_and_processes_as_configured(
    client, settings, waits
):
    """A deferred trigger on the notification row records, at each commit, the setting that
    commit ran with: the store's always waits for the disk (the body is the one copy); the
    processing's only with NOTIFY_PROCESS_WAITS_FOR_DISK (a crash undoing it leaves the row
    `pending` for the sweep)."""
    settings.NOTIFY_PROCESS_WAITS_FOR_DISK = waits
    publisher = make_publisher(balance="100.00")
    make_project(publisher, "279813")
    with connection.cursor() as cursor:
        cursor.execute(COMMIT_LOG)
    try:
        response = post_notify(client, publisher, order_body(order_id="S1"))
        with connection.cursor() as cursor:
            cursor.execute("SELECT op, setting FROM commit_log ORDER BY id")
            logged = cursor.fetchall()
    finally:
        with connection.cursor() as cursor:
            cursor.execute(COMMIT_LOG_DROP)

    assert response.status_code == 200 and response.json()["outcome"] == "created"
    assert logged == [("INSERT", "on"), ("UPDATE", "on" if waits else "off")]
