"""The Notify URL key never reaches a log line, a stored notification or an SQL statement (§4)."""

from __future__ import annotations

import io
import logging
import secrets

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from fulfillment.logging import RedactNotifyKeyFilter, redact
from fulfillment.models import Notification
from tests.factories import make_project, make_publisher, notify_path, post_notify, sample

SECRET = "s3cr3t-KEY_value"
ACCESS_LINE_ARGS = (f"POST /samcart/notify/?idpub=1234567&key={SECRET} HTTP/1.1", "200", "12")
WATCHED_LOGGERS = ("", "django", "django.request", "django.server", "django.db.backends")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            f'"POST /samcart/notify/?idpub=1234567&key={SECRET} HTTP/1.1" 200 12',
            '"POST /samcart/notify/?idpub=1234567&key=*** HTTP/1.1" 200 12',
        ),
        (
            f"/samcart/notify/?key={SECRET}&idpub=1234567",
            "/samcart/notify/?key=***&idpub=1234567",
        ),
        (
            f"/samcart/notify/?idpub=1234567&key={SECRET}&test=1",
            "/samcart/notify/?idpub=1234567&key=***&test=1",
        ),
        (f"GET /samcart/notify?idpub=1&KEY={SECRET}", "GET /samcart/notify?idpub=1&KEY=***"),
        (f"idpub=1234567&key={SECRET}", "idpub=1234567&key=***"),
        (f"key={SECRET}&idpub=1234567", "key=***&idpub=1234567"),
        (f"<a href='/n/?key={SECRET}'>", "<a href='/n/?key=***'>"),
        (f"notify_key={SECRET} saved", "notify_key=*** saved"),
        (
            f"/admin/login/?next=%2Fsamcart%2Fnotify%2F%3Fidpub%3D1%26key%3D{SECRET}%26test%3D1",
            "/admin/login/?next=%2Fsamcart%2Fnotify%2F%3Fidpub%3D1%26key%3D***%26test%3D1",
        ),
        (f"?key={SECRET}&key={SECRET}2", "?key=***&key=***"),
    ],
)
def test_redact_removes_every_key_value(text, expected):
    assert redact(text) == expected
    assert SECRET not in redact(text)


@pytest.mark.parametrize(
    "text",
    [
        "Processing notification 12 failed",
        "/samcart/notify/?idpub=1234567&test=1",
        "monkey=banana&turnkey=yes",
        "the key is in the URL",
        "",
    ],
)
def test_redact_leaves_other_text_alone(text):
    assert redact(text) == text


def make_record(msg: str, args: tuple | None) -> logging.LogRecord:
    return logging.LogRecord("django.server", logging.INFO, __file__, 1, msg, args, None)


def test_filter_redacts_the_runserver_access_line():
    record = make_record('"%s" %s %s', ACCESS_LINE_ARGS)
    assert SECRET in record.getMessage()
    assert RedactNotifyKeyFilter().filter(record) is True  # never drops a record
    assert record.getMessage() == '"POST /samcart/notify/?idpub=1234567&key=*** HTTP/1.1" 200 12'
    assert SECRET not in str(record.msg)
    assert not record.args


def test_filter_redacts_a_key_written_straight_into_the_message():
    record = make_record(f"Bad request to /samcart/notify/?idpub=1&key={SECRET}", None)
    assert RedactNotifyKeyFilter().filter(record) is True
    assert record.getMessage() == "Bad request to /samcart/notify/?idpub=1&key=***"


def test_filter_leaves_a_record_without_key_untouched():
    args = ("/healthz", 200)
    record = make_record("GET %s %s", args)
    assert RedactNotifyKeyFilter().filter(record) is True
    assert record.msg == "GET %s %s"
    assert record.args is args


def test_filter_never_raises_into_the_caller_on_a_malformed_call():
    """Logger.handle does not guard filters: a raising filter would crash the logging code."""
    record = make_record("notification %s failed at %s", (f"?key={SECRET}",))
    assert RedactNotifyKeyFilter().filter(record) is True
    message = record.getMessage()
    assert SECRET not in message
    assert "notification %s failed" in message


def test_logging_settings_put_the_filter_on_the_console_handler():
    console = settings.LOGGING["handlers"]["console"]
    assert "redact_keys" in console["filters"]
    assert settings.LOGGING["filters"]["redact_keys"]["()"] == (
        "fulfillment.logging.RedactNotifyKeyFilter"
    )
    for name in ("", "django.request", "django.server"):
        handlers = logging.getLogger(name).handlers
        assert handlers, name
        for handler in handlers:
            if handler.__class__.__module__.startswith("_pytest"):
                continue
            assert any(isinstance(f, RedactNotifyKeyFilter) for f in handler.filters), name


def handlers_reaching(logger: logging.Logger) -> list[logging.Handler]:
    """Return every handler a record logged on `logger` goes through."""
    found: list[logging.Handler] = []
    current: logging.Logger | None = logger
    while current is not None:
        found += current.handlers
        current = current.parent if current.propagate else None
    return [h for h in found if not h.__class__.__module__.startswith("_pytest")]


@pytest.mark.parametrize("name", ["django.security.csrf", "django.template", "django"])
def test_every_handler_a_django_record_reaches_redacts_keys(name):
    handlers = handlers_reaching(logging.getLogger(name))
    assert handlers
    for handler in handlers:
        assert any(isinstance(f, RedactNotifyKeyFilter) for f in handler.filters), handler


def test_the_configured_console_writes_the_access_line_redacted():
    logger = logging.getLogger("django.server")
    console = next(
        h for h in logger.handlers if any(isinstance(f, RedactNotifyKeyFilter) for f in h.filters)
    )
    stream = io.StringIO()
    previous = console.setStream(stream)
    try:
        logger.info('"%s" %s %s', *ACCESS_LINE_ARGS)
    finally:
        console.setStream(previous)
    written = stream.getvalue()
    assert written == '"POST /samcart/notify/?idpub=1234567&key=*** HTTP/1.1" 200 12\n'


class RawMessages(logging.Handler):
    """Keep each record's message as it was logged, before any other handler's filter runs."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.lines.append(f"{record.name}: {text}")


@pytest.fixture
def raw_log(caplog):
    """Every record of the watched loggers at DEBUG, captured ahead of the redacting handler."""
    collector = RawMessages()
    for name in WATCHED_LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
        logging.getLogger(name).handlers.insert(0, collector)
    yield collector
    for name in WATCHED_LOGGERS:
        logging.getLogger(name).removeHandler(collector)


def stored_text(notification: Notification) -> str:
    """Return every stored field of `notification` as one text."""
    values = [getattr(notification, f.attname) for f in Notification._meta.concrete_fields]
    return " ".join(
        bytes(v).decode("utf-8", "replace") if isinstance(v, bytes | memoryview) else str(v)
        for v in values
    )


@pytest.mark.django_db
def test_a_wrong_key_is_not_logged_stored_or_queried(client, raw_log, caplog):
    publisher = make_publisher(balance="50.00")
    make_project(publisher, "279813")
    wrong = secrets.token_urlsafe(24)
    with CaptureQueriesContext(connection) as queries:
        response = post_notify(client, publisher, sample("order_products_array"), key=wrong)
    assert response.status_code == 403
    assert wrong not in response.content.decode()
    # Django logs the 403: the capture works, and what it logs names the path only.
    assert any("Forbidden" in line and "/samcart/notify" in line for line in raw_log.lines)
    for line in raw_log.lines + [r.getMessage() for r in caplog.records]:
        assert wrong not in line
        assert publisher.notify_key not in line
    notification = Notification.objects.get()
    assert notification.outcome == "rejected"
    assert notification.detail
    assert wrong not in notification.detail
    assert wrong not in stored_text(notification)
    assert publisher.notify_key not in stored_text(notification)
    # The key is compared in Python (constant time), never sent to the database.
    assert queries.captured_queries
    assert not [q["sql"] for q in queries.captured_queries if wrong in q["sql"]]


@pytest.mark.django_db
def test_the_right_key_is_not_logged_or_stored_either(client, raw_log):
    publisher = make_publisher(balance="50.00")
    make_project(publisher, "279813")
    with CaptureQueriesContext(connection) as queries:
        response = post_notify(client, publisher, sample("order_products_array"))
    assert response.status_code == 200
    assert response.json()["outcome"] == "created"
    notification = Notification.objects.get()
    assert publisher.notify_key not in stored_text(notification)
    assert publisher.notify_key not in response.content.decode()
    assert not [line for line in raw_log.lines if publisher.notify_key in line]
    assert not [q for q in queries.captured_queries if publisher.notify_key in q["sql"]]


@pytest.mark.django_db
def test_checking_a_pasted_url_with_a_wrong_key_logs_no_key(client, raw_log):
    publisher = make_publisher()
    wrong = secrets.token_urlsafe(24)
    response = client.get(notify_path(publisher, key=wrong))
    assert response.status_code == 403
    assert any("Forbidden" in line for line in raw_log.lines)
    assert not [line for line in raw_log.lines if wrong in line]
    assert not Notification.objects.exists()
