"""Issue 20, point 21: monthly statements that tie to the ledger.

The service is checked over random ledgers (hypothesis: random kinds, amounts, moments and
time zones); the page, its CSV and the API through real requests, scoped per publisher.
"""

from __future__ import annotations

import csv
import io
import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from fulfillment.models import HoldReason, LedgerEntry, LedgerKind, Order, OrderStatus, Publisher
from fulfillment.services.ledger import ledger_record
from fulfillment.services.statements import (
    MonthError,
    month_next,
    month_parse,
    month_previous,
    statement_build,
    statement_months,
)
from tests.admin_world import PASSWORD, build_world
from tests.factories import make_publisher, make_publisher_user

pytestmark = pytest.mark.django_db

STATEMENT = reverse("admin:fulfillment_ledgerentry_statement")
ZONES = ("UTC", "America/New_York", "Asia/Tokyo", "Pacific/Kiritimati", "America/Adak")
YEAR_START = datetime(2025, 11, 1, tzinfo=UTC)
SPAN_MINUTES = 400 * 24 * 60  # entries over about 13 months, up to early December 2026


def an_order(publisher: Publisher) -> Order:
    """Return a bare box of `publisher` that charges and refunds can name."""
    return Order.objects.create(
        publisher=publisher,
        external_order_id=f"st-{publisher.pk}",
        status=OrderStatus.HOLD,
        hold_reason=HoldReason.PAYMENT_REQUIRED,
    )


def write_ledger(publisher: Publisher, moves: list[tuple[int, str, int]]) -> None:
    """Record `moves` (minutes after YEAR_START, kind, cents) in time order, keeping the
    balance at or above zero as the services do, then date each entry."""
    order = an_order(publisher)
    balance = 0
    for minutes, kind, cents in sorted(moves):
        if kind == LedgerKind.DEPOSIT:
            amount = cents + 1
        elif kind == LedgerKind.REFUND:
            amount = cents
        elif kind == LedgerKind.CHARGE:
            amount = -min(cents, balance)
        else:  # an adjustment, either way
            amount = cents - min(2 * cents, balance + cents)
        balance += amount
        entry = ledger_record(
            publisher_id=publisher.pk,
            amount=Decimal(amount) / 100,
            kind=kind,
            order=order if kind in (LedgerKind.CHARGE, LedgerKind.REFUND) else None,
        )
        moment = YEAR_START + timedelta(minutes=minutes)
        LedgerEntry.objects.filter(pk=entry.pk).update(created_at=moment)


MOVES = st.lists(
    st.tuples(
        st.integers(0, SPAN_MINUTES),
        st.sampled_from(LedgerKind.values),
        st.integers(0, 50_000),
    ),
    max_size=25,
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(moves=MOVES, zone=st.sampled_from(ZONES))
def test_statements_tie_to_the_ledger_over_random_ledgers(moves, zone):
    publisher = make_publisher(time_zone=zone)
    write_ledger(publisher, moves)
    publisher.refresh_from_db()
    months = statement_months(publisher)[::-1]  # oldest first
    statements = [statement_build(publisher=publisher, month=m) for m in months]
    assert statements[0].opening == 0
    for statement in statements:
        running = statement.opening
        for line in statement.lines:
            running += line.amount
            assert line.balance_after == running
        assert statement.opening + sum(line.amount for line in statement.lines) == (
            statement.closing
        )
        assert statement.closing == statement.opening + sum(total for _, total in statement.totals)
    for earlier, later in itertools.pairwise(statements):
        assert earlier.closing == later.opening
        assert month_next(earlier.month) == later.month
    assert statements[-1].closing == publisher.balance
    listed = [line.entry_id for s in statements for line in s.lines]
    assert sorted(listed) == sorted(
        LedgerEntry.objects.filter(publisher=publisher).values_list("pk", flat=True)
    )


def test_month_boundaries_follow_the_publisher_s_time_zone():
    publisher = make_publisher(time_zone="America/New_York")
    entry = ledger_record(publisher_id=publisher.pk, amount=Decimal("9.00"), kind="deposit")
    LedgerEntry.objects.filter(pk=entry.pk).update(
        created_at=datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    )
    november = statement_build(publisher=publisher, month=date(2026, 11, 1))
    december = statement_build(publisher=publisher, month=date(2026, 12, 1))
    assert [line.entry_id for line in november.lines] == [entry.pk]
    assert november.closing == december.opening == Decimal("9.00")
    assert december.lines == ()
    publisher.time_zone = "UTC"
    december = statement_build(publisher=publisher, month=date(2026, 12, 1))
    assert [line.entry_id for line in december.lines] == [entry.pk]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2026",
        "2026-13",
        "2026-00",
        "26-11",
        "2026-1",
        "1999-12",
        "２０２６-11",
        "2026-11\n",
        None,
    ],
)
def test_a_bad_month_is_refused(text):
    with pytest.raises(MonthError):
        month_parse(text)


def test_months_step():
    assert month_parse("2026-11") == date(2026, 11, 1)
    assert month_next(date(2026, 12, 1)) == date(2027, 1, 1)
    assert month_previous(date(2026, 1, 1)) == date(2025, 12, 1)


def logged_in(user: object) -> Client:
    """Return a client logged in as `user`."""
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def world():
    """Publishers A and B of admin_world; A in New York with a November and a December."""
    built = build_world()
    built.a.time_zone = "America/New_York"
    built.a.save(update_fields=["time_zone"])
    november = ledger_record(
        publisher_id=built.a.pk, amount=Decimal("20.00"), kind="deposit", note="=SUM(A1)"
    )
    LedgerEntry.objects.filter(pk=november.pk).update(
        created_at=datetime(2026, 12, 1, 3, 0, tzinfo=UTC)  # November in New York
    )
    LedgerEntry.objects.filter(publisher=built.a).exclude(pk=november.pk).update(
        created_at=datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    )
    built.november = november
    return built


def test_the_statement_page_shows_the_month_scoped_to_the_publisher(world):
    client = logged_in(world.a_user)
    page = client.get(f"{STATEMENT}?month=2026-11")
    assert page.status_code == 200
    text = page.content.decode()
    assert "statement of November 2026" in text
    assert "2026-11-30 22:00 EST" in text  # 03:00 UTC on Dec 1 is still November there
    assert text.count('class="ts-line"') == 1
    assert "$20.00" in text
    december = client.get(f"{STATEMENT}?month=2026-12").context["statement"]
    assert december.opening == Decimal("20.00")
    assert december.closing == Publisher.objects.get(pk=world.a.pk).balance
    for url in (STATEMENT, f"{STATEMENT}?month=2026-11", f"{STATEMENT}?month=2026-11&print=1"):
        body = client.get(url).content.decode()
        assert not [s for s in world.b_secrets if s in body], url


def test_another_publisher_s_statement_answers_404(world):
    client = logged_in(world.a_user)
    assert client.get(f"{STATEMENT}?publisher={world.b.pk}&month=2026-11").status_code == 404
    assert client.get(f"{STATEMENT}?publisher={world.b.pk}&format=csv").status_code == 404


@pytest.mark.parametrize(
    "query", ["month=2026-13", "month=nonsense", "month=2026-11%0A", "publisher=abc", "publisher=²"]
)
def test_bad_parameters_answer_400(world, query):
    page = logged_in(world.a_user).get(f"{STATEMENT}?{query}")
    assert page.status_code == 400
    assert 'id="statement-error"' in page.content.decode()


def test_staff_pick_a_publisher(world):
    client = logged_in(world.staff)
    picker = client.get(STATEMENT)
    assert picker.status_code == 200
    assert world.b.name in picker.content.decode()
    assert picker.context.get("statement") is None
    page = client.get(f"{STATEMENT}?publisher={world.b.pk}")
    assert page.context["statement"].publisher == world.b
    assert page.context["statement"].closing == world.b.balance


def test_a_viewer_may_see_statements_and_a_login_without_ledger_view_may_not(world):
    viewer = make_publisher_user(world.a, "alpha-viewer", PASSWORD, role="viewer")
    assert logged_in(viewer).get(f"{STATEMENT}?month=2026-11").status_code == 200
    no_rights = User.objects.create_user("no-rights", password=PASSWORD, is_staff=True)
    world.a.users.add(no_rights)
    assert logged_in(no_rights).get(STATEMENT).status_code == 403


def test_the_statement_csv_ties_to_the_page(world):
    response = logged_in(world.a_user).get(f"{STATEMENT}?month=2026-11&format=csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    body = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [r["kind"] for r in rows] == ["opening balance", "deposit", "closing balance"]
    assert rows[0]["balance"] == "0.00"
    assert rows[1]["amount"] == rows[1]["balance"] == "20.00"
    assert rows[1]["note"] == "'=SUM(A1)"  # escaped for spreadsheets
    assert rows[1]["date"] == "2026-11-30T22:00:00-05:00"
    assert rows[-1]["balance"] == "20.00"


def test_the_printable_page_has_no_admin_chrome(world):
    page = logged_in(world.a_user).get(f"{STATEMENT}?month=2026-11&print=1")
    text = page.content.decode()
    assert page.status_code == 200
    assert 'id="statement-table"' in text
    assert 'id="header"' not in text and "Log out" not in text
    screen = logged_in(world.a_user).get(f"{STATEMENT}?month=2026-11").content.decode()
    assert "@media print" in screen and "#header" in screen


def test_statements_are_linked_from_the_ledger_account_and_publisher_pages(world):
    client = logged_in(world.a_user)
    ledger = client.get(reverse("admin:fulfillment_ledgerentry_changelist")).content.decode()
    assert 'id="statement-link"' in ledger
    assert f"{STATEMENT}?publisher={world.a.pk}" in client.get(reverse("account")).content.decode()
    staff = logged_in(world.staff)
    page = staff.get(reverse("admin:fulfillment_publisher_change", args=[world.b.pk]))
    assert f"{STATEMENT}?publisher={world.b.pk}" in page.content.decode()


def api_for(user: object) -> APIClient:
    """Return an API client with a token of `user`."""
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return api


def test_the_api_statement_matches_the_service(world):
    viewer = make_publisher_user(world.a, "alpha-viewer", PASSWORD, role="viewer")
    api = api_for(viewer)
    body = api.get("/api/v1/statements/2026-11/").json()
    assert body["month"] == "2026-11"
    assert body["time_zone"] == "America/New_York"
    assert (body["opening"], body["closing"]) == ("0.00", "20.00")
    assert body["totals"]["deposit"] == "20.00"
    (line,) = body["lines"]
    assert line["entry_id"] == world.november.pk
    assert line["created_at"] == "2026-11-30T22:00:00-05:00"
    december = api.get("/api/v1/statements/2026-12/").json()
    assert december["opening"] == "20.00"
    assert Decimal(december["closing"]) == Publisher.objects.get(pk=world.a.pk).balance


def test_the_api_statement_is_scoped_and_checks_its_parameters(world):
    api = api_for(world.a_user)
    assert api.get(f"/api/v1/statements/2026-11/?publisher={world.b.pk}").status_code == 404
    assert api.get("/api/v1/statements/2026-13/").status_code == 400
    assert api.get("/api/v1/statements/2026-11/?publisher=x").status_code == 400
    staff = api_for(world.staff)
    assert staff.get("/api/v1/statements/2026-11/").status_code == 400  # which publisher?
    body = staff.get(f"/api/v1/statements/2026-11/?publisher={world.b.pk}").json()
    assert body["publisher"] == world.b.pk
    no_rights = User.objects.create_user("no-rights", password=PASSWORD, is_staff=True)
    world.a.users.add(no_rights)
    assert api_for(no_rights).get("/api/v1/statements/2026-11/").status_code == 403
