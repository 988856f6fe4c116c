"""The Notify URL stores a request whatever its URL and headers hold (PostgreSQL refuses NUL)."""

from __future__ import annotations

import pytest
from django.test import Client

from fulfillment.models import Notification


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "content_type", "status"),
    [
        ("idpub=%00&key=x", "application/json", 400),
        ("idpub=12%0034&key=x", "application/json", 400),
        ("idpub=%00", "application/json\x00evil", 400),
    ],
)
def test_nul_in_idpub_or_content_type_is_stored_not_a_500(query, content_type, status):
    response = Client().generic(
        "POST", f"/samcart/notify/?{query}", data=b"{}", content_type=content_type
    )
    assert response.status_code == status
    stored = Notification.objects.get(pk=response.json()["notification"])
    assert "\x00" not in stored.idpub_given
    assert "\x00" not in stored.content_type


@pytest.mark.django_db
def test_nul_in_content_type_with_the_right_key_is_processed(funded_publisher):
    url = f"/samcart/notify/?idpub={funded_publisher.idpub}&key={funded_publisher.notify_key}"
    response = Client().generic("POST", url, data=b"", content_type="application/json\x00x")
    assert response.status_code == 400
    assert Notification.objects.filter(pk=response.json()["notification"]).exists()
