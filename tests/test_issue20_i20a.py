"""Issue 20, points 6, 7, 13 and 15: the Add-publisher page's ID, quiet 403s and commands,
the words publishers and staff read, and the Notify URL key hidden from viewers."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from fulfillment.admin.publishers import IDPUB_PENDING
from fulfillment.models import Publisher
from tests.factories import make_staff_user

pytestmark = pytest.mark.django_db

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
