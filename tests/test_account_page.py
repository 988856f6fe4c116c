"""SPEC §9: the account page of a publisher, and its link from the admin."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.contrib.staticfiles import finders
from django.test import Client
from django.urls import reverse

from fulfillment import clock
from fulfillment.models import LedgerKind, Notification, Order, OrderStatus, Outcome, Publisher
from fulfillment.selectors import hold_summary, publisher_for_user, recent_notifications
from fulfillment.services.ledger import ledger_record
from fulfillment.services.notifications import notify_key_valid
from fulfillment.services.publishers import notify_url
from tests.admin_world import notify, order_body, release_all
from tests.factories import notify_path

pytestmark = pytest.mark.django_db


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_anonymous_visitors_are_sent_to_the_admin_login():
    response = Client().get(reverse("account"))
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/account/"


def test_page_shows_id_url_balance_hold_orders_and_steps(world, a_client):
    notify(world.a, order_body(order_id="11110009"), test=True)
    response = a_client.get(reverse("account"))
    content = response.content.decode()
    assert f'<strong id="publisher-id">{world.a.idpub}</strong>' in content
    # No PUBLIC_BASE_URL: the page uses the address the browser used (issue 9 #1).
    url = notify_url(publisher=world.a, base_url="http://testserver").replace("&", "&amp;")
    assert f'value="{url}"' in content
    assert 'id="copy-notify-url"' in content
    assert '<script src="/static/fulfillment/account.js" defer></script>' in content
    script = finders.find("fulfillment/account.js")
    assert "navigator.clipboard" in Path(script).read_text()
    # The fallback where the clipboard API is missing.
    assert "execCommand" in Path(script).read_text()
    assert '<p class="ts-big" id="balance">$1.00</p>' in content
    assert "1 order · $7.00" in content
    assert "Plus 1 test order" in content
    assert "Settings → Integrations → Notify URL" in content
    assert "Advanced Settings → eCommerceIDString" in content
    assert 'id="rotate-key"' in content
    # $1.00 pays none of the hold orders: no button, but the page says why and what to add.
    assert 'id="release-all"' not in content
    assert "Your balance $1.00 covers none of your 1 order waiting for payment ($7.00)" in content
    assert "add $6.00 to release it." in content
    assert "No active project of publisher" in content  # a notification's detail


def test_page_lists_the_last_20_notifications(world, a_client):
    for n in range(22):
        Notification.objects.create(publisher=world.a, raw_body=b"{}", detail=f"note-{n:02d}")
    content = a_client.get(reverse("account")).content.decode()
    assert "note-21" in content and "note-02" in content
    assert "note-01" not in content and "note-00" not in content
    assert (
        content.count("/admin/fulfillment/notification/")
        - content.count('href="/admin/fulfillment/notification/"')
        == 20
    )


def test_rotate_key_makes_a_new_key_and_keeps_the_old_one_for_a_while(world, a_client):
    old = world.a.notify_key
    response = a_client.post(reverse("account-rotate-key"), follow=True)
    publisher = Publisher.objects.get(pk=world.a.pk)
    assert publisher.notify_key != old
    assert notify_key_valid(publisher=publisher, key=old)
    assert any("New Notify URL key made" in m for m in texts(response))
    assert publisher.notify_key in response.content.decode()


def test_rotate_needs_post_and_release_all_asks_first(a_client):
    assert a_client.get(reverse("account-rotate-key")).status_code == 405
    # Release all asks first: a GET shows the confirmation page (issue 20 #14).
    assert a_client.get(reverse("account-release-all")).status_code == 200


def test_release_all_releases_what_the_balance_covers(world, a_client):
    second = notify(world.a, order_body(order_id="11110010")).orders.get()
    ledger_record(publisher_id=world.a.pk, amount=Decimal("10.00"), kind=LedgerKind.DEPOSIT)
    response = release_all(a_client)
    assert Order.objects.get(pk=world.a_hold.pk).status == OrderStatus.IN_PRODUCTION
    assert Order.objects.get(pk=second.pk).status == OrderStatus.HOLD
    message = " ".join(texts(response))
    assert "Released 1 order ($7.00): #" in message
    assert "balance $11.00 → $4.00." in message
    assert "1 order still on hold: order #" in message


def test_release_all_needs_the_change_order_permission(world):
    world.a_user.groups.clear()
    world.a_user.user_permissions.set(Permission.objects.filter(codename="view_order"))
    ledger_record(publisher_id=world.a.pk, amount=Decimal("10.00"), kind=LedgerKind.DEPOSIT)
    client = Client()
    client.force_login(world.a_user)
    assert 'id="release-all"' not in client.get(reverse("account")).content.decode()
    assert client.post(reverse("account-release-all")).status_code == 403
    confirm = {"confirmed": "yes", "order": [world.a_hold.pk]}
    assert client.post(reverse("account-release-all"), confirm).status_code == 403
    assert Order.objects.get(pk=world.a_hold.pk).status == OrderStatus.HOLD


def test_staff_without_publisher_get_a_pointer_and_can_pick_one(world):
    client = Client()
    client.force_login(world.staff)
    content = client.get(reverse("account")).content.decode()
    assert "no publisher is linked to your login" in content
    assert reverse("admin:fulfillment_publisher_changelist") in content
    content = client.get(reverse("account"), {"publisher": world.b.idpub}).content.decode()
    assert world.b.notify_key in content and world.b.name in content
    response = client.post(reverse("account-rotate-key"), {"publisher": world.b.idpub})
    assert response["Location"] == f"/account/?publisher={world.b.idpub}"
    assert Publisher.objects.get(pk=world.b.pk).notify_key != world.b.notify_key


def test_admin_is_branded_and_links_the_account_page(world, a_client):
    content = a_client.get(reverse("admin:index")).content.decode()
    assert '<a href="/admin/">TrepStar Fulfillment</a>' in content
    assert '<a class="ts-account" href="/account/">Account &amp; Notify URL</a>' in content
    assert "View site" not in content


def test_selectors(world):
    assert publisher_for_user(world.a_user) == world.a
    assert publisher_for_user(world.staff) is None
    summary = hold_summary(world.b)
    assert (summary.count, summary.total, summary.test_count) == (1, Decimal("7.00"), 0)
    latest = recent_notifications(world.b, limit=2)
    assert [n.pk for n in latest] == [
        world.b_no_match.pk,
        Notification.objects.filter(publisher=world.b).order_by("-received_at", "-id")[1].pk,
    ]
    assert latest[0].outcome == Outcome.NO_MATCH


# Issue 8: findings 1 (permissions), 17 (another publisher's idpub) and 3 (refused requests).


def fresh_window() -> None:
    """Start in a new rate-limit minute when less than 20 s are left of this one."""
    left = 60 - time.time() % 60
    if left < 20:
        time.sleep(left + 0.05)


def login_with(user, *codenames: str) -> Client:
    """A client for `user` holding exactly these fulfillment permissions (no role group)."""
    user.groups.clear()
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="fulfillment", codename__in=codenames)
    )
    client = Client()
    client.force_login(user)
    return client


VIEWER = ("view_publisher", "view_project", "view_order", "view_notification")


def test_a_viewer_sees_the_page_read_only_and_its_posts_answer_403(world):
    ledger_record(publisher_id=world.a.pk, amount=Decimal("10.00"), kind=LedgerKind.DEPOSIT)
    viewer = login_with(world.a_user, *VIEWER)

    content = viewer.get(reverse("account")).content.decode()
    assert world.a.notify_key not in content  # issue 20: masked to a viewer
    assert f"key=••••{world.a.notify_key[-4:]}" in content
    assert 'id="rotate-key"' not in content and 'id="release-all"' not in content
    assert "ask a manager of your account to make a new key" in content

    assert viewer.post(reverse("account-rotate-key")).status_code == 403
    assert viewer.post(reverse("account-release-all")).status_code == 403
    assert Publisher.objects.get(pk=world.a.pk).notify_key == world.a.notify_key
    assert Order.objects.get(pk=world.a_hold.pk).status == OrderStatus.HOLD


def test_rotating_the_key_needs_change_publisher(world):
    releaser = login_with(world.a_user, *VIEWER, "change_order")
    assert releaser.post(reverse("account-rotate-key")).status_code == 403
    assert Publisher.objects.get(pk=world.a.pk).notify_key == world.a.notify_key

    manager = login_with(world.a_user, *VIEWER, "change_publisher")
    assert 'id="rotate-key"' in manager.get(reverse("account")).content.decode()
    assert manager.post(reverse("account-rotate-key")).status_code == 302
    assert Publisher.objects.get(pk=world.a.pk).notify_key != world.a.notify_key


def test_a_post_naming_another_publisher_answers_404_and_changes_nothing(world, a_client):
    ledger_record(publisher_id=world.a.pk, amount=Decimal("10.00"), kind=LedgerKind.DEPOSIT)
    before = world.b_state()
    for name in ("account-rotate-key", "account-release-all"):
        for idpub in (world.b.idpub, "00000000", "not-an-id"):
            response = a_client.post(reverse(name), {"publisher": idpub})
            assert response.status_code == 404, (name, idpub)
    assert world.b_state() == before
    assert Publisher.objects.get(pk=world.a.pk).notify_key == world.a.notify_key  # not A's either
    assert Order.objects.get(pk=world.a_hold.pk).status == OrderStatus.HOLD
    assert a_client.get(reverse("account"), {"publisher": world.b.idpub}).status_code == 404


def test_naming_ones_own_publisher_still_works(world, a_client):
    response = a_client.post(reverse("account-rotate-key"), {"publisher": world.a.idpub})
    assert response.status_code == 302
    assert Publisher.objects.get(pk=world.a.pk).notify_key != world.a.notify_key


def test_wrong_key_requests_stay_out_of_the_last_20_and_are_counted(world, a_client):
    fresh_window()
    client = Client()
    for n in range(25):
        client.post(
            notify_path(world.a, key=f"guess-{n}"),
            data=b'{"type": "Order", "who": "flood-marker"}',
            content_type="application/json",
            REMOTE_ADDR="203.0.113.9",
        )
    content = a_client.get(reverse("account")).content.decode()

    assert "No active project of publisher" in content  # the accepted ones are still listed
    assert "The key in the Notify URL is missing or wrong" not in content  # refused ones are not
    assert Notification.objects.filter(publisher=world.a, http_status=403).count() == 10
    from fulfillment.models import RefusedRequestTally

    tally = RefusedRequestTally.objects.get(publisher=world.a)
    assert tally.count == 15
    last = clock.when(tally.last_at, clock.publisher_zone(world.a))
    line = f"25 requests with a wrong key in the last 24 h, last from 203.0.113.9 at {last}."
    assert line in content
    assert "/admin/fulfillment/notification/?refused=1" in content
