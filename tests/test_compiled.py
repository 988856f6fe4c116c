"""INSERTs and UPDATEs whose SQL is built once per model (`services/compiled.py`, issue 21):
the same statement and the same row as the ORM's, and the ORM itself wherever the short path
does not cover a case (an expression, a model with save receivers)."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.db.models import F, Value
from django.db.models.functions import Concat, Now
from django.db.models.sql import InsertQuery

from fulfillment.models import (
    Notification,
    Order,
    OrderEvent,
    OrderEventKind,
    OrderLine,
    Project,
    ProjectCartId,
)
from fulfillment.services.compiled import (
    insert_one,
    insert_statement,
    insert_statements,
    update_statement,
)
from fulfillment.services.deferred import deferring, insert_deferred, update_merged

pytestmark = pytest.mark.django_db


@pytest.fixture
def box(held_box: Order) -> Order:
    return held_box


def _orm_insert(model, objs):
    """The ORM's own INSERT of `objs` (what `bulk_create` compiles, without RETURNING)."""
    query = InsertQuery(model)
    query.insert_values(_fields(model, objs), objs)
    [(sql, params)] = query.get_compiler(connection=connection).as_sql()
    return sql, tuple(params)


def _fields(model, objs):
    """The fields an INSERT of `objs` writes, in the ORM's order."""
    with_pk = objs[0].pk is not None
    return [
        f
        for f in model._meta.local_concrete_fields
        if not f.generated and (with_pk or f is not model._meta.auto_field)
    ]


def _comparable(model, objs, statement):
    """`statement` with its bytes parameters unwrapped (a psycopg Binary has no equality) and
    its `auto_now` timestamps left out (each compile takes the time anew)."""
    sql, params = statement
    stamped = [
        getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
        for f in _fields(model, objs)
    ]
    return sql, tuple(
        getattr(p, "obj", p)
        for p, skip in zip(params, stamped * len(objs), strict=True)
        if not skip
    )


def _copies(box: Order) -> list:
    """New, unsaved copies of a real notification, box, line and event (ids left to the
    database; what must stay unique changed)."""
    notification = Notification.objects.get(pk=box.notification_id)
    notification.pk, notification.spool_id = None, uuid.uuid4()
    line = OrderLine.objects.get(order=box)
    copy = Order.objects.get(pk=box.pk)
    copy.pk, copy.external_order_id = None, "I2"
    line.pk, line.external_order_id = None, "I2"
    event = OrderEvent(order=box, kind=OrderEventKind.EDITED, detail="é\u202e<b>")
    for obj in (notification, copy, line):
        obj._state.adding = True
    return [notification, copy, line, event]


def test_the_statement_is_the_orms_own_for_every_model_of_the_notify_path(box):
    for obj in _copies(box):
        model = type(obj)
        ours = _comparable(model, [obj], insert_statement(model, [obj]))
        assert ours == _comparable(model, [obj], _orm_insert(model, [obj])), model


def test_a_box_whose_id_is_given_inserts_that_id(box):
    copy = _copies(box)[1]
    copy.pk = box.pk + 1000
    sql, params = insert_statement(Order, [copy])
    orms = _orm_insert(Order, [copy])
    assert _comparable(Order, [copy], (sql, params)) == _comparable(Order, [copy], orms)
    assert '"id"' in sql and params[0] == box.pk + 1000


def test_several_rows_are_one_statement_with_a_row_each(box):
    events = [OrderEvent(order=box, kind=OrderEventKind.EDITED, detail=f"e{i}") for i in range(3)]
    sql, params = insert_statement(OrderEvent, events)
    assert sql.count("), (") == 2
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    assert sorted(
        box.events.filter(kind=OrderEventKind.EDITED).values_list("detail", flat=True)
    ) == [
        "e0",
        "e1",
        "e2",
    ]


def test_insert_one_stores_the_row_the_orm_stores(box):
    original = Notification.objects.get(pk=box.notification_id)
    notification = _copies(box)[0]
    notification.raw_body = b"\x00\xff binary \xe2\x80\xae"
    insert_one(notification)

    assert notification.pk is not None and notification.pk != original.pk
    assert notification._state.adding is False and notification._state.db == "default"
    stored = Notification.objects.get(pk=notification.pk)
    assert bytes(stored.raw_body) == b"\x00\xff binary \xe2\x80\xae"
    for field in Notification._meta.concrete_fields:
        if field.name not in {"id", "spool_id", "raw_body"}:
            assert getattr(stored, field.attname) == getattr(original, field.attname), field.name


def test_a_new_line_keeps_its_decimal_prices(box):
    line = _copies(box)[2]
    line.unit_cost = Decimal("6.49")
    copy = _copies(box)[1]
    insert_one(copy)
    line.order = copy
    insert_one(line)
    assert OrderLine.objects.get(pk=line.pk).unit_cost == Decimal("6.49")


def test_an_expression_value_goes_to_the_orm(box):
    notification = _copies(box)[0]
    notification.received_at = Now()
    assert insert_statement(Notification, [notification]) is None
    insert_one(notification)  # saved by the ORM, which resolves the expression
    stored = Notification.objects.get(pk=notification.pk)
    assert stored.received_at is not None and stored.received_at >= box.created_at


def test_a_kept_insert_with_an_expression_is_compiled_by_the_orm(box):
    event = OrderEvent(order=box, kind=OrderEventKind.EDITED, detail=Concat(Value("a"), Value("b")))
    assert insert_statement(OrderEvent, [event]) is None
    [(sql, _)] = insert_statements(OrderEvent, [event])
    assert sql.startswith('INSERT INTO "fulfillment_orderevent"')
    with transaction.atomic(), deferring():
        insert_deferred(OrderEvent, [event])
    assert box.events.filter(kind=OrderEventKind.EDITED).get().detail == "ab"


def test_a_model_with_save_receivers_is_saved_by_the_orm_so_they_run(box):
    project = Project(
        publisher=box.publisher,
        title="Receivers",
        ecommerce_id_string="{555001}{555002}",
        unit_cost=Decimal("1.00"),
        shipping_cost=Decimal("1.00"),
    )
    insert_one(project)
    # The post_save receiver indexed the project's SamCart ids.
    assert set(
        ProjectCartId.objects.filter(project=project).values_list("external_id", flat=True)
    ) == {"555001", "555002"}


def _twins(box: Order) -> tuple[Notification, Notification]:
    first, second = _copies(box)[0], _copies(box)[0]
    insert_one(first)
    insert_one(second)
    return first, second


def _row(notification: Notification) -> dict:
    stored = Notification.objects.filter(pk=notification.pk).values().get()
    del stored["id"], stored["spool_id"]
    return stored


def test_an_update_by_id_writes_what_the_orms_update_writes(box):
    ours, orms = _twins(box)
    when = box.created_at
    values = {"outcome": "error", "detail": "x\u202e<i>", "http_status": 500, "processed_at": when}
    values |= {"next_attempt_at": None, "event_type": "Refund", "external_order_id": ""}
    assert update_merged(Notification, ours.pk, increment=("attempts",), **values) == 1
    Notification.objects.filter(pk=orms.pk).update(attempts=F("attempts") + 1, **values)
    assert _row(ours) == _row(orms)
    assert _row(ours)["attempts"] == ours.attempts + 1


def test_an_update_of_a_missing_row_updates_nothing(box):
    assert update_merged(Notification, 10**9, detail="gone") == 0


def test_an_update_with_an_expression_goes_to_the_orm(box):
    ours, _ = _twins(box)
    assert update_statement(Notification, ours.pk, {"processed_at": Now()}) is None
    assert update_merged(Notification, ours.pk, increment=("attempts",), processed_at=Now()) == 1
    stored = Notification.objects.get(pk=ours.pk)
    assert stored.processed_at >= box.created_at and stored.attempts == ours.attempts + 1
