"""SPEC §17 in the admin and the API: the key on the publisher page and nowhere to be read,
orders the SamCart check found, the runs (staff see all, publishers their own, nobody edits
them), `found_by` in the API.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from fulfillment.admin.order_found import FOUND_BY_NOTIFY
from fulfillment.admin.publisher_samcart import ERROR_KEY_AND_REMOVE, NO_KEY, NO_RUN
from fulfillment.models import (
    FoundBy,
    HoldReason,
    LedgerKind,
    Order,
    OrderStatus,
    Publisher,
    RunStatus,
    SamcartCheckRun,
)
from fulfillment.services.ledger import ledger_record
from fulfillment.services.messages import HELD_REVIEW
from fulfillment.services.samcart_keys import (
    ERROR_KEY_FORMAT,
    publisher_samcart_key,
    publisher_set_samcart_key,
)
from tests.admin_world import release_all
from tests.factories import make_publisher_user
from tests.test_issue9_crawl import INTERNAL, NONE, visible_text
from tests.test_samcart_check_pages import (
    KEY,
    KEY_URL,
    LAST4,
    OTHER_KEY,
    finding,
    make_run,
    viewer_client,
)

pytestmark = pytest.mark.django_db

RUNS = "admin:fulfillment_samcartcheckrun_changelist"
ORDERS = "admin:fulfillment_order_changelist"
STARTED = datetime(2026, 11, 3, 8, 5, tzinfo=UTC)


@pytest.fixture
def staff_client(world) -> Client:
    client = Client()
    client.force_login(world.staff)
    return client


def found_by_check(order: Order, run: SamcartCheckRun) -> Order:
    """Make `order` one the SamCart check found: on hold `review`, linked to `run`."""
    Order.objects.filter(pk=order.pk).update(
        found_by=FoundBy.SAMCART_CHECK,
        found_by_run=run,
        status=OrderStatus.HOLD,
        hold_reason=HoldReason.REVIEW,
    )
    return Order.objects.get(pk=order.pk)


def started_on(run: SamcartCheckRun, moment: datetime = STARTED) -> SamcartCheckRun:
    SamcartCheckRun.objects.filter(pk=run.pk).update(started_at=moment)
    run.refresh_from_db()
    return run


def listed(client: Client, name: str, **query) -> list:
    response = client.get(reverse(name), query)
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


# The key, nowhere to be read.


def _pages(world, run, order) -> list[str]:
    """Every page and API answer that shows the publisher, its orders or its runs."""
    a = world.a.pk
    return [
        f"/account/?publisher={world.a.idpub}",
        "/admin/",
        "/admin/fulfillment/publisher/",
        f"/admin/fulfillment/publisher/{a}/change/",
        f"/admin/fulfillment/publisher/{a}/history/",
        "/admin/fulfillment/order/",
        f"/admin/fulfillment/order/{order.pk}/change/",
        "/admin/fulfillment/samcartcheckrun/",
        f"/admin/fulfillment/samcartcheckrun/{run.pk}/change/",
        "/api/v1/",
        "/api/v1/orders/",
        f"/api/v1/orders/{order.pk}/",
        "/api/v1/projects/",
        "/api/v1/notifications/",
        "/api/schema/",
    ]


def test_the_key_never_appears_in_a_page_a_log_or_the_api(world, a_client, caplog):
    caplog.set_level(logging.DEBUG)
    staff = Client()
    staff.force_login(world.staff)
    a_client.post(KEY_URL, {"samcart_api_key": KEY})
    # Staff replace it on the publisher's admin page, then the manager sets it again.
    url = reverse("admin:fulfillment_publisher_change", args=[world.a.pk])
    form = {"name": world.a.name, "email": world.a.email, "production_delay_minutes": "0"}
    assert staff.post(url, {**form, "new_samcart_api_key": OTHER_KEY}).status_code == 302
    a_client.post(KEY_URL, {"samcart_api_key": KEY})
    token = Publisher.objects.get(pk=world.a.pk).samcart_api_key
    run = make_run(world.a, findings=[finding("created", 4242, orders=[world.a_hold.pk])])
    viewer = viewer_client(world)
    for who, client in (("manager", a_client), ("viewer", viewer), ("staff", staff)):
        for page in _pages(world, run, world.a_hold):
            response = client.get(page)
            assert response.status_code in (200, 403), (who, page, response.status_code)
            body = response.content.decode()
            for secret in (KEY, OTHER_KEY, token, token[:40]):
                assert secret not in body, (who, page)
            if who == "viewer":
                assert LAST4 not in body, page
    for secret in (KEY, OTHER_KEY, token):
        assert secret not in caplog.text
        assert all(secret not in repr(record.args) for record in caplog.records)
    assert "SamCart API key of publisher" in caplog.text  # the change itself is logged


# The order page and list.


def test_the_order_page_says_the_check_found_it_and_explains_review(world, a_client):
    run = started_on(make_run(world.a, missing=1, created=1))
    order = found_by_check(world.a_hold, run)
    content = a_client.get(reverse("admin:fulfillment_order_change", args=[order.pk])).content
    content = content.decode()
    run_url = reverse("admin:fulfillment_samcartcheckrun_change", args=[run.pk])
    expected = f"Found by the SamCart check on 2026-11-03 08:05 UTC (run {run.pk})"
    assert f'<a href="{run_url}">{expected}</a>' in content
    assert "on hold — review: found by the SamCart check" in content
    assert HELD_REVIEW.replace("'", "&#x27;") in content
    assert "Release this order" in content

    other = a_client.get(reverse("admin:fulfillment_order_change", args=[world.b_hold.pk]))
    assert other.status_code == 404  # B's order, as ever
    staff = Client()
    staff.force_login(world.staff)
    content = staff.get(reverse("admin:fulfillment_order_change", args=[world.b_hold.pk]))
    content = content.content.decode()
    assert FOUND_BY_NOTIFY in content and HELD_REVIEW not in content


def test_releasing_a_review_order_from_its_page_confirms_it(world, a_client):
    order = found_by_check(world.a_hold, make_run(world.a))
    ledger_record(publisher_id=world.a.pk, amount=Decimal("20.00"), kind=LedgerKind.DEPOSIT)
    release_all(a_client)  # release all leaves it for a person
    assert Order.objects.get(pk=order.pk).status == OrderStatus.HOLD
    response = a_client.post(
        reverse(ORDERS),
        {
            "action": "release_orders",
            "_selected_action": [order.pk],
            "index": 0,
            "confirmed": "yes",
        },
        follow=True,
    )
    assert Order.objects.get(pk=order.pk).status == OrderStatus.IN_PRODUCTION
    assert any("Released 1 order" in str(m) for m in get_messages(response.wsgi_request))


def test_the_order_list_filters_by_found_by_and_offers_review(world, a_client):
    order = found_by_check(world.a_hold, make_run(world.a))
    content = a_client.get(reverse(ORDERS)).content.decode()
    assert "By found by" in content
    assert "?found_by__exact=notify" in content and ">Notify URL</a>" in content
    assert "?found_by__exact=samcart_check" in content and ">SamCart check</a>" in content
    assert "?hold_reason__exact=review" in content
    assert "review: found by the SamCart check</a>" in content
    assert listed(a_client, ORDERS, found_by__exact="samcart_check") == [order]
    assert order not in listed(a_client, ORDERS, found_by__exact="notify")
    assert listed(a_client, ORDERS, hold_reason__exact="review") == [order]
    response = a_client.get(reverse(ORDERS), {"found_by__exact": "\x00<zz>"})
    assert response.status_code in (302, 400)  # "?e=1" or the project's 400, never a 500


# The runs.


def test_staff_see_every_publishers_runs_and_filter_them(world, staff_client):
    a_run = make_run(world.a, lines_counted=7, missing=1, created=1, error="")
    b_run = make_run(world.b, RunStatus.FAILED, error="SamCart answered 504 five times")
    assert set(listed(staff_client, RUNS)) == {a_run, b_run}
    assert listed(staff_client, RUNS, status__exact="failed") == [b_run]
    content = staff_client.get(reverse(RUNS)).content.decode()
    columns = ["Started", "Publisher", "Kind", "Status", "Window", "Lines compared", "Missing"]
    for column in [*columns, "Orders created", "Error"]:
        assert f">{column}</a></div>" in content or f"<span>{column}</span>" in content, column
    assert "Beta Secret Press" in content and "SamCart answered 504 five times" in content
    assert "By publisher" in content and "By status" in content


def test_a_run_page_lists_its_findings_with_links_to_orders(world, staff_client):
    lines = [
        finding("created", 51001, quantity=2, orders=[world.a_hold.pk]),
        finding("missing", 51002, 294010),
        finding("refunded", 51003, item_status="refunded"),
        finding("quantity", 51004, quantity=3),
    ]
    run = make_run(world.a, findings=[*lines, "junk", {"orders": "x"}])
    url = reverse("admin:fulfillment_samcartcheckrun_change", args=[run.pk])
    content = staff_client.get(url).content.decode()
    order_url = reverse("admin:fulfillment_order_change", args=[world.a_hold.pk])
    assert f'<td>51001</td><td>279813</td><td></td><td>2</td><td><a href="{order_url}">' in content
    for text in ("missing: no order created", "refunded in SamCart", "quantity differs"):
        assert text in content
    assert 'name="_save"' not in content  # read-only


def test_nobody_adds_changes_or_deletes_a_run(world, staff_client, a_client):
    run = make_run(world.a)
    change = reverse("admin:fulfillment_samcartcheckrun_change", args=[run.pk])
    delete = reverse("admin:fulfillment_samcartcheckrun_delete", args=[run.pk])
    for client in (staff_client, a_client):
        assert client.get(reverse("admin:fulfillment_samcartcheckrun_add")).status_code == 403
        assert client.post(delete, {"post": "yes"}).status_code == 403
        client.post(change, {"status": "ok", "error": "edited"})
        response = client.post(
            reverse(RUNS), {"action": "delete_selected", "_selected_action": [run.pk]}
        )
        assert response.status_code in (200, 302)
    run.refresh_from_db()
    assert (run.status, run.error) == (RunStatus.OK, "")
    assert SamcartCheckRun.objects.filter(pk=run.pk).exists()


def test_publishers_see_only_their_own_runs(world, a_client):
    a_run = make_run(world.a, lines_counted=3)
    b_run = make_run(world.b, RunStatus.BRAKED, error="Beta Secret brake")
    viewer = Client()
    viewer.force_login(make_publisher_user(world.a, "alpha-viewer", role="viewer"))
    for client in (a_client, viewer):
        assert listed(client, RUNS) == [a_run]
        content = client.get(reverse(RUNS)).content.decode()
        assert "Beta Secret" not in content and "By publisher" not in content
        b_url = reverse("admin:fulfillment_samcartcheckrun_change", args=[b_run.pk])
        assert client.get(b_url).status_code == 404
        a_url = reverse("admin:fulfillment_samcartcheckrun_change", args=[a_run.pk])
        assert client.get(a_url).status_code == 200
        assert listed(client, RUNS, publisher__id__exact=world.b.pk) == []
    unlinked = Client()
    unlinked.force_login(make_publisher_user(world.b, "beta-none"))
    world.b.users.remove(unlinked.session["_auth_user_id"])
    assert unlinked.get(reverse(RUNS)).status_code in (200, 403)
    assert "Beta Secret" not in unlinked.get(reverse(RUNS)).content.decode()


def test_staff_see_the_last_check_of_each_publisher_in_the_list(world, staff_client, a_client):
    make_run(world.a, RunStatus.FAILED)
    started_on(make_run(world.a, lines_counted=2))
    content = staff_client.get(reverse("admin:fulfillment_publisher_changelist")).content
    content = content.decode()
    assert ">Last SamCart check</a>" in content
    runs_of_a = f"{reverse(RUNS)}?publisher__id__exact={world.a.pk}"
    assert runs_of_a in content
    shown = {
        p.pk: p.last_check_status
        for p in listed(staff_client, "admin:fulfillment_publisher_changelist")
    }
    assert shown[world.b.pk] is None
    mine = a_client.get(reverse("admin:fulfillment_publisher_changelist")).content.decode()
    assert "Last SamCart check" not in mine


# The key on the publisher's admin page (staff).


def publisher_form(publisher: Publisher, **changes: object) -> dict[str, object]:
    data = {"name": publisher.name, "email": publisher.email, "production_delay_minutes": "0"}
    data |= {"require_notify_key": "on", "alert_hold_orders": "on", "alert_needs_action": "on"}
    return data | changes


def test_staff_set_keep_and_remove_the_key_on_the_publisher_page(world, staff_client):
    url = reverse("admin:fulfillment_publisher_change", args=[world.a.pk])
    content = staff_client.get(url).content.decode()
    assert NO_KEY in content and NO_RUN in content
    assert '<input type="password" name="new_samcart_api_key"' in content

    response = staff_client.post(url, publisher_form(world.a, new_samcart_api_key=KEY))
    assert response.status_code == 302
    assert response.wsgi_request.sensitive_post_parameters == ("new_samcart_api_key",)
    assert publisher_samcart_key(publisher=Publisher.objects.get(pk=world.a.pk)) == KEY
    content = staff_client.get(url).content.decode()
    assert f"Key ending in …{LAST4}." in content and KEY not in content

    staff_client.post(url, publisher_form(world.a, name="Alpha Books Two"))  # empty: kept
    publisher = Publisher.objects.get(pk=world.a.pk)
    assert (publisher.name, publisher_samcart_key(publisher=publisher)) == ("Alpha Books Two", KEY)

    response = staff_client.post(url, publisher_form(world.a, new_samcart_api_key="Qz~^7 bad"))
    assert response.status_code == 200 and ERROR_KEY_FORMAT in response.content.decode()
    assert "Qz~^7 bad" not in response.content.decode()
    both = publisher_form(world.a, new_samcart_api_key=OTHER_KEY, remove_samcart_api_key="on")
    response = staff_client.post(url, both)
    assert ERROR_KEY_AND_REMOVE in response.content.decode()
    assert OTHER_KEY not in response.content.decode()
    assert publisher_samcart_key(publisher=Publisher.objects.get(pk=world.a.pk)) == KEY

    staff_client.post(url, publisher_form(world.a, remove_samcart_api_key="on"))
    assert Publisher.objects.get(pk=world.a.pk).samcart_api_key == ""


def test_staff_see_a_refused_key_and_the_last_run_on_the_publisher_page(world, staff_client):
    publisher_set_samcart_key(publisher=world.a, key=KEY, actor=None)
    Publisher.objects.filter(pk=world.a.pk).update(samcart_key_refused_at=STARTED)
    run = started_on(make_run(world.a, RunStatus.KEY_REFUSED))
    content = staff_client.get(reverse("admin:fulfillment_publisher_change", args=[world.a.pk]))
    content = content.content.decode()
    assert "SamCart refused it on 2026-11-03 08:05 UTC: checks are paused" in content
    run_url = reverse("admin:fulfillment_samcartcheckrun_change", args=[run.pk])
    assert f'<a href="{run_url}">2026-11-03 08:05 UTC: API key refused</a>' in content


def test_publishers_see_no_key_field_on_their_publisher_page(world, a_client):
    publisher_set_samcart_key(publisher=world.a, key=KEY, actor=None)
    url = reverse("admin:fulfillment_publisher_change", args=[world.a.pk])
    content = a_client.get(url).content.decode()
    assert "new_samcart_api_key" not in content and LAST4 not in content
    before = Publisher.objects.get(pk=world.a.pk).samcart_api_key
    assert (
        a_client.post(url, publisher_form(world.a, remove_samcart_api_key="on")).status_code == 403
    )
    assert Publisher.objects.get(pk=world.a.pk).samcart_api_key == before


# The API.


@pytest.fixture
def api(world) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=world.a_user).key}")
    return client


def test_the_api_says_how_each_order_was_found_and_filters_on_it(world, api):
    found = found_by_check(world.a_hold, make_run(world.a))
    publisher_set_samcart_key(publisher=world.a, key=KEY, actor=None)
    detail = api.get(f"/api/v1/orders/{found.pk}/").json()
    assert (detail["found_by"], detail["hold_reason"]) == ("samcart_check", "review")
    assert "samcart_api_key" not in str(detail) and LAST4 not in str(detail)
    ids = [o["id"] for o in api.get("/api/v1/orders/?found_by=samcart_check").json()["results"]]
    assert ids == [found.pk]
    assert api.get("/api/v1/orders/?found_by=notify").json()["results"] == []
    response = api.get("/api/v1/orders/?found_by=email")
    assert response.status_code == 400
    assert "notify (Notify URL), samcart_check (SamCart check)" in str(response.json())
    # found_by is read-only: a PATCH cannot change it.
    api.patch(f"/api/v1/orders/{found.pk}/", {"found_by": "notify"}, format="json")
    assert Order.objects.get(pk=found.pk).found_by == FoundBy.SAMCART_CHECK


def test_the_schema_documents_found_by(world, api):
    schema = api.get("/api/schema/?format=json").json()
    order = schema["components"]["schemas"]["Order"]["properties"]
    assert order["found_by"]["readOnly"] is True
    parameters = schema["paths"]["/api/v1/orders/"]["get"]["parameters"]
    found_by = next(p for p in parameters if p["name"] == "found_by")
    assert found_by["schema"]["enum"] == ["notify", "samcart_check"]


@pytest.mark.parametrize("who", ["a_user", "staff"])
def test_the_run_pages_read_as_words(world, who):
    """No raw field name and no Python None on the runs' pages (as tests/test_issue9_crawl.py)."""
    empty = make_run(world.a, RunStatus.FAILED, error="SamCart answered 504 five times.")
    full = make_run(world.a, findings=[finding("created", 51001, orders=[world.a_hold.pk])])
    order = found_by_check(world.a_hold, full)
    client = Client()
    client.force_login(getattr(world, who))
    urls = [
        reverse(RUNS),
        reverse("admin:fulfillment_samcartcheckrun_change", args=[empty.pk]),
        reverse("admin:fulfillment_samcartcheckrun_change", args=[full.pk]),
        reverse("admin:fulfillment_order_change", args=[order.pk]),
        reverse("admin:fulfillment_publisher_change", args=[world.a.pk]),
        reverse("admin:fulfillment_publisher_changelist"),
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        text = visible_text(response.content.decode())
        for pattern in (INTERNAL, NONE, re.compile(r"\b(found_by|samcart)_[a-z_]+\b")):
            assert not pattern.search(text), (url, pattern.search(text))
