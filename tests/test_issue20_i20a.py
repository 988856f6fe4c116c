"""Issue 20, points 6, 7, 13 and 15: the Add-publisher page's ID, quiet 403s and commands,
the words publishers and staff read, and the Notify URL key hidden from viewers."""

from __future__ import annotations

import io
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.text import capfirst

from fulfillment.admin.notifications import NEXT_TRY_ERROR_STOPPED, NEXT_TRY_NO_MATCH
from fulfillment.admin.publishers import IDPUB_PENDING
from fulfillment.logging import RedactNotifyKeyFilter
from fulfillment.models import Notification, OrderEvent, OrderEventKind, Outcome, Publisher
from fulfillment.services.accounts import publisher_user_create
from fulfillment.services.publishers import KEY_MASK, KEY_MASKED_NOTE
from tests.factories import make_publisher_user, make_staff_user

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
READONLY_IDPUB = re.compile(r'<div class="readonly">([0-9]{6,9})</div>')


def staff_client() -> Client:
    """A test client logged in as a TrepStar staff member (group, not superuser)."""
    client = Client()
    client.force_login(make_staff_user())
    return client


# Point 6: the Add-publisher page shows no random ID --------------------------------------


def test_the_add_publisher_page_shows_no_id_and_the_saved_page_shows_the_real_one():
    client = staff_client()
    add = reverse("admin:fulfillment_publisher_add")
    pages = [client.get(add).content.decode() for _ in range(2)]
    for page in pages:
        assert IDPUB_PENDING in page
        assert not READONLY_IDPUB.search(page)  # before: a random ID, new on every reload

    response = client.post(
        add,
        {
            "name": "Gamma Press",
            "email": "gamma@example.com",
            "require_notify_key": "on",
            "production_delay_minutes": "0",
            "grouping_minutes": "10",
            "low_balance_threshold": "25.00",
            "_continue": "1",
        },
    )
    assert response.status_code == 302
    publisher = Publisher.objects.get(name="Gamma Press")
    saved = client.get(response["Location"]).content.decode()
    assert READONLY_IDPUB.findall(saved) == [publisher.idpub]
    assert IDPUB_PENDING not in saved


# Point 7: a 403 logs one line; commands print no django-axes banner ----------------------


def console_handler() -> logging.StreamHandler:
    """The console handler of settings.LOGGING (pytest adds capturing handlers beside it)."""
    (handler,) = [
        handler
        for handler in logging.getLogger("django.request").handlers
        if any(isinstance(f, RedactNotifyKeyFilter) for f in handler.filters)
    ]
    return handler


@pytest.fixture
def console_log() -> Iterator[io.StringIO]:
    """What the configured console handler (gunicorn's error log in production) writes."""
    handler = console_handler()
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        yield stream
    finally:
        handler.setStream(previous)


def test_a_403_logs_one_line_without_a_traceback(world, a_client, console_log):
    response = a_client.get(reverse("admin:auth_user_changelist"))  # staff only
    assert response.status_code == 403
    lines = console_log.getvalue().splitlines()
    assert lines == ["Forbidden (Permission denied): /admin/auth/user/"]  # before: a traceback


def test_a_bad_host_logs_one_line_and_a_500_keeps_its_traceback(console_log):
    response = Client().get("/healthz", headers={"host": "evil.example\\x"})
    assert response.status_code == 400
    assert len(console_log.getvalue().splitlines()) == 1
    assert "Traceback" not in console_log.getvalue()

    record = logging.LogRecord("django.request", logging.ERROR, "", 0, "boom", None, None)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record.exc_info = sys.exc_info()
    record.status_code = 500
    console_handler().handle(record)
    assert "Traceback" in console_log.getvalue()  # a server error still shows where


def test_manage_py_commands_print_no_axes_banner():
    env = {key: value for key, value in os.environ.items() if not key.startswith("DJANGO_")}
    env |= {
        "DJANGO_SETTINGS_MODULE": "trepstar.settings",
        "DEBUG": "0",
        "SECRET_KEY": "a-secret-key-for-this-test-only-0123456789-abcdefghijklmnop",
        "ALLOWED_HOSTS": "example.com",
    }
    env.pop("AXES_VERBOSE", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "AXES: BEGIN" not in result.stdout + result.stderr  # before: on every command
    verbose = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env | {"AXES_VERBOSE": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "AXES: BEGIN" in verbose.stdout + verbose.stderr  # control: the setting is the switch


# Point 15: a viewer sees the Notify URL's key masked --------------------------------------


@pytest.mark.parametrize(("who", "whole"), [("viewer", False), ("manager", True), ("staff", True)])
def test_the_notify_url_key_is_masked_to_a_viewer_and_whole_to_managers_and_staff(
    world, who, whole
):
    a = world.a
    client = Client()
    if who == "staff":
        client.force_login(world.staff)
        account = f"{reverse('account')}?publisher={a.idpub}"
    else:
        client.force_login(make_publisher_user(a, f"a-{who}", role=who))
        account = reverse("account")
    admin_page = reverse("admin:fulfillment_publisher_change", args=[a.pk])
    masked = f"key={KEY_MASK}{a.notify_key[-4:]}"
    for url in (account, admin_page):
        response = client.get(url)
        assert response.status_code == 200, url
        content = response.content.decode()
        assert (a.notify_key in content) is whole, url  # before: whole to a viewer too
        assert (masked in content) is not whole, url
        assert (KEY_MASKED_NOTE in content) is not whole, url
    copy = 'id="copy-notify-url"' in client.get(account).content.decode()
    assert copy is whole  # nothing to copy into SamCart from a masked URL


# Point 13: the words ------------------------------------------------------------------------


def messages_of(response) -> str:
    """Return the page's messages as one text."""
    return " ".join(str(m) for m in response.context["messages"])


@pytest.mark.parametrize("who", ["publisher", "staff"])
def test_a_wrong_password_says_your_account_not_a_staff_account(world, who):
    username = world.a_user.get_username() if who == "publisher" else world.staff.get_username()
    response = Client().post(
        "/admin/login/", {"username": username, "password": "wrong-guess", "next": "/admin/"}
    )
    content = response.content.decode()
    assert response.status_code == 200
    assert "Please enter the correct username and password for your account." in content
    assert "staff account" not in content  # before: "…for a staff account"


def test_the_docs_name_the_reset_link_as_the_login_page_shows_it():
    page = Client().get("/admin/login/").content.decode()
    (link,) = re.findall(r'<div class="password-reset-link">\s*<a href="[^"]+">([^<]+)</a>', page)
    for doc in ("docs/publisher.md", "README.md"):
        text = (ROOT / doc).read_text()
        assert f"*{link}*" in text, doc  # before: the docs said *Forgotten your password?*
    assert "Forgotten your password?" not in (ROOT / "docs/publisher.md").read_text()


def test_one_minute_is_said_in_the_singular(world, a_client, settings):
    saved = a_client.post(
        reverse("account-alerts"),
        {"publisher": world.a.idpub, "production_delay_minutes": "1", "grouping_minutes": "1"},
        follow=True,
    )
    said = messages_of(saved)
    assert "edit window 1 minute;" in said and "grouping 1 minute." in said  # before: 1 minutes
    page = a_client.get(reverse("account")).content.decode()
    assert "go to production 1 minute later (your edit window)" in page
    assert "1 minutes" not in said + page

    settings.AXES_COOLOFF_TIME = timedelta(minutes=1)
    settings.AXES_FAILURE_LIMIT = 2
    login = {"username": world.a_user.get_username(), "password": "wrong-guess"}
    client = Client()
    for _ in range(3):
        locked = client.post("/admin/login/", login)
    assert locked.status_code == 429
    assert "Wait 1 minute and try again" in locked.content.decode()


def test_the_order_history_capitalises_every_event_label(world, a_client):
    order = world.a_hold
    for kind in OrderEventKind:
        OrderEvent.objects.create(order=order, kind=kind)
    page = a_client.get(reverse("admin:fulfillment_order_change", args=[order.pk]))
    labels = re.findall(r"<tr><td>[^<]*</td><td>([^<]+)</td>", page.content.decode())
    assert "Edit window ended" in labels  # before: "edit window ended"
    assert set(labels) >= {capfirst(kind.label) for kind in OrderEventKind}
    assert all(label[0].isupper() for label in labels), labels


def test_next_try_on_a_notification_page_is_plain_words_for_its_outcome(world, a_client):
    def page(notification: Notification) -> str:
        url = reverse("admin:fulfillment_notification_change", args=[notification.pk])
        return a_client.get(url).content.decode()

    no_match = page(world.a_no_match)
    assert escape(NEXT_TRY_NO_MATCH) in no_match
    assert "`" not in no_match.split('class="ts-body"')[0]  # before: "this `error` notification"
    assert "When the worker processes this" not in no_match

    retried = world.a_no_match
    retried.outcome, retried.next_attempt_at = Outcome.ERROR, timezone.now()
    retried.save(update_fields=["outcome", "next_attempt_at"])
    assert "the worker processes it again then, by itself." in page(retried)
    retried.next_attempt_at = None
    retried.save(update_fields=["next_attempt_at"])
    assert escape(NEXT_TRY_ERROR_STOPPED) in page(retried)


def test_saving_settings_names_everyone_who_gets_the_alerts(world):
    manager = publisher_user_create(
        publisher=world.a, username="a-boss", password="pw-12345-x", email="boss@alpha.example"
    )
    client = Client()
    client.force_login(manager)
    saved = client.post(
        reverse("account-alerts"),
        {"publisher": world.a.idpub, "production_delay_minutes": "0"},
        follow=True,
    )
    said = messages_of(saved)
    assert "e-mail alerts go to the publisher's address and every login's" in said
    assert "alpha@example.com" in said and "boss@alpha.example" in said  # before: only alpha@
