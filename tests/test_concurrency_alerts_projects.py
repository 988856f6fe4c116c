"""Issue 17, points 5 and 8b on PostgreSQL, with real threads, each on its own connection.

Point 5: a project moving to another publisher while a purchase for it is in flight. The
purchase's first pass is paused by a wrapper around the real compare-and-set charge (before
it, or after it, the transaction still open); nothing else is replaced. The controls take the
move's locks away and show the order of one publisher landing in the other's project.

Point 8b: a hold order whose transaction commits after a digest scan read the orders.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.test import Client
from django.utils import timezone

from fulfillment.models import (
    Alert,
    AlertKind,
    HoldReason,
    Order,
    OrderLine,
    OrderStatus,
    Publisher,
)
from fulfillment.services import intake, projects
from fulfillment.services.alerts import alerts_collect
from fulfillment.services.projects import project_save
from tests.factories import make_project, make_publisher, notify_path
from tests.invariants import assert_money_invariants, order_body
from tests.threads import GIVE_UP, Worker, _wait_until_blocked

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


class Paused:
    """Wrap the real compare-and-set charge so the first call waits, before or after it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *, after: bool) -> None:
        self.real = intake.publisher_charge_if_still_true
        self.after = after
        self.reached, self.go = threading.Event(), threading.Event()
        self.calls = 0
        monkeypatch.setattr(intake, "publisher_charge_if_still_true", self)

    def __call__(self, **kwargs: object) -> bool:
        self.calls += 1
        if self.calls > 1:
            return self.real(**kwargs)
        if not self.after:
            self.hold()
        result = self.real(**kwargs)
        if self.after:
            self.hold()
        return result

    def hold(self) -> None:
        self.reached.set()
        assert self.go.wait(GIVE_UP), "never released"


def _world() -> tuple[Publisher, Publisher, object]:
    a = make_publisher(balance="100.00")
    b = make_publisher(balance="100.00")
    project = make_project(a, "279813", unit_cost="5.00", shipping_cost="2.00")
    return a, b, project


def _move(project, to: Publisher):
    project.publisher = to
    return project_save(project=project)


def _purchase(a: Publisher, order_id: int) -> Worker:
    body = order_body(order_id=order_id)
    poster = Worker(
        "purchase",
        {},
        lambda: Client().post(notify_path(a), data=body, content_type="application/json").json(),
    )
    poster.start()
    return poster


def _strays(b: Publisher) -> list[Order]:
    """Orders of another publisher in `b`'s projects: what must never exist."""
    return list(Order.objects.filter(lines__project__publisher=b).exclude(publisher=b))


def _without_the_move_locks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(projects, "project_move_lock", lambda *, project: None, raising=False)


def _move_before_the_charge(monkeypatch: pytest.MonkeyPatch, order_id: int):
    a, b, project = _world()
    paused = Paused(monkeypatch, after=False)
    poster = _purchase(a, order_id)
    assert paused.reached.wait(GIVE_UP)  # it matched A's project and waits to charge
    _move(project, b)  # commits (no order of the project is committed yet)
    paused.go.set()
    return a, b, poster.outcome()


def test_a_move_before_the_charge_sends_the_purchase_back_to_see_the_move(monkeypatch):
    a, b, answer = _move_before_the_charge(monkeypatch, 1701)
    assert answer["outcome"] == "no_match"  # redone under the lock: A has no such project now
    assert _strays(b) == []
    assert not Order.objects.filter(publisher=a).exists()
    assert assert_money_invariants(a).balance == 100


def test_control_without_the_move_locks_a_purchase_lands_in_the_other_publishers_project(
    monkeypatch,
):
    _without_the_move_locks(monkeypatch)
    a, b, answer = _move_before_the_charge(monkeypatch, 1702)
    assert answer["outcome"] == "created"
    [stray] = _strays(b)
    assert stray.publisher_id == a.pk and stray.status == OrderStatus.IN_PRODUCTION


def _move_after_the_charge(monkeypatch: pytest.MonkeyPatch, order_id: int, *, locks: bool):
    a, b, project = _world()
    paused = Paused(monkeypatch, after=True)
    poster = _purchase(a, order_id)
    assert paused.reached.wait(GIVE_UP)  # charged A, not committed yet
    pids: dict[str, int] = {}
    mover = Worker("move", pids, lambda: _move(project, b))
    mover.start()
    if locks:
        _wait_until_blocked(pids, "move", mover.done)  # on A's row, held by the charge
    else:
        mover.done.wait(GIVE_UP)
    paused.go.set()
    assert poster.outcome()["outcome"] == "created"
    return a, b, mover


def test_a_move_after_the_charge_waits_for_it_and_is_refused(monkeypatch):
    a, b, mover = _move_after_the_charge(monkeypatch, 1703, locks=True)
    with pytest.raises(AssertionError) as raised:
        mover.outcome()
    refused = raised.value.__cause__
    assert isinstance(refused, ValidationError)
    assert refused.message_dict["publisher"] == [projects.ERROR_MOVE_WITH_ORDERS]
    assert _strays(b) == []
    assert Order.objects.get(publisher=a).lines.get().project.publisher_id == a.pk


def test_control_without_the_move_locks_the_move_passes_the_uncommitted_order(monkeypatch):
    _without_the_move_locks(monkeypatch)
    a, b, mover = _move_after_the_charge(monkeypatch, 1704, locks=False)
    mover.outcome()  # the move went through
    [stray] = _strays(b)
    assert stray.publisher_id == a.pk


# Point 8b: the late commit, for real.


def _hold_order_committed_late() -> tuple[Order, list[Alert]]:
    """A hold order inserted before a digest scan and committed after it; return it and the
    digests written by that scan and by one an hour later."""
    publisher = make_publisher(balance="0.00")
    project = make_project(publisher, "279813")

    def hold(order_id: str) -> Order:
        order = Order.objects.create(
            publisher=publisher,
            external_order_id=order_id,
            cost=project.unit_cost + project.shipping_cost,
            status=OrderStatus.HOLD,
            hold_reason=HoldReason.PAYMENT_REQUIRED,
        )
        OrderLine.objects.create(
            order=order,
            publisher=publisher,
            project=project,
            external_order_id=order_id,
            external_product_id="279813",
            unit_cost=project.unit_cost,
            shipping_cost=project.shipping_cost,
        )
        return order

    hold("first")
    inserted, commit = threading.Event(), threading.Event()

    def late() -> Order:
        with transaction.atomic():
            order = hold("late")
            inserted.set()
            assert commit.wait(GIVE_UP)
        return order

    writer = Worker("late", {}, late)
    writer.start()
    assert inserted.wait(GIVE_UP)
    assert alerts_collect() == 1  # the digest of the first order; the late one is not visible
    commit.set()
    order = writer.outcome()
    alerts_collect(now=timezone.now() + timedelta(minutes=61))
    return order, list(Alert.objects.filter(kind=AlertKind.HOLD_ORDERS).order_by("id"))


def test_a_hold_order_committed_after_the_scan_is_in_the_next_digest():
    late, digests = _hold_order_committed_late()
    assert len(digests) == 2
    assert f"Order #{late.pk}" not in digests[0].body_text
    assert f"Order #{late.pk}" in digests[1].body_text
    assert alerts_collect(now=timezone.now() + timedelta(hours=3)) == 0
