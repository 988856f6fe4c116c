"""Issue 17, points 2 and 16a (SPEC §6): one duplicate rule for every path.

A SamCart line (publisher, source, order id, product id) that already produced orders is done:
the Notify URL, a retry and a reprocess create nothing for it again, even after its product id
moved to another project; only a reprocess the person confirmed does.
"""

from __future__ import annotations

import pytest
from django.test import Client

from fulfillment.carts import parse_samcart
from fulfillment.models import LedgerEntry, LedgerKind, Notification, Order, OrderLine, Outcome
from fulfillment.services.projects import project_update
from fulfillment.services.reprocess import notification_reprocess
from tests.factories import make_project, make_publisher, only_line, post_notify
from tests.invariants import assert_money_invariants, order_body

pytestmark = pytest.mark.django_db


def _charges() -> int:
    return LedgerEntry.objects.filter(kind=LedgerKind.CHARGE).count()


def _edition_moved(client: Client):
    """Map 279813 to "Edition 1", deliver, then move it to "Edition 2"."""
    publisher = make_publisher(balance="100.00")
    first_edition = make_project(publisher, "279813", title="Edition 1")
    response = post_notify(client, publisher, order_body(order_id=7001))
    assert response.json()["outcome"] == Outcome.CREATED
    first = Order.objects.get()
    project_update(project=first_edition, ecommerce_id_string="")
    second_edition = make_project(publisher, "279813", title="Edition 2")
    return publisher, first, second_edition


def test_a_resend_after_the_product_moved_is_a_duplicate_and_charges_nothing(client):
    publisher, first, second_edition = _edition_moved(client)
    balance = type(publisher).objects.get(pk=publisher.pk).balance

    response = post_notify(client, publisher, order_body(order_id=7001))

    assert response.status_code == 200
    answer = response.json()
    assert answer["outcome"] == Outcome.DUPLICATE
    assert f"TrepStar order {first.pk})" in answer["detail"]  # names the existing order
    assert "279813 now matches another project" in answer["detail"]
    assert Order.objects.count() == 1
    assert not Order.objects.filter(lines__project=second_edition).exists()
    assert _charges() == 1
    checked = assert_money_invariants(publisher)  # balance == ledger
    assert checked.balance == balance


def test_the_resend_stored_as_its_own_notification_is_duplicate_on_reprocess_too(client):
    publisher, first, second_edition = _edition_moved(client)
    post_notify(client, publisher, order_body(order_id=7001))
    resend = Notification.objects.latest("id")

    refused = notification_reprocess(notification=resend)
    assert (refused.status, refused.remapped_orders) == (409, (first.pk,))
    resend.refresh_from_db()
    assert resend.outcome == Outcome.DUPLICATE  # unchanged by the refusal
    assert (Order.objects.count(), _charges()) == (1, 1)

    confirmed = notification_reprocess(notification=resend, allow_remapped=True)
    assert (confirmed.status, confirmed.outcome) == (200, Outcome.CREATED)
    assert Order.objects.filter(lines__project=second_edition).count() == 1
    assert _charges() == 2
    again = notification_reprocess(notification=resend, allow_remapped=True)
    assert again.outcome == Outcome.DUPLICATE  # confirmed once is ordered once
    assert Order.objects.count() == 2
    assert_money_invariants(publisher)


def test_the_plan_is_the_one_rule(client):
    """`cart_lines_plan` decides alone: a done line creates nothing unless confirmed."""
    from fulfillment.services.intake import Remapped, cart_lines_plan  # new in issue 17

    _, first, second_edition = _edition_moved(client)
    cart = parse_samcart(order_body(order_id=7001), "application/json")
    matches = {"279813": [second_edition]}

    line = only_line(first)
    for remapped in (Remapped.SKIP, Remapped.REFUSE):
        plan = cart_lines_plan(cart=cart, matches=matches, existing=[line], remapped=remapped)
        assert (plan.new, plan.done, plan.remapped) == ([], [line], [line])
    plan = cart_lines_plan(cart=cart, matches=matches, existing=[line], remapped=Remapped.CREATE)
    assert [project for _, project in plan.new] == [second_edition]
    fresh = cart_lines_plan(cart=cart, matches=matches, existing=[], remapped=Remapped.SKIP)
    assert [project for _, project in fresh.new] == [second_edition]


def test_a_resend_with_a_new_line_creates_only_the_new_line(client):
    publisher, _, second_edition = _edition_moved(client)
    make_project(publisher, "294010", title="Poster")
    body = order_body(order_id=7001, extra_products=((294010, 1),))

    answer = post_notify(client, publisher, body).json()

    assert answer["outcome"] == Outcome.CREATED
    assert "279813 now matches another project" in answer["detail"]
    assert not Order.objects.filter(lines__project=second_edition).exists()
    assert OrderLine.objects.filter(external_product_id="294010").count() == 1
    assert _charges() == 2
    assert_money_invariants(publisher)
