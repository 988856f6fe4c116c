"""Random sequences of money operations keep SPEC §7's invariants and follow a reference model.

A hypothesis state machine drives the real services against the database (SQLite, and
PostgreSQL in CI) and a tiny in-memory model of the rules: after every step the invariants of
`tests.invariants` hold and the database says what the model says (balance, statuses, reasons).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from fulfillment.models import HoldReason, Order, OrderStatus, Outcome, Project
from fulfillment.services.deposits import adjustment_record, deposit_record
from fulfillment.services.errors import NotEditable, ServiceError
from fulfillment.services.notifications import Incoming, notification_receive
from fulfillment.services.orders import order_delete, order_ship, order_update
from fulfillment.services.projects import project_prices_set, project_update
from fulfillment.services.publishers import publisher_settings_set
from fulfillment.services.release import orders_release, orders_release_all
from fulfillment.services.window import order_cancel, orders_start_production
from tests.factories import make_project, make_publisher
from tests.invariants import assert_money_invariants, order_body

S = OrderStatus
ZERO = Decimal("0.00")
CENT = Decimal("0.01")
ORDER_IDS = itertools.count(1)

# Project title → (eCommerceIDString, unit cost, shipping cost). SamCart product "B" is listed
# by two projects (a bundle), "Z" is free, "D" is a draft whose prices TrepStar has not
# confirmed yet (its orders hold with `price_pending` until `confirm_prices`), and "N" (in
# `new_order`) matches nothing.
PROJECTS = {
    "Almanac": ("{A}", "6.50", "4.95"),
    "Workbook": ("{B}", "3.20", "0.00"),
    "Bundle": ("{B}{C}", "8.90", "4.95"),
    "Free": ("{Z}", "0.00", "0.00"),
    "Draft": ("{D}", "2.00", "1.00"),
}
UNCONFIRMED = frozenset({"Draft"})


def dollars(low: int, high: int) -> st.SearchStrategy[Decimal]:
    """Amounts from `low` to `high` cents, as two-place Decimals."""
    return st.integers(min_value=low, max_value=high).map(lambda cents: Decimal(cents) * CENT)


deposits = dollars(1, 5000)
adjustments = dollars(1, 6000)
unit_prices = dollars(0, 1500)


@dataclass
class Line:
    """The model of one order."""

    project: str
    quantity: int
    complete: bool
    rest: bool  # city, postal code and country are there (only the street may be missing)
    test: bool
    status: str
    hold_reason: str
    cost: Decimal


def can_pay(balance: Decimal, cost: Decimal) -> bool:
    return balance > ZERO and balance >= cost


class MoneyMachine(RuleBasedStateMachine):
    """One fresh publisher per example; every rule calls a service and updates the model."""

    def __init__(self) -> None:
        super().__init__()
        self.publisher = None
        self.balance = ZERO
        self.lines: dict[int, Line] = {}
        self.prices: dict[str, tuple[Decimal, Decimal]] = {}
        self.projects: dict[str, Project] = {}
        self.confirmed: dict[str, bool] = {}
        self.sent: list[tuple[bytes, bool]] = []
        self.delay = 0  # the edit window in minutes (§15)
        self.auto_release = False

    # Model helpers

    def charged(self) -> str:
        """Where a charged order goes: scheduled with an edit window, else production."""
        return S.SCHEDULED if self.delay else S.IN_PRODUCTION

    def cost(self, project: str, quantity: int) -> Decimal:
        unit, shipping = self.prices[project]
        return unit * quantity + shipping

    def reason(self, line: Line) -> str:
        """The one hold-reason rule: price pending, else address incomplete, else payment."""
        if not self.confirmed[line.project]:
            return HoldReason.PRICE_PENDING
        return HoldReason.PAYMENT_REQUIRED if line.complete else HoldReason.ADDRESS_INCOMPLETE

    def ids(self, status: str | None = None) -> list[int]:
        return sorted(pk for pk, line in self.lines.items() if status in (None, line.status))

    def model_release(self, ids: list[int]) -> list[int]:
        """Apply SPEC §7's release to the model; return the ids it charges, oldest first.

        The one queue rule: oldest first, each order the balance covers is charged, one it
        does not cover stays on hold and the release goes on to the next.
        """
        released = []
        for pk in sorted(ids):
            line = self.lines[pk]
            if line.status != S.HOLD or line.test or not line.complete:
                continue
            if not self.confirmed[line.project]:
                continue  # never charged
            cost = self.cost(line.project, line.quantity)
            if can_pay(self.balance, cost):
                self.balance -= cost
                line.status, line.hold_reason, line.cost = self.charged(), "", cost
                released.append(pk)
        return released

    def payable_queue(self) -> list[int]:
        """Return the hold orders a release would consider: real, complete address."""
        return [
            pk
            for pk in self.ids(S.HOLD)
            if not self.lines[pk].test
            and self.lines[pk].complete
            and self.confirmed[self.lines[pk].project]
        ]

    def pick(self, data: st.DataObject, status: str) -> Order:
        pk = data.draw(st.sampled_from(self.ids(status)), label=f"{status} order")
        return Order.objects.get(pk=pk)

    # Rules

    @initialize(
        balance=st.sampled_from(["0.00", "0.30", "11.45", "40.00", "250.00"]),
        auto_release=st.booleans(),
        use_billing=st.booleans(),
    )
    def setup(self, balance: str, auto_release: bool, use_billing: bool) -> None:
        self.publisher = make_publisher(
            balance=balance, auto_release=auto_release, use_billing_address=use_billing
        )
        self.balance = Decimal(balance)
        self.auto_release = auto_release
        for title, (ids, unit, shipping) in PROJECTS.items():
            confirmed = title not in UNCONFIRMED
            self.projects[title] = make_project(
                self.publisher,
                ids,
                title=title,
                unit_cost=unit,
                shipping_cost=shipping,
                prices_confirmed=confirmed,
            )
            self.prices[title] = (Decimal(unit), Decimal(shipping))
            self.confirmed[title] = confirmed

    @rule(
        product=st.sampled_from(["A", "B", "C", "Z", "D", "N"]),
        quantity=st.integers(min_value=1, max_value=4),
        address=st.sampled_from(["complete", "no street", "billing only"]),
        test=st.booleans(),
    )
    def new_order(self, product: str, quantity: int, address: str, test: bool) -> None:
        body = order_body(
            order_id=f"S{next(ORDER_IDS)}",
            product_id=product,
            quantity=quantity,
            address=address == "complete",
            billing=address == "billing only",
            shipping=address != "billing only",
        )
        answer = self.receive(body, test)
        matched = sorted(
            (self.projects[title].pk, title)
            for title, (ids, _, _) in PROJECTS.items()
            if "{" + product + "}" in ids
        )
        if not matched:
            assert (answer.status, answer.outcome) == (200, Outcome.NO_MATCH)
            return
        assert (answer.status, answer.outcome) == (200, Outcome.CREATED), answer.detail
        self.sent.append((body, test))
        complete = address == "complete" or (
            address == "billing only" and self.publisher.use_billing_address
        )
        created = list(Order.objects.filter(notification_id=answer.notification_id).order_by("pk"))
        assert [o.project_id for o in created] == [pk for pk, _ in matched]
        spent = ZERO
        for order, (_, title) in zip(created, matched, strict=True):
            cost = self.cost(title, quantity)
            assert order.cost == cost
            assert order.is_test == test
            if not self.confirmed[title]:
                status, reason = S.HOLD, HoldReason.PRICE_PENDING
            elif not complete:
                status, reason = S.HOLD, HoldReason.ADDRESS_INCOMPLETE
            elif not test and can_pay(self.balance - spent, cost):
                status, reason = self.charged(), ""
                spent += cost
            else:
                status, reason = S.HOLD, HoldReason.PAYMENT_REQUIRED
            rest = address != "billing only" or self.publisher.use_billing_address
            self.lines[order.pk] = Line(title, quantity, complete, rest, test, status, reason, cost)
        self.balance -= spent

    @rule(
        product=st.sampled_from(["A", "B", "C", "Z"]),
        quantity=st.integers(min_value=1, max_value=3),
    )
    def new_deliverable_order(self, product: str, quantity: int) -> None:
        """A second, likelier way in: a matched, complete, real purchase (most of real life)."""
        self.new_order(product=product, quantity=quantity, address="complete", test=False)

    @precondition(lambda self: self.sent)
    @rule(data=st.data())
    def resend(self, data: st.DataObject) -> None:
        body, test = data.draw(st.sampled_from(self.sent), label="resent body")
        answer = self.receive(body, test)
        assert (answer.status, answer.outcome) == (200, Outcome.DUPLICATE), answer.detail

    @rule(amount=deposits)
    def deposit(self, amount: Decimal) -> None:
        _, result = deposit_record(publisher=self.publisher, amount=amount, actor=None)
        self.balance += amount
        if self.publisher.auto_release:
            expected = self.model_release(self.ids(S.HOLD))
            assert result is not None
            assert [o.pk for o in result.released] == expected
        else:
            assert result is None
        assert self.publisher.balance == self.balance

    @rule(amount=adjustments, negative=st.booleans())
    def adjustment(self, amount: Decimal, negative: bool) -> None:
        amount = -amount if negative else amount
        if self.balance + amount < ZERO:
            with pytest.raises(ServiceError, match="negative"):
                adjustment_record(publisher=self.publisher, amount=amount, actor=None, note="")
            return
        adjustment_record(publisher=self.publisher, amount=amount, actor=None, note="")
        self.balance += amount

    @precondition(lambda self: self.balance > ZERO)
    @rule()
    def drain(self) -> None:
        """Spend the balance to exactly zero, so that orders pile up on hold."""
        adjustment_record(publisher=self.publisher, amount=-self.balance, actor=None, note="")
        self.balance = ZERO

    @precondition(lambda self: self.ids(S.HOLD))
    @rule(
        data=st.data(),
        quantity=st.integers(min_value=1, max_value=5),
        street=st.sampled_from([None, "", "9 New Road"]),
    )
    def edit(self, data: st.DataObject, quantity: int, street: str | None) -> None:
        self.edit_order(self.pick(data, S.HOLD), quantity=quantity, street=street)

    def edit_order(self, order: Order, *, quantity: int, street: str | None) -> None:
        """Edit a hold order; one whose address the edit completes is released with
        auto-release on (README: fixing an address releases), by the one queue rule."""
        fields: dict[str, object] = {"quantity": quantity}
        if street is not None:
            fields["ship_street"] = street
        updated = order_update(order=order, actor=None, **fields)
        line = self.lines[order.pk]
        line.quantity = quantity
        if street is not None:
            line.complete = bool(street) and line.rest
        line.cost = self.cost(line.project, quantity)
        before, line.hold_reason = line.hold_reason, self.reason(line)
        fixed = before == HoldReason.ADDRESS_INCOMPLETE != line.hold_reason
        if fixed and line.hold_reason == HoldReason.PAYMENT_REQUIRED and self.auto_release:
            self.model_release([order.pk])
        assert updated.cost == line.cost

    @precondition(
        lambda self: {line.status for line in self.lines.values()} - {S.HOLD, S.SCHEDULED}
    )
    @rule(data=st.data())
    def edit_refused(self, data: st.DataObject) -> None:
        closed = {line.status for line in self.lines.values()} - {S.HOLD, S.SCHEDULED}
        status = data.draw(st.sampled_from(sorted(closed)))
        order = self.pick(data, status)
        with pytest.raises(NotEditable):
            order_update(order=order, actor=None, quantity=order.quantity + 1)
        with pytest.raises(NotEditable):
            order_delete(order=order, actor=None)

    @precondition(lambda self: self.ids(S.HOLD))
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        order = self.pick(data, S.HOLD)
        order_delete(order=order, actor=None)
        line = self.lines[order.pk]
        line.status, line.hold_reason = S.DELETED, ""

    @precondition(lambda self: self.ids(S.HOLD))
    @rule(data=st.data())
    def release_some(self, data: st.DataObject) -> None:
        chosen = data.draw(st.lists(st.sampled_from(self.ids()), unique=True), label="release")
        result = orders_release(publisher=self.publisher, order_ids=chosen, actor=None)
        assert [o.pk for o in result.released] == self.model_release(chosen)
        assert result.balance == self.balance
        self.sync_hold_reasons(chosen)

    @precondition(lambda self: self.ids(S.HOLD))
    @rule()
    def release_all(self) -> None:
        chosen = self.ids(S.HOLD)
        result = orders_release_all(publisher=self.publisher, actor=None)
        assert [o.pk for o in result.released] == self.model_release(chosen)
        assert result.balance == self.balance

    @precondition(lambda self: self.payable_queue())
    @rule(extra=dollars(0, 2000), everything=st.booleans(), data=st.data())
    def top_up_and_release(self, extra: Decimal, everything: bool, data: st.DataObject) -> None:
        """Deposit what the oldest waiting order lacks (and some), then release (real life)."""
        oldest = self.lines[self.payable_queue()[0]]
        lacking = max(self.cost(oldest.project, oldest.quantity) - self.balance, ZERO)
        self.deposit(amount=max(lacking + extra, CENT))
        if not self.ids(S.HOLD):
            return
        if everything:
            self.release_all()
        else:
            self.release_some(data=data)

    @rule(minutes=st.sampled_from([0, 30, 4320]))
    def set_window(self, minutes: int) -> None:
        """The publisher sets its edit window; later charges follow it (§15)."""
        publisher_settings_set(publisher=self.publisher, production_delay_minutes=minutes)
        self.delay = minutes

    @precondition(lambda self: self.ids(S.SCHEDULED))
    @rule(data=st.data(), street=st.sampled_from(["", "9 New Road"]), quantity=st.booleans())
    def edit_scheduled(self, data: st.DataObject, street: str, quantity: bool) -> None:
        """A scheduled order takes a new complete address, never an empty one or a quantity."""
        order = self.pick(data, S.SCHEDULED)
        fields: dict[str, object] = {"ship_street": street}
        if quantity:
            fields["quantity"] = order.quantity + 1
        if street and not quantity:
            order_update(order=order, actor=None, **fields)
            return
        with pytest.raises(ValidationError):
            order_update(order=order, actor=None, **fields)

    @precondition(lambda self: self.ids(S.SCHEDULED))
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        """Cancel a scheduled order: its cost comes back (§15); a second cancel is refused."""
        order = self.pick(data, S.SCHEDULED)
        order_cancel(order=order, actor=None)
        with pytest.raises(NotEditable):
            order_cancel(order=order, actor=None)
        line = self.lines[order.pk]
        line.status = S.DELETED
        self.balance += line.cost

    @precondition(lambda self: self.ids(S.SCHEDULED))
    @rule()
    def windows_end(self) -> None:
        """Every window ends: scheduled orders go to production, once."""
        later = timezone.now() + timedelta(minutes=4321)
        mine = self.ids(S.SCHEDULED)  # examples share the database: this publisher's orders
        assert orders_start_production(order_ids=mine, now=later) == len(mine)
        assert orders_start_production(order_ids=mine, now=later) == 0
        for pk in self.ids(S.SCHEDULED):
            self.lines[pk].status = S.IN_PRODUCTION

    @precondition(lambda self: self.ids(S.IN_PRODUCTION))
    @rule(data=st.data(), tracking=st.sampled_from(["", "1Z999"]))
    def ship(self, data: st.DataObject, tracking: str) -> None:
        order = self.pick(data, S.IN_PRODUCTION)
        order_ship(order=order, actor=None, tracking_number=tracking)
        self.lines[order.pk].status = S.SHIPPED

    @rule(title=st.sampled_from(sorted(PROJECTS)), unit=unit_prices)
    def change_price(self, title: str, unit: Decimal) -> None:
        project_update(project=self.projects[title], unit_cost=unit)
        self.prices[title] = (unit, self.prices[title][1])
        self.reprice(title)

    @precondition(lambda self: not all(self.confirmed.values()))
    @rule(unit=dollars(1, 1500))
    def confirm_prices(self, unit: Decimal) -> None:
        """TrepStar staff set and confirm the draft's prices: its hold orders follow (§7)."""
        project = self.projects["Draft"]
        shipping = self.prices["Draft"][1]
        change = project_prices_set(
            project=project, unit_cost=unit, shipping_cost=shipping, actor=None
        )
        self.prices["Draft"] = (unit, shipping)
        self.confirmed["Draft"] = True
        self.reprice("Draft")
        if self.publisher.auto_release:
            expected = self.model_release(self.ids(S.HOLD))
            assert change.released is not None
            assert [o.pk for o in change.released.released] == expected
            assert change.released.balance == self.balance

    # Helpers calling the product

    def receive(self, body: bytes, test: bool):
        return notification_receive(
            Incoming(
                idpub=self.publisher.idpub,
                key=self.publisher.notify_key,
                is_test=test,
                body=body,
                body_size=len(body),
                content_type="application/json",
                remote_addr="198.51.100.1",
            )
        )

    def sync_hold_reasons(self, ids: list[int]) -> None:
        for pk in ids:
            line = self.lines[pk]
            if line.status == S.HOLD:
                line.hold_reason = self.reason(line)

    def reprice(self, title: str) -> None:
        """A hold order's cost (and reason) follows its project's prices (§7)."""
        for line in self.lines.values():
            if line.project == title and line.status == S.HOLD:
                line.cost = self.cost(title, line.quantity)
                line.hold_reason = self.reason(line)

    # After every step

    @invariant()
    def money_invariants_hold(self) -> None:
        if self.publisher is None:
            return
        fresh = assert_money_invariants(self.publisher)
        assert fresh.balance == self.balance
        stored = {
            o.pk: (o.status, o.hold_reason, o.is_test, o.quantity, o.cost)
            for o in Order.objects.filter(publisher=self.publisher)
        }
        expected = {
            pk: (ln.status, ln.hold_reason, ln.test, ln.quantity, ln.cost)
            for pk, ln in self.lines.items()
        }
        assert stored == expected


@pytest.mark.django_db
def test_money_rules_hold_for_any_sequence_of_operations():
    run_state_machine_as_test(
        MoneyMachine,
        settings=settings(
            max_examples=60,
            stateful_step_count=50,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )


@pytest.mark.django_db
def test_fixing_the_street_of_an_address_incomplete_order_releases_it_with_auto_release():
    """Issue 17.13's failing sequence, kept as a regression example: a hold order loses its
    street, a deposit cannot release it, the street comes back with auto-release on. The app
    releases and charges it (README); the model of an edit used to leave it on hold, so the
    stored balance and the model's parted ($14.07 vs $36.82)."""
    machine = MoneyMachine()
    machine.setup(balance="0.00", auto_release=True, use_billing=False)
    machine.new_order(product="B", quantity=2, address="complete", test=False)
    _workbook, bundle = machine.ids(S.HOLD)
    assert machine.lines[bundle].hold_reason == HoldReason.PAYMENT_REQUIRED
    machine.edit_order(Order.objects.get(pk=bundle), quantity=2, street="")
    machine.money_invariants_hold()
    machine.deposit(amount=Decimal("35.54"))  # releases the workbook, not the bundle
    machine.money_invariants_hold()
    assert machine.ids(S.HOLD) == [bundle]
    machine.edit_order(Order.objects.get(pk=bundle), quantity=2, street="9 New Road")
    machine.money_invariants_hold()
    assert machine.ids(S.HOLD) == []
    assert Order.objects.get(pk=bundle).status == S.IN_PRODUCTION
    machine.teardown()
