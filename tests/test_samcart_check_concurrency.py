"""The SamCart check racing itself and the Notify URL, in real threads on PostgreSQL (SPEC §17):
one run per publisher at a time, and never a line ordered twice.
"""

from __future__ import annotations

from collections import Counter

import pytest
from django.test import Client

from fulfillment.models import (
    Order,
    OrderLine,
    OrderStatus,
    Outcome,
    RunKind,
    RunStatus,
    SamcartCheckRun,
)
from fulfillment.services.charge import box_cost
from fulfillment.services.samcart_check import samcart_check_run
from tests.factories import make_project, make_publisher, post_notify
from tests.samcart_world import notify_body, sale, serve, with_key
from tests.threads import run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ROUNDS = 3


def _publisher():
    publisher = with_key(make_publisher(balance="500.00"))
    make_project(publisher, "279813", title="Almanac")
    make_project(publisher, "{294010}", title="Workbook")
    make_project(publisher, "{294010}{298020}", title="Bundle")
    return publisher


def _doubled() -> list[tuple[str, str, int]]:
    lines = Counter(
        OrderLine.objects.values_list("external_order_id", "external_product_id", "project_id")
    )
    return [line for line, count in lines.items() if count > 1]


def test_two_runs_at_once_one_is_refused_nothing_doubled(standin):
    publisher = _publisher()
    serve(standin, [sale(5000 + n, [279813, 294010]) for n in range(20)])
    # The listing is slow, so the first run still holds the publisher when the second claims.
    standin.fail({"delay": 0.5})

    def check() -> SamcartCheckRun | None:
        return samcart_check_run(publisher=publisher)

    results = run_together([check, check])

    assert not [r for r in results if isinstance(r, BaseException)], results
    [run] = [r for r in results if r is not None]
    assert results.count(None) == 1
    # 20 SamCart orders of two lines: 20 boxes of Almanac, Workbook and Bundle (294010 is both).
    assert (run.status, run.missing, run.created) == (RunStatus.OK, 40, 40)
    assert _doubled() == [] and OrderLine.objects.count() == 60
    assert Order.objects.count() == 20
    assert SamcartCheckRun.objects.count() == 1


def test_a_run_racing_the_notify_post_of_the_same_sale_orders_it_once(standin):
    publisher = _publisher()
    for round_ in range(ROUNDS):
        order_id = 5100 + round_
        serve(standin, [sale(order_id, [279813, 298020])])
        body = notify_body(order_id, [(279813, 1), (298020, 1)], street="5 Late Lane")

        def post(body: str = body) -> str:
            return post_notify(Client(), publisher, body).json()["outcome"]

        def check() -> SamcartCheckRun | None:
            return samcart_check_run(publisher=publisher)

        posted, run = run_together([post, check])

        assert posted in (Outcome.CREATED, Outcome.DUPLICATE), posted
        assert isinstance(run, SamcartCheckRun) and run.status == RunStatus.OK, run
        assert _doubled() == []
        [box] = Order.objects.filter(external_order_id=str(order_id))  # one box
        lines = box.lines.values_list("project__title", flat=True)
        assert sorted(lines) == ["Almanac", "Bundle"]  # once each
        # Whoever came first, the POST's address is the one kept, and the box is charged.
        assert box.ship_street == "5 Late Lane" and box.hold_reason == ""
        assert run.created == (0 if posted == Outcome.CREATED else 2)


def test_a_run_racing_the_post_of_the_main_product_adds_the_bump_to_its_box(standin):
    publisher = _publisher()
    publisher.grouping_minutes = 10  # the POST's box stays open for the bump
    publisher.save(update_fields=["grouping_minutes"])
    for round_ in range(ROUNDS * 2):
        order_id = 5200 + round_
        serve(standin, [sale(order_id, [279813, 298020])])
        body = notify_body(order_id, [(279813, 1)], street="5 Late Lane")  # the bump's is lost

        def post(body: str = body) -> str:
            return post_notify(Client(), publisher, body).json()["outcome"]

        def check() -> SamcartCheckRun | None:
            return samcart_check_run(publisher=publisher, kind=RunKind.DAILY)

        posted, run = run_together([post, check])

        assert posted in (Outcome.CREATED, Outcome.DUPLICATE), posted
        assert isinstance(run, SamcartCheckRun) and run.status == RunStatus.OK, run
        assert _doubled() == []
        [box] = Order.objects.filter(external_order_id=str(order_id))  # one box, whoever won
        lines = box.lines.values_list("project__title", flat=True)
        assert sorted(lines) == ["Almanac", "Bundle"]
        assert (box.status, box.ship_street) == (OrderStatus.SCHEDULED, "5 Late Lane")
        assert box.cost == box_cost(list(box.lines.all()))
