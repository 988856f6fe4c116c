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
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from fulfillment.admin.publishers import IDPUB_PENDING
from fulfillment.logging import RedactNotifyKeyFilter
from fulfillment.models import Publisher
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
