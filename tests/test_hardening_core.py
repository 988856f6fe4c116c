"""Issue 8 ("Hardening"), the core findings: money, intake, status and reprocess.

Findings 2 (intake and release), 10, 15, 16 and 17 (the rules) plus `hold_orders_refresh`, the
service that keeps hold orders in step with their project's prices. Orders arrive the way they
do in production: SamCart bodies POSTed to the Notify URL through the real view. The races of
findings 13 and 14 are in tests/test_concurrency_hardening.py (PostgreSQL).
"""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from django.utils import timezone

from fulfillment.models import (
    HoldReason,
    LedgerEntry,
    Notification,
    Order,
    OrderEvent,
    OrderEventKind,
    OrderLine,
    OrderStatus,
    Outcome,
    Project,
)
from fulfillment.services import notifications, reprocess
from fulfillment.services.deposits import deposit_record
from fulfillment.services.orders import order_delete, order_update
from fulfillment.services.projects import project_create, project_update
from fulfillment.services.release import orders_release
from fulfillment.services.reprocess import notification_reprocess, reprocess_refusal
from tests.factories import make_project, make_publisher, post_notify, sample
from tests.invariants import assert_money_invariants, dollars, order_body

pytestmark = pytest.mark.django_db


def _one_order(client: Client, publisher, body: bytes, **options: object) -> Order:
    response = post_notify(client, publisher, body, **options)
    assert response.status_code == 200, response.content
    return Order.objects.filter(publisher=publisher).latest("id")


def _details(order: Order, kind: str | None = None) -> list[str]:
    events = OrderEvent.objects.filter(order=order).order_by("id")
    if kind is not None:
        events = events.filter(kind=kind)
    return list(events.values_list("detail", flat=True))


# Finding 2: free printing. An unconfirmed project holds its orders, whatever the balance.


def test_an_unconfirmed_project_at_zero_holds_its_orders_whatever_the_balance(client):
    publisher = make_publisher(balance="500.00")
    # As the admin saves a publisher's new project: no prices, nothing confirmed.
    project_create(publisher=publisher, title="Free?", ecommerce_id_string="777001")
    order = _one_order(
        client, publisher, order_body(order_id=1001, product_id=777001, quantity=10_000)
    )
    assert (order.status, order.hold_reason) == (OrderStatus.HOLD, "price_pending")
    assert not LedgerEntry.objects.filter(order=order).exists()
    assert "not confirmed" in _details(order, OrderEventKind.HELD)[0]
    assert_money_invariants(publisher)


def test_a_test_order_of_an_unconfirmed_project_holds_with_price_pending(client):
    publisher = make_publisher(balance="500.00")
    make_project(publisher, "777001", prices_confirmed=False)
    order = _one_order(client, publisher, order_body(order_id=1002, product_id=777001), test=True)
    assert (order.status, order.hold_reason, order.is_test) == (
        OrderStatus.HOLD,
        "price_pending",
        True,
    )


def test_release_never_charges_a_price_pending_order_and_it_blocks_nobody(client):
    publisher = make_publisher(balance="0.00")
    pending = make_project(publisher, "777001", prices_confirmed=False)
    make_project(publisher, "279813")
    first = _one_order(client, publisher, order_body(order_id=1003, product_id=777001))
    second = _one_order(client, publisher, order_body(order_id=1004, product_id=279813))
    deposit_record(publisher=publisher, amount=Decimal("100.00"), actor=None)

    result = orders_release(publisher=publisher, order_ids=[first.pk, second.pk], actor=None)

    assert [o.pk for o in result.released] == [second.pk]
    assert result.kept == [(result.kept[0][0], "waits for TrepStar to confirm its price")]
    assert f"order #{first.pk} waits for TrepStar to confirm its price" in result.message
    first.refresh_from_db()
    assert (first.status, first.hold_reason) == (OrderStatus.HOLD, "price_pending")
    assert pending.prices_confirmed is False
    assert_money_invariants(publisher)


def test_auto_release_skips_a_price_pending_order_and_charges_the_younger_one(client):
    publisher = make_publisher(balance="0.00", auto_release=True)
    make_project(publisher, "777001", prices_confirmed=False)
    make_project(publisher, "279813")
    first = _one_order(client, publisher, order_body(order_id=1005, product_id=777001))
    second = _one_order(client, publisher, order_body(order_id=1006, product_id=279813))
    _, released = deposit_record(publisher=publisher, amount=Decimal("50.00"), actor=None)
    assert released is not None and [o.pk for o in released.released] == [second.pk]
    first.refresh_from_db()
    assert first.status == OrderStatus.HOLD
    assert_money_invariants(publisher)


# hold_orders_refresh: the cost and reason of hold orders follow the project (finding 11, §7).


def test_refresh_recomputes_the_cost_of_hold_orders_with_an_event(client):
    from fulfillment.services.release import hold_orders_refresh

    publisher = make_publisher(balance="0.00")
    project = make_project(publisher, "279813", unit_cost="5.00", shipping_cost="2.00")
    order = _one_order(client, publisher, order_body(order_id=1101))
    assert order.cost == dollars("7.00")
    Project.objects.filter(pk=project.pk).update(unit_cost=Decimal("50.00"))

    with transaction.atomic():
        changed = hold_orders_refresh(publisher_id=publisher.pk, actor=None)

    assert changed == 1
    order.refresh_from_db()
    assert (order.cost, order.hold_reason) == (dollars("52.00"), HoldReason.PAYMENT_REQUIRED)
    assert _details(order, OrderEventKind.EDITED) == [
        "Cost now $52.00 (was $7.00): the project's prices changed."
    ]
    with transaction.atomic():
        assert hold_orders_refresh(publisher_id=publisher.pk, actor=None) == 0


def test_refresh_after_confirming_prices_moves_the_reason_through_the_status_writer(client):
    from fulfillment.services.release import hold_orders_refresh

    publisher = make_publisher(balance="0.00")
    pending = make_project(publisher, "777001", prices_confirmed=False)
    other = make_project(publisher, "777002", prices_confirmed=False)
    order = _one_order(client, publisher, order_body(order_id=1102, product_id=777001))
    untouched = _one_order(client, publisher, order_body(order_id=1103, product_id=777002))
    Project.objects.filter(pk__in=[pending.pk, other.pk]).update(
        prices_confirmed=True, unit_cost=Decimal("6.00")
    )

    with transaction.atomic():
        changed = hold_orders_refresh(publisher_id=publisher.pk, project_id=pending.pk, actor=None)

    assert changed == 1
    order.refresh_from_db()
    assert (order.status, order.hold_reason, order.cost) == (
        OrderStatus.HOLD,
        HoldReason.PAYMENT_REQUIRED,
        dollars("8.00"),
    )
    assert _details(order, OrderEventKind.EDITED) == [
        "Cost now $8.00 (was $7.00): the project's prices changed.",
        "Hold reason now payment required (was price not confirmed yet).",
    ]
    untouched.refresh_from_db()
    assert (untouched.hold_reason, untouched.cost) == (HoldReason.PRICE_PENDING, dollars("7.00"))


def test_refresh_leaves_charged_orders_alone(client):
    from fulfillment.services.release import hold_orders_refresh

    publisher = make_publisher(balance="100.00")
    project = make_project(publisher, "279813")
    order = _one_order(client, publisher, order_body(order_id=1104))
    assert order.status == OrderStatus.IN_PRODUCTION
    Project.objects.filter(pk=project.pk).update(unit_cost=Decimal("50.00"))
    with transaction.atomic():
        assert hold_orders_refresh(publisher_id=publisher.pk, actor=None) == 0
    order.refresh_from_db()
    assert order.cost == dollars("7.00")
    assert_money_invariants(publisher)


# Finding 10: billing replaces shipping only when no shipping field came at all.


def _gift_body(order_id: int) -> bytes:
    """A gift: the shipping address came, with the country mistyped; billing is in Austin."""
    data = json.loads(order_body(order_id=order_id))
    data["order"].update(
        shipping_address="1 Gift Recipient Road",
        shipping_city="Toronto",
        shipping_state="ON",
        shipping_zip="M5V 2T6",
        shipping_country="Canda",
    )
    return json.dumps(data).encode()


def test_an_incomplete_shipping_address_that_came_holds_instead_of_using_billing(client):
    publisher = make_publisher(balance="100.00", use_billing_address=True)
    make_project(publisher, "279813")
    order = _one_order(client, publisher, _gift_body(1201))
    assert (order.status, order.hold_reason) == (OrderStatus.HOLD, HoldReason.ADDRESS_INCOMPLETE)
    assert (order.ship_street, order.ship_city, order.ship_country) == (
        "1 Gift Recipient Road",
        "Toronto",
        "Canda",
    )
    assert not LedgerEntry.objects.filter(order=order).exists()
    assert "(missing: a known country)" in _details(order, OrderEventKind.HELD)[0]
    assert_money_invariants(publisher)


def test_billing_is_used_when_no_shipping_field_came(client):
    publisher = make_publisher(balance="100.00", use_billing_address=True)
    make_project(publisher, "279813")
    data = json.loads(order_body(order_id=1202))
    for key in list(data["order"]):
        if key.startswith("shipping_"):
            data["order"][key] = ""
    order = _one_order(client, publisher, json.dumps(data).encode())
    assert (order.status, order.ship_street, order.ship_city) == (
        OrderStatus.IN_PRODUCTION,
        "4410 Larkspur Lane",
        "Austin",
    )


# Finding 17: one place for each rule.


def test_each_charge_event_shows_the_balance_after_that_charge(client, funded_publisher):
    post_notify(client, funded_publisher, sample("order_three_products"))
    post_notify(client, funded_publisher, order_body(order_id=2))
    charged = [
        detail
        for detail in OrderEvent.objects.filter(kind=OrderEventKind.CHARGED)
        .order_by("order_id")
        .values_list("detail", flat=True)
    ]
    # $500 less the box: 13.00 + 3.20 + 8.90 + 8.90 + one shipping of 4.95, then the Almanac.
    assert charged == [
        "Charged $38.95; balance now $461.05.",
        "Charged $11.45; balance now $449.60.",
    ]
    assert_money_invariants(funded_publisher)


def test_a_change_of_hold_reason_goes_through_the_status_writer_with_an_event(client):
    publisher = make_publisher(balance="0.00")
    make_project(publisher, "279813")
    order = _one_order(client, publisher, order_body(order_id=1203, address=False))
    assert order.hold_reason == HoldReason.ADDRESS_INCOMPLETE
    order_update(order=order, actor=None, ship_street="12 Quay Street")
    assert _details(order, OrderEventKind.EDITED)[-1] == (
        "Hold reason now payment required (was address incomplete)."
    )


def test_address_completeness_is_one_rule_naming_what_is_missing():
    from fulfillment.carts.base import Address
    from fulfillment.services.charge import order_address_complete

    assert Address().missing_parts() == ("street", "city", "postal code", "country")
    gift = Address(street="1 Gift Road", city="Toronto", postal_code="M5V", country="Canda")
    assert gift.missing_parts() == ("country",)
    assert not gift.is_complete()
    order = Order(ship_street="1 Gift Road", ship_city="Toronto", ship_postal_code="M5V")
    assert order_address_complete(order=order) is False
    order.ship_country_code = "CA"
    assert order_address_complete(order=order) is True


SERVICES = Path(__file__).resolve().parent.parent / "fulfillment"
STATUS_WRITE = re.compile(r"\.status\s*(,[^=\n]*)?=(?!=)|[(,]\s*status\s*=\s*OrderStatus\.")
RUN_STATUS_WRITE = re.compile(r"^\s*run\.status\b[^=\n]*=(?!=)[^=\n]*RunStatus\.")


def test_only_the_status_module_assigns_an_order_status():
    writers = [
        f"{path.relative_to(SERVICES)}:{number}"
        for path in SERVICES.rglob("*.py")
        # models/ only declares constraints; migrations are history
        if not {"migrations", "models"} & set(path.parts) and path.name != "status.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if STATUS_WRITE.search(line)
        and "filter(" not in line
        and "exclude(" not in line
        # A SamCart check run's status (`run.status = RunStatus…`) is not an order's.
        and not RUN_STATUS_WRITE.search(line)
    ]
    assert writers == []


def test_the_cost_formula_is_written_once():
    copies = [
        f"{path.relative_to(SERVICES)}:{number}"
        for path in SERVICES.rglob("*.py")
        if "migrations" not in path.parts
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if "unit_cost *" in line or "* project.unit_cost" in line or "* line.unit_cost" in line
    ]
    assert len(copies) == 1, copies
    assert copies[0].startswith("models/orders.py:")  # OrderLine.cost, which box_cost sums


# Finding 15: reprocess after a re-mapping must not charge the same SamCart line twice.


def _remapped_world(client: Client):
    publisher = make_publisher(balance="100.00")
    almanac = make_project(publisher, "279813", title="Almanac")
    post_notify(client, publisher, order_body(order_id=1001))
    notification = Notification.objects.get()
    first = Order.objects.get()
    assert first.status == OrderStatus.IN_PRODUCTION
    project_update(project=almanac, ecommerce_id_string="")
    moved = make_project(publisher, "279813", title="Almanac, 2nd edition")
    notification.refresh_from_db()
    return publisher, notification, first, moved


def test_reprocess_refuses_a_line_that_has_an_order_in_another_project(client):
    publisher, notification, first, _ = _remapped_world(client)
    before = (notification.outcome, notification.detail, notification.attempts)

    answer = notification_reprocess(notification=notification)

    assert answer.status == 409
    assert answer.outcome == Outcome.CREATED
    assert answer.detail == (
        f"SamCart line 279813 of order 1001 already has order {first.pk} in project “Almanac”; "
        "confirm to create another."
    )
    assert getattr(answer, "remapped_orders", None) == (first.pk,)
    assert Order.objects.count() == 1
    notification.refresh_from_db()
    assert (notification.outcome, notification.detail, notification.attempts) == before
    assert_money_invariants(publisher)


def test_reprocess_creates_the_second_order_when_the_person_confirms(client):
    publisher, notification, _, moved = _remapped_world(client)
    answer = notification_reprocess(notification=notification, allow_remapped=True)
    assert (answer.status, answer.outcome, answer.remapped_orders) == (200, Outcome.CREATED, ())
    assert Order.objects.filter(lines__project=moved).count() == 1
    assert_money_invariants(publisher)


def test_a_deleted_order_in_the_old_project_still_counts(client):
    """A line whose order the publisher deleted is done too: only a confirmation orders it."""
    publisher = make_publisher(balance="0.00")
    old = make_project(publisher, "279813", title="Old")
    post_notify(client, publisher, order_body(order_id=1002))
    deleted = Order.objects.get()
    order_delete(order=deleted, actor=None)
    project_update(project=old, ecommerce_id_string="")
    new = make_project(publisher, "279813", title="New")
    notification = Notification.objects.get()
    answer = notification_reprocess(notification=notification)
    assert (answer.status, answer.remapped_orders) == (409, (deleted.pk,))
    assert f"order {deleted.pk} in project “Old” (deleted)" in answer.detail
    assert not Order.objects.filter(lines__project=new).exists()
    answer = notification_reprocess(notification=notification, allow_remapped=True)
    assert (answer.status, answer.outcome) == (200, Outcome.CREATED)
    assert Order.objects.filter(lines__project=new).count() == 1


def test_a_bundle_is_ordered_once_and_a_later_mapping_needs_confirmation(client):
    publisher = make_publisher(balance="100.00")
    workbook = make_project(publisher, "{294010}", title="Workbook")
    make_project(publisher, "{294010}{298020}", title="Bundle")
    post_notify(client, publisher, order_body(order_id=1003, product_id=294010))
    notification = Notification.objects.get()
    # A first delivery: one box, one line per matching project (SPEC §18).
    assert (Order.objects.count(), OrderLine.objects.count()) == (1, 2)
    first_two = tuple(Order.objects.order_by("id").values_list("pk", flat=True))

    make_project(publisher, "294010", title="Poster")  # the bundle grows after the purchase
    answer = notification_reprocess(notification=notification)
    assert (answer.status, answer.remapped_orders) == (409, first_two)
    assert (Order.objects.count(), OrderLine.objects.count()) == (1, 2)

    project_update(project=workbook, ecommerce_id_string="")
    make_project(publisher, "294010", title="Workbook, 2nd edition")
    answer = notification_reprocess(notification=notification)
    assert (answer.status, answer.remapped_orders) == (409, first_two)
    assert "“Workbook”" in answer.detail
    assert (Order.objects.count(), OrderLine.objects.count()) == (1, 2)
    answer = notification_reprocess(notification=notification, allow_remapped=True)
    assert (answer.status, answer.outcome) == (200, Outcome.CREATED)
    # Poster and the 2nd edition, nothing twice: a second box, as the first is in production.
    assert (Order.objects.count(), OrderLine.objects.count()) == (2, 4)
    assert_money_invariants(publisher)


def test_a_resend_after_a_remapping_is_a_duplicate_on_arrival(client):
    publisher = make_publisher(balance="100.00")
    old = make_project(publisher, "279813", title="Old")
    post_notify(client, publisher, order_body(order_id=1004))
    project_update(project=old, ecommerce_id_string="")
    make_project(publisher, "279813", title="New")
    # SamCart resends the same order after the re-mapping: the line is done.
    response = post_notify(client, publisher, order_body(order_id=1004))
    assert response.json()["outcome"] == Outcome.DUPLICATE
    assert Order.objects.count() == 1


def test_the_command_refuses_remapped_lines_unless_allowed(client):
    _, notification, _, moved = _remapped_world(client)
    out, err = io.StringIO(), io.StringIO()
    call_command("reprocess_notifications", notification.pk, stdout=out, stderr=err)
    assert Order.objects.filter(lines__project=moved).count() == 0
    assert "confirm to create another" in err.getvalue()
    assert "refused" in out.getvalue()

    call_command(
        "reprocess_notifications", notification.pk, "--allow-remapped", stdout=out, stderr=err
    )
    assert Order.objects.filter(lines__project=moved).count() == 1
    assert "1 created" in out.getvalue()


# Finding 16: a stored notification is never stranded.


def _stuck(publisher, order_id: int, *, minutes: int = 2) -> Notification:
    """A notification stored whose process died before processing it."""
    stored = Notification.objects.create(
        publisher=publisher,
        raw_body=order_body(order_id=order_id),
        content_type="application/json",
        idpub_given=publisher.idpub,
    )
    Notification.objects.filter(pk=stored.pk).update(
        received_at=timezone.now() - timedelta(minutes=minutes)
    )
    stored.refresh_from_db()
    return stored


def test_the_command_picks_stuck_notifications_by_default():
    publisher = make_publisher(balance="100.00")
    make_project(publisher, "279813")
    stuck = _stuck(publisher, 1601)
    fresh = _stuck(publisher, 1602, minutes=0)
    out = io.StringIO()
    call_command("reprocess_notifications", stdout=out, stderr=io.StringIO())
    stuck.refresh_from_db()
    fresh.refresh_from_db()
    assert stuck.outcome == Outcome.CREATED
    assert fresh.outcome == Outcome.PENDING  # its first processing may still be running
    assert Order.objects.get().notification_id == stuck.pk


def test_a_stuck_notification_is_reprocessable_by_its_publisher():
    publisher = make_publisher(balance="100.00")
    make_project(publisher, "279813")
    stuck = _stuck(publisher, 1603)
    assert reprocess_refusal(notification=stuck) == ""
    assert reprocess.notification_publisher_may_reprocess(notification=stuck)
    assert Notification.objects.stuck().filter(pk=stuck.pk).exists()
    answer = notification_reprocess(notification=stuck)
    assert (answer.status, answer.outcome) == (200, Outcome.CREATED)


def test_a_failed_reprocess_keeps_the_event_type_and_order_id(client, monkeypatch):
    publisher = make_publisher(balance="100.00")
    post_notify(client, publisher, order_body(order_id=1604))
    stored = Notification.objects.get()
    assert (stored.outcome, stored.event_type, stored.external_order_id) == (
        Outcome.NO_MATCH,
        "Order",
        "1604",
    )
    make_project(publisher, "279813")

    def explode(**kwargs: object) -> None:
        raise RuntimeError("printer database unreachable")

    monkeypatch.setattr(notifications, "orders_create_from_cart", explode)
    answer = notification_reprocess(notification=stored)

    assert (answer.status, answer.outcome) == (500, Outcome.ERROR)
    stored.refresh_from_db()
    assert (stored.outcome, stored.event_type, stored.external_order_id) == (
        Outcome.ERROR,
        "Order",
        "1604",
    )
    assert "printer database unreachable" in stored.detail
