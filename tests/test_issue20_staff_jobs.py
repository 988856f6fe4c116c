"""Issue 20, point 3: a "TrepStar staff" group member (not a superuser) does every staff job
the docs list, through the admin over real HTTP (Django's test client, real database).

Before, a group member could not unlock a locked-out login's Axes row (view-only), got 403 on
*Auth Token* (no API token for integrators) and on *Task results* (the permission named the
wrong app label). `test_every_staff_job_in_the_docs_is_tested_here` reads docs/operator.md's
staff job list, so a job added there without a test here fails.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from rest_framework.authtoken.models import Token

from fulfillment.models import (
    Alert,
    AlertKind,
    Order,
    OrderStatus,
    Project,
    Publisher,
    RunKind,
    RunStatus,
    SamcartCheckRun,
)
from fulfillment.tasks import prune_old_rows
from tests.admin_world import PASSWORD
from tests.staff_forms import main_form

pytestmark = pytest.mark.django_db

OPERATOR_DOCS = Path(__file__).resolve().parent.parent / "docs" / "operator.md"
STAFF_SECTION = "## Daily work in the admin (TrepStar staff)"


@pytest.fixture
def staff(world) -> Client:
    """The world's staff login: in the "TrepStar staff" group, not a superuser."""
    assert not world.staff.is_superuser
    assert world.staff.groups.filter(name="TrepStar staff").exists()
    client = Client()
    client.force_login(world.staff)
    return client


def submit(client: Client, url: str, **changes: str):
    """GET the page's main form, change some fields, POST it as a browser would."""
    page = client.get(url)
    assert page.status_code == 200, url
    data = main_form(page.content.decode())
    data.update({name: [value] for name, value in changes.items()})
    return client.post(url, data)


def admin_login(username: str, password: str) -> int:
    """Log in through the admin login page; 302 means logged in."""
    return (
        Client()
        .post("/admin/login/?next=/admin/", {"username": username, "password": password})
        .status_code
    )


# One test per job ---------------------------------------------------------------------------


def test_publishers_staff_create_a_publisher_and_give_a_person_a_login(staff):
    answer = submit(staff, "/admin/fulfillment/publisher/add/", name="Cobalt Press", email="c@x.io")
    assert answer.status_code == 302
    publisher = Publisher.objects.get(name="Cobalt Press")
    answer = staff.post(
        f"/admin/fulfillment/publisher/{publisher.pk}/login/",
        {
            "username": "cobalt",
            "role": "manager",
            "password1": PASSWORD + "Z",
            "password2": PASSWORD + "Z",
        },
    )
    assert answer.status_code == 302
    assert publisher.users.filter(username="cobalt").exists()


def test_deposits_staff_record_a_deposit(world, staff):
    before = Publisher.objects.get(pk=world.a.pk).balance
    url = f"/admin/fulfillment/publisher/{world.a.pk}/balance/"
    answer = submit(staff, url, kind="deposit", amount="40.00", note="Wire 7")
    assert answer.status_code == 302
    assert Publisher.objects.get(pk=world.a.pk).balance == before + Decimal("40.00")


def test_prices_staff_set_and_confirm_a_projects_prices(world, staff):
    Project.objects.filter(pk=world.a_project.pk).update(prices_confirmed=False)
    url = f"/admin/fulfillment/project/{world.a_project.pk}/change/"
    answer = submit(staff, url, unit_cost="7.25", shipping_cost="3.10", prices_confirmed="on")
    assert answer.status_code == 302
    project = Project.objects.get(pk=world.a_project.pk)
    assert (project.unit_cost, project.prices_confirmed) == (Decimal("7.25"), True)


def test_shipping_staff_mark_an_order_shipped_with_its_tracking_number(world, staff):
    order = world.b_production
    staff.post(
        "/admin/fulfillment/order/",
        {"action": "ship_orders", "_selected_action": [order.pk], "index": 0},
    )
    answer = staff.post(
        "/admin/fulfillment/order/ship/", {"order": [order.pk], f"tracking_{order.pk}": "1Z77"}
    )
    assert answer.status_code == 302
    order = Order.objects.get(pk=order.pk)
    assert (order.status, order.tracking_number) == (OrderStatus.SHIPPED, "1Z77")


def test_grouping_staff_set_a_publishers_grouping_minutes(world, staff):
    url = f"/admin/fulfillment/publisher/{world.a.pk}/change/"
    assert submit(staff, url, grouping_minutes="25").status_code == 302
    assert Publisher.objects.get(pk=world.a.pk).grouping_minutes == 25


def test_failed_alerts_staff_list_them_and_send_one_again(world, staff):
    alert = Alert.objects.create(
        publisher=world.a,
        kind=AlertKind.LOW_BALANCE,
        cause="below:test",
        recipients="alpha@example.com",
        subject="Balance low",
        body_text="x",
        body_html="x",
        failed_at=timezone.now(),
        last_error="SMTP down",
    )
    listing = staff.get("/admin/fulfillment/alert/", {"delivery": "failed"})
    assert listing.status_code == 200 and "Balance low" in listing.content.decode()
    staff.post("/admin/fulfillment/alert/", {"action": "resend", "_selected_action": [alert.pk]})
    assert Alert.objects.get(pk=alert.pk).failed_at is None


def test_samcart_checks_staff_see_every_publishers_runs(world, staff):
    now = timezone.now()
    run = SamcartCheckRun.objects.create(
        publisher=world.b,
        kind=RunKind.MANUAL,
        status=RunStatus.FAILED,
        window_start=now,
        window_end=now,
        error="Key refused by SamCart",
    )
    listing = staff.get("/admin/fulfillment/samcartcheckrun/")
    assert listing.status_code == 200 and "Beta Secret Press" in listing.content.decode()
    page = staff.get(f"/admin/fulfillment/samcartcheckrun/{run.pk}/change/")
    assert page.status_code == 200 and "Key refused by SamCart" in page.content.decode()


def test_locked_logins_staff_unlock_a_locked_out_login(world, staff):
    for _ in range(5):
        admin_login("alpha-user", "wrong-password")
    assert admin_login("alpha-user", PASSWORD) != 302  # locked out
    [attempt] = AccessAttempt.objects.filter(username="alpha-user")

    listing = staff.get("/admin/axes/accessattempt/", {"locked_out": "yes"})
    assert listing.status_code == 200 and "alpha-user" in listing.content.decode()
    answer = staff.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"},
    )
    assert answer.status_code == 302
    assert not AccessAttempt.objects.exists()
    assert admin_login("alpha-user", PASSWORD) == 302


def test_api_tokens_staff_make_a_token_that_works(world, staff):
    answer = submit(staff, "/admin/authtoken/tokenproxy/add/", user=str(world.a_user.pk))
    assert answer.status_code == 302
    token = Token.objects.get(user=world.a_user)
    api = Client().get("/api/v1/orders/", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert api.status_code == 200
    assert staff.get("/admin/authtoken/tokenproxy/").status_code == 200


def test_task_results_staff_see_the_workers_task_runs(staff):
    result = prune_old_rows.enqueue()
    listing = staff.get("/admin/django_tasks_database/dbtaskresult/")
    assert listing.status_code == 200 and "prune_old_rows" in listing.content.decode()
    page = staff.get(f"/admin/django_tasks_database/dbtaskresult/{result.id}/change/")
    assert page.status_code == 200
    assert DBTaskResult.objects.filter(id=result.id).exists()


def test_staff_still_cannot_edit_logins_or_make_superusers(world, staff):
    # The staff group runs the app, not Django's user admin (no way to make oneself superuser).
    assert staff.get("/admin/auth/user/").status_code == 403
    assert staff.post(f"/admin/auth/user/{world.staff.pk}/change/", {}).status_code == 403


# The docs' list, walked ---------------------------------------------------------------------

# Each job named in bold in docs/operator.md's staff list -> the test above that does it.
JOBS = {
    "Publishers": test_publishers_staff_create_a_publisher_and_give_a_person_a_login,
    "Deposits": test_deposits_staff_record_a_deposit,
    "Prices": test_prices_staff_set_and_confirm_a_projects_prices,
    "Shipping": test_shipping_staff_mark_an_order_shipped_with_its_tracking_number,
    "Grouping": test_grouping_staff_set_a_publishers_grouping_minutes,
    "Failed alerts": test_failed_alerts_staff_list_them_and_send_one_again,
    "SamCart checks": test_samcart_checks_staff_see_every_publishers_runs,
    "Locked logins": test_locked_logins_staff_unlock_a_locked_out_login,
    "API tokens": test_api_tokens_staff_make_a_token_that_works,
    "Task results": test_task_results_staff_see_the_workers_task_runs,
}


def staff_jobs_in_docs() -> list[str]:
    """Return the bold job names of docs/operator.md's staff list, in order."""
    text = OPERATOR_DOCS.read_text()
    section = text.split(STAFF_SECTION, 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^- \*\*(.+?)\*\*", section, flags=re.MULTILINE)


def test_every_staff_job_in_the_docs_is_tested_here(world, staff):
    jobs = staff_jobs_in_docs()
    assert jobs, "docs/operator.md lists no staff job"
    assert set(jobs) == set(JOBS), "docs/operator.md and this module name different jobs"
    # And the pages of the admin index a staff member needs are all there for the member.
    index = staff.get("/admin/").content.decode()
    for link in (
        "/admin/fulfillment/publisher/",
        "/admin/fulfillment/order/",
        "/admin/fulfillment/alert/",
        "/admin/fulfillment/samcartcheckrun/",
        "/admin/axes/accessattempt/",
        "/admin/authtoken/tokenproxy/",
        "/admin/django_tasks_database/dbtaskresult/",
    ):
        assert f'href="{link}"' in index, link


def test_staff_cannot_make_or_see_a_superusers_token(world, staff):
    from django.contrib.auth import get_user_model

    boss = get_user_model().objects.create_superuser("boss", "boss@x.io", "Boss-Pass-5531")
    Token.objects.create(user=boss)
    page = staff.get("/admin/authtoken/tokenproxy/add/").content.decode()
    assert ">boss<" not in page and ">alpha-user<" in page
    answer = staff.post("/admin/authtoken/tokenproxy/add/", {"user": boss.pk})
    assert answer.status_code == 200  # "Select a valid choice"
    assert "boss" not in staff.get("/admin/authtoken/tokenproxy/").content.decode()
    assert staff.get(f"/admin/authtoken/tokenproxy/{boss.pk}/change/").status_code == 302
    assert Token.objects.filter(user=boss).count() == 1
