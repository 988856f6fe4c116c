"""SPEC §17: the SamCart API key is encrypted at rest, rotatable, shown by its last 4 only."""

from __future__ import annotations

import io
import logging

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from fulfillment import crypto
from fulfillment.models import Publisher
from fulfillment.services.samcart_keys import (
    ERROR_KEY_FORMAT,
    publisher_samcart_key,
    publisher_set_samcart_key,
)
from tests.factories import make_publisher

pytestmark = pytest.mark.django_db

KEY = "sc_live_7Hq2ZxkP9wLmA4vR"
OLD, NEW = crypto.new_key(), crypto.new_key()


def _column(publisher: Publisher) -> str:
    """Read the stored column with SQL, past the ORM."""
    with connection.cursor() as cursor:
        table = Publisher._meta.db_table
        cursor.execute(f"SELECT samcart_api_key FROM {table} WHERE id = %s", [publisher.pk])
        return cursor.fetchone()[0]


def test_the_column_holds_no_key_in_clear_text():
    publisher = make_publisher()
    publisher_set_samcart_key(publisher=publisher, key=KEY, actor=None)
    stored = _column(publisher)
    assert stored and KEY not in stored and KEY[-8:] not in stored
    publisher.refresh_from_db()
    assert publisher_samcart_key(publisher=publisher) == KEY
    assert publisher.samcart_api_key_last4 == KEY[-4:]


def test_rotating_the_encryption_key_keeps_stored_keys_readable():
    publisher = make_publisher()
    with override_settings(FIELD_ENCRYPTION_KEYS=[OLD]):
        publisher_set_samcart_key(publisher=publisher, key=KEY, actor=None)
    before = _column(publisher)
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW, OLD]):
        publisher.refresh_from_db()
        assert publisher_samcart_key(publisher=publisher) == KEY  # the old key still reads it
        out = io.StringIO()
        call_command("rotate_encryption_keys", stdout=out)
        assert "Re-encrypted 1 SamCart API key." in out.getvalue()
    after = _column(publisher)
    assert after != before
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW]):  # the old key dropped
        publisher.refresh_from_db()
        assert publisher_samcart_key(publisher=publisher) == KEY


def test_a_key_no_configured_key_reads_is_empty_and_never_logged(caplog):
    publisher = make_publisher()
    with override_settings(FIELD_ENCRYPTION_KEYS=[OLD]):
        publisher_set_samcart_key(publisher=publisher, key=KEY, actor=None)
    caplog.set_level(logging.DEBUG)
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW]):
        publisher.refresh_from_db()
        assert publisher_samcart_key(publisher=publisher) == ""
    assert "cannot be decrypted" in caplog.text and KEY not in caplog.text


def test_a_new_key_lifts_the_pause_and_empty_removes_it(caplog):
    caplog.set_level(logging.DEBUG)
    publisher = make_publisher()
    Publisher.objects.filter(pk=publisher.pk).update(samcart_key_refused_at=timezone.now())
    publisher.refresh_from_db()
    publisher_set_samcart_key(publisher=publisher, key=KEY, actor=None)
    publisher.refresh_from_db()
    assert publisher.samcart_key_refused_at is None
    publisher_set_samcart_key(publisher=publisher, key="", actor=None)
    publisher.refresh_from_db()
    assert (publisher.samcart_api_key, publisher.samcart_api_key_last4) == ("", "")
    assert KEY not in caplog.text


@pytest.mark.parametrize(
    "bad", ["short", "has a space in it", "tab\there-123", "x" * 201, "nul\x00key123"]
)
def test_a_malformed_key_is_refused(bad):
    publisher = make_publisher()
    with pytest.raises(ValueError, match=ERROR_KEY_FORMAT):
        publisher_set_samcart_key(publisher=publisher, key=bad, actor=None)
    publisher.refresh_from_db()
    assert publisher.samcart_api_key == ""
