"""SPEC §17 on the account page: the SamCart API key (managers only, write-only) and the check's
card (last run, missing lines, refunds, quantities, errors, *Check now*).

Runs are made directly in the database here; tests/test_browser_samcart_check.py runs a real
check against the SamCart stand-in, and tests/test_samcart_check_admin.py crawls every page for
the key.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from fulfillment.account import CHECK_NOT_QUEUED, CHECK_QUEUED
from fulfillment.account_form import (
    SAMCART_KEY_EMPTY,
    SAMCART_KEY_REMOVED,
    SAMCART_KEY_SAVED,
)
from fulfillment.models import Publisher, RunKind, RunStatus, SamcartCheckRun
from fulfillment.selectors import CARD_FINDINGS_LIMIT, samcart_check_card
from fulfillment.services.samcart_check import (
    REFUSAL_KEY_REFUSED,
    REFUSAL_NO_KEY,
    REFUSAL_RUNNING,
)
from fulfillment.services.samcart_keys import (
    ERROR_KEY_FORMAT,
    publisher_samcart_key,
    publisher_set_samcart_key,
)
from tests.factories import make_publisher_user

pytestmark = pytest.mark.django_db

# Its last 4 characters are no letters or digits, so no random token on a page can hold them.
KEY = "sc_live_9f8e7d6c5b4a~^%!"
LAST4 = "~^%!"
OTHER_KEY = "sc_live_0a1b2c3d4e5f=+@$"
KEY_URL = reverse("account-samcart-key")
CHECK_URL = reverse("account-samcart-check")


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def make_run(publisher: Publisher, status: str = RunStatus.OK, **fields) -> SamcartCheckRun:
    """A finished (or running) run of the last 70 minutes, made directly in the database."""
    now = timezone.now()
    fields.setdefault("kind", RunKind.REGULAR)
    fields.setdefault("window_start", now - timedelta(minutes=70))
    fields.setdefault("window_end", now - timedelta(minutes=10))
    if status != RunStatus.RUNNING:
        fields.setdefault("finished_at", now)
    return SamcartCheckRun.objects.create(publisher=publisher, status=status, **fields)


def finding(kind: str, order_id: object, product_id: object = 279813, **more) -> dict:
    return {"kind": kind, "order_id": order_id, "product_id": product_id, **more}


def viewer_client(world) -> Client:
    client = Client()
    client.force_login(make_publisher_user(world.a, "alpha-viewer", role="viewer"))
    return client


def card_html(client: Client, **query) -> str:
    """Return the SamCart check card of the account page (an empty string when absent)."""
    content = client.get(reverse("account"), query).content.decode()
    start = content.find('id="samcart-check"')
    return "" if start < 0 else content[start : content.index('id="alerts"', start)]


# The key: set, replaced, removed by a manager; never shown.


def test_a_manager_sets_replaces_and_removes_the_key(world, a_client):
    response = a_client.post(KEY_URL, {"samcart_api_key": f"  {KEY} "}, follow=True)
    assert texts(response) == [SAMCART_KEY_SAVED.format(last4=LAST4)]
    publisher = Publisher.objects.get(pk=world.a.pk)
    assert publisher.samcart_api_key != KEY and KEY not in publisher.samcart_api_key  # encrypted
    assert publisher_samcart_key(publisher=publisher) == KEY
    card = card_html(a_client)
    assert f"API key ending in …{LAST4}" in card and KEY not in card
    assert '<input type="password" name="samcart_api_key"' in card
    assert (
        'autocomplete="new-password"' in card and "value=" not in card.split("samcart_api_key")[1]
    )

    response = a_client.post(KEY_URL, {"samcart_api_key": OTHER_KEY})
    # Django's error reports (a 500 e-mail, the debug page) would show the key as "****".
    assert response.wsgi_request.sensitive_post_parameters == ("samcart_api_key",)
    publisher = Publisher.objects.get(pk=world.a.pk)
    assert (publisher_samcart_key(publisher=publisher), publisher.samcart_api_key_last4) == (
        OTHER_KEY,
        "=+@$",
    )
    assert "ending in …=+@$" in card_html(a_client)

    response = a_client.post(KEY_URL, {"remove": "1"}, follow=True)
    assert texts(response) == [SAMCART_KEY_REMOVED]
    publisher = Publisher.objects.get(pk=world.a.pk)
    assert (publisher.samcart_api_key, publisher.samcart_api_key_last4) == ("", "")
    card = card_html(a_client)
    assert 'id="samcart-not-configured"' in card and "ending in" not in card


def test_a_new_key_lifts_the_pause_of_a_refused_one(world, a_client):
    publisher_set_samcart_key(publisher=world.a, key=KEY, actor=None)
    Publisher.objects.filter(pk=world.a.pk).update(samcart_key_refused_at=timezone.now())
    assert "SamCart refused the key: enter a new one." in card_html(a_client)
    a_client.post(KEY_URL, {"samcart_api_key": OTHER_KEY})
    assert Publisher.objects.get(pk=world.a.pk).samcart_key_refused_at is None
    assert "SamCart refused the key" not in card_html(a_client)


@pytest.mark.parametrize(
    ("posted", "error"),
    [
        ({"samcart_api_key": "Qz~^7"}, ERROR_KEY_FORMAT),
        ({"samcart_api_key": "Qz~^7 with~^a space"}, ERROR_KEY_FORMAT),
        ({"samcart_api_key": "Qz~^7" * 41}, ERROR_KEY_FORMAT),
        ({"samcart_api_key": "Qz~^7-ctrl\x07char"}, ERROR_KEY_FORMAT),
        ({"samcart_api_key": ""}, SAMCART_KEY_EMPTY),
        ({}, SAMCART_KEY_EMPTY),
        ({"remove": "0"}, SAMCART_KEY_EMPTY),
    ],
)
def test_a_bad_key_is_refused_in_plain_words_and_never_echoed(world, a_client, posted, error):
    publisher_set_samcart_key(publisher=world.a, key=KEY, actor=None)
    response = a_client.post(KEY_URL, posted, follow=True)
    assert response.status_code == 200
    assert texts(response) == [f"SamCart API key not saved: {error}"]
    value = posted.get("samcart_api_key", "")
    assert not value or value not in response.content.decode()
    assert publisher_samcart_key(publisher=Publisher.objects.get(pk=world.a.pk)) == KEY


def test_a_viewer_sees_neither_the_key_form_nor_its_last_4_and_may_not_post(world):
    publisher_set_samcart_key(publisher=world.a, key=KEY, actor=None)
    make_run(world.a, lines_counted=3)
    viewer = viewer_client(world)
    content = viewer.get(reverse("account")).content.decode()
    assert 'id="samcart-check"' in content and "All 3 lines received" in content  # the card
    assert LAST4 not in content and "ending in" not in content
    assert 'id="samcart-key-form"' not in content and 'name="samcart_api_key"' not in content
    assert 'id="check-now"' not in content and 'id="remove-samcart-key"' not in content
    assert 'id="samcart-key-manager-only"' in content

    assert viewer.post(KEY_URL, {"samcart_api_key": OTHER_KEY}).status_code == 403
    assert viewer.post(KEY_URL, {"remove": "1"}).status_code == 403
    assert viewer.post(CHECK_URL).status_code == 403
    assert publisher_samcart_key(publisher=Publisher.objects.get(pk=world.a.pk)) == KEY
    assert not DBTaskResult.objects.exists()


def test_another_publishers_manager_gets_404_and_changes_nothing(world, a_client):
    publisher_set_samcart_key(publisher=world.b, key=KEY, actor=None)
    for posted in ({"samcart_api_key": OTHER_KEY}, {"remove": "1"}):
        for idpub in (world.b.idpub, "00000000", "not-an-id"):
            response = a_client.post(KEY_URL, {**posted, "publisher": idpub})
            assert response.status_code == 404, (posted, idpub)
    for idpub in (world.b.idpub, "not-an-id"):
        assert a_client.post(CHECK_URL, {"publisher": idpub}).status_code == 404
    b = Publisher.objects.get(pk=world.b.pk)
    assert (publisher_samcart_key(publisher=b), b.samcart_api_key_last4) == (KEY, LAST4)
    assert Publisher.objects.get(pk=world.a.pk).samcart_api_key == ""  # not A's either
    assert not DBTaskResult.objects.exists()


def test_staff_set_a_publishers_key_on_its_account_page(world):
    staff = Client()
    staff.force_login(world.staff)
    response = staff.post(KEY_URL, {"samcart_api_key": KEY, "publisher": world.b.idpub})
    assert response["Location"] == f"/account/?publisher={world.b.idpub}"
    assert publisher_samcart_key(publisher=Publisher.objects.get(pk=world.b.pk)) == KEY
    assert f"ending in …{LAST4}" in card_html(staff, publisher=world.b.idpub)


def test_key_and_check_now_need_post(a_client):
    assert a_client.get(KEY_URL).status_code == 405
    assert a_client.get(CHECK_URL).status_code == 405
    assert Client().post(KEY_URL, {"samcart_api_key": KEY}).status_code == 302  # to the login


# The card.


def test_the_card_says_how_to_start_when_no_key_is_set(world, a_client):
    card = card_html(a_client)
    assert "Not configured." in card and "SamCart support issues API keys" in card
    assert "docs/publisher.md" in card
    assert 'id="check-now"' not in card and 'id="save-samcart-key"' in card
    assert "ask a manager of your account to enter it" in card_html(viewer_client(world))


def test_the_card_before_the_first_run_offers_check_now(world, a_client):
    publisher_set_samcart_key(publisher=world.a, key=KEY, actor=None)
    card = card_html(a_client)
    assert "No check has run yet." in card
    assert 'id="check-now"' in card and 'action="/account/samcart-check/"' in card
    assert 'name="csrfmiddlewaretoken"' in card


def test_the_card_shows_a_clean_run_as_all_received(world, a_client):
    publisher_set_samcart_key(publisher=world.a, key=KEY, actor=None)
    start = timezone.now().replace(year=2026, month=11, day=3, hour=8, minute=5)
    run = make_run(
        world.a,
        lines_counted=12,
        window_start=start,
        window_end=start + timedelta(hours=1),
        kind=RunKind.DAILY,
    )
    card = card_html(a_client)
    assert "All 12 lines received" in card
    assert "over 2026-11-03 08:05 UTC – 2026-11-03 09:05 UTC: done; 12 lines compared." in card
    assert "(daily 7-day pass)" in card
    assert f'href="/admin/fulfillment/samcartcheckrun/{run.pk}/change/"' in card


def test_the_card_lists_missing_lines_with_their_orders_refunds_and_quantities(world, a_client):
    publisher_set_samcart_key(publisher=world.a, key=KEY, actor=None)
    held = world.a_hold.pk
    make_run(
        world.a,
        lines_counted=5,
        missing=2,
        created=1,
        findings=[
            finding("created", 51001, quantity=2, orders=[held]),
            finding("missing", 51002, 294010, quantity=1),
            finding("refunded", 51003, item_status="partially_refunded", orders=[held]),
            finding("quantity", 51004, quantity=3, orders=[held]),
        ],
    )
    card = card_html(a_client)
    assert "All " not in card
    assert "2 lines missing</strong>: each joined the open order of its SamCart order" in card
    assert (
        f'SamCart order 51001, product 279813 (2 copies):\n          <a href="/admin/'
        f'fulfillment/order/{held}/change/">order #{held}</a>'
    ) in card
    assert "SamCart order 51002, product 294010 (1 copy):\n          no order created" in card
    assert "SamCart order 51003, product 279813 (partially_refunded): <a" in card
    assert "SamCart order 51004, product 279813: SamCart says 3; <a" in card


def test_the_card_shows_a_braked_run_with_samcart_ids_and_nothing_created(world, a_client):
    publisher_set_samcart_key(publisher=world.a, key=KEY, actor=None)
    lines = [finding("missing", 52000 + n, 888000 + n) for n in range(3)]
    make_run(world.a, RunStatus.BRAKED, lines_counted=4, missing=3, findings=lines)
    card = card_html(a_client)
    assert "The safety brake stopped this check: 3 of 4 lines looked missing" in card
    assert "Nothing was created; TrepStar staff have been told." in card
    for n in range(3):
        assert f"SamCart order {52000 + n}, product {888000 + n}:" in card
    assert card.count("no order created") == 3 and "/admin/fulfillment/order/" not in card


def test_the_card_shows_the_error_of_a_failed_run_and_a_running_one(world, a_client):
    publisher_set_samcart_key(publisher=world.a, key=KEY, actor=None)
    make_run(world.a, RunStatus.FAILED, error="SamCart did not answer after 5 tries <b>x</b>")
    make_run(world.a, RunStatus.RUNNING)
    card = card_html(a_client)
    assert "The check failed: SamCart did not answer after 5 tries &lt;b&gt;x&lt;/b&gt;" in card
    assert 'id="samcart-running">A check is running (started' in card


def test_a_run_refused_for_its_key_says_to_enter_a_new_one(world, a_client):
    publisher_set_samcart_key(publisher=world.a, key=KEY, actor=None)
    Publisher.objects.filter(pk=world.a.pk).update(samcart_key_refused_at=timezone.now())
    make_run(world.a, RunStatus.KEY_REFUSED, error="SamCart refused the API key (401).")
    card = card_html(a_client)
    assert "SamCart refused the key: enter a new one. Checks are paused since" in card
    assert "The check failed: SamCart refused the API key (401)." in card


def test_the_card_cuts_long_lists_and_links_the_whole_run(world, a_client):
    publisher_set_samcart_key(publisher=world.a, key=KEY, actor=None)
    lines = [finding("created", 60000 + n, orders=[world.a_hold.pk]) for n in range(120)]
    run = make_run(world.a, missing=120, created=120, findings=lines)
    card = card_html(a_client)
    assert card.count("SamCart order 6") == CARD_FINDINGS_LIMIT
    assert f"And {120 - CARD_FINDINGS_LIMIT} more findings" in card
    assert f"/admin/fulfillment/samcartcheckrun/{run.pk}/change/" in card


HOSTILE = [
    "not an object",
    42,
    None,
    ["a", "list"],
    {"kind": "created", "order_id": "<script>alert(1)</script>", "orders": ["7", -1, True, 2.5]},
    {"kind": "missing", "order_id": "9" * 100_000, "product_id": {"nested": ["x"]}},
    {"kind": "refunded", "order_id": "\u202e\U0001f600 é", "orders": "12"},
    {"kind": "quantity", "quantity": [1, 2], "orders": None},
    {"kind": "unknown-kind", "order_id": "x"},
    {},
]


@pytest.mark.parametrize("findings", [HOSTILE, {"not": "a list"}, "text", 7])
def test_the_card_renders_any_stored_findings(world, a_client, findings):
    publisher_set_samcart_key(publisher=world.a, key=KEY, actor=None)
    make_run(world.a, missing=2, findings=findings, error="\u0007 <i>odd</i> \U0001f600")
    response = a_client.get(reverse("account"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "<script>alert(1)</script>" not in body
    if findings is HOSTILE:
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
        assert "9" * 100 in body and "9" * 101 not in body  # a long id is cut
        assert "/admin/fulfillment/order/7/" not in body  # only whole-number pks are links


def test_the_card_reads_in_two_queries_and_none_without_a_key(world, a_client):
    make_run(world.a)  # a run of a key since removed: the card reads no run without a key
    with CaptureQueriesContext(connection) as no_key:
        assert samcart_check_card(world.a).last_run is None
    assert len(no_key) == 0
    SamcartCheckRun.objects.all().delete()
    publisher_set_samcart_key(publisher=world.a, key=KEY, actor=None)
    world.a.refresh_from_db()
    with CaptureQueriesContext(connection) as none:
        assert samcart_check_card(world.a).last_run is None
    for n in range(5):
        make_run(world.a, findings=[finding("created", 70000 + m, orders=[1]) for m in range(n)])
    make_run(world.a, RunStatus.RUNNING)
    with CaptureQueriesContext(connection) as many:
        card = samcart_check_card(world.a)
    assert (len(none), len(many)) == (2, 2)  # the latest runs, the orders for review
    assert card.running is not None and len(card.lines) == 4

    few = _count_page_queries(a_client)
    make_run(world.a, findings=[finding("created", 80000 + m, orders=[m + 1]) for m in range(40)])
    assert _count_page_queries(a_client) == few


def _count_page_queries(client: Client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("account")).status_code == 200
    return len(queries)


# Check now (the refusal words are the check service's; the page shows them).


def test_check_now_queues_a_check_once_the_key_is_set(world, a_client):
    publisher_set_samcart_key(publisher=world.a, key=KEY, actor=None)
    response = a_client.post(CHECK_URL, follow=True)
    assert texts(response) == [CHECK_QUEUED]
    queued = DBTaskResult.objects.get(task_path__endswith="samcart_check_task")
    assert queued.args_kwargs["args"] == [world.a.pk, RunKind.MANUAL]


def test_check_now_shows_why_no_check_can_start(world, a_client):
    def refusal() -> str:
        response = a_client.post(CHECK_URL, follow=True)
        (message,) = texts(response)
        assert message in response.content.decode().replace("&#x27;", "'")  # shown on the page
        return message

    assert refusal() == CHECK_NOT_QUEUED.format(reason=REFUSAL_NO_KEY)
    publisher_set_samcart_key(publisher=world.a, key=KEY, actor=None)
    running = make_run(world.a, RunStatus.RUNNING)
    assert refusal() == CHECK_NOT_QUEUED.format(reason=REFUSAL_RUNNING)
    running.delete()
    Publisher.objects.filter(pk=world.a.pk).update(samcart_key_refused_at=timezone.now())
    assert refusal() == CHECK_NOT_QUEUED.format(reason=REFUSAL_KEY_REFUSED)
    assert not DBTaskResult.objects.exists()


def test_the_card_lists_found_orders_waiting_for_review_after_a_clean_run(world, a_client):
    """A later run says "all received" once the found orders exist: the card still names
    those that wait for the publisher, until one is released."""
    from fulfillment.carts import parse_samcart
    from fulfillment.services.intake import orders_create_from_cart
    from fulfillment.services.release import orders_release
    from tests.invariants import order_body

    publisher_set_samcart_key(publisher=world.a, key=KEY, actor=None)
    world.a.refresh_from_db()
    finder = make_run(world.a)
    cart = parse_samcart(order_body(order_id=7_700_001), "application/json")
    created = orders_create_from_cart(
        publisher_id=world.a.pk,
        notification_id=None,
        cart=cart,
        is_test=False,
        found_by_run=finder,
    ).created
    assert created, "the world maps product 279813"
    make_run(world.a)  # the next run: all received
    body = a_client.get(reverse("account")).content.decode()
    assert 'id="samcart-all-received"' in body
    review = body.split('id="samcart-review"')[1].split("</ul>")[0]
    assert f"/admin/fulfillment/order/{created[0].pk}/change/" in review
    assert "SamCart order 7700001" in review
    orders_release(publisher=world.a, order_ids=[created[0].pk], actor=None, reviewed=True)
    assert 'id="samcart-review"' not in a_client.get(reverse("account")).content.decode()
