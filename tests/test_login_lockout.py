"""Issue 8, finding 4 (SPEC §16): login attempts are throttled per account and address.

A publisher login can release orders, which spends money that is not refundable, so 25 wrong
passwords must not be followed by a successful 26th attempt. Only names that existed before the
issue are imported at module level (this file runs against the old code too).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.factories import make_publisher, make_publisher_user

pytestmark = pytest.mark.django_db

PASSWORD = "right-horse-battery-9"
LOGIN = "/admin/login/"
ADDRESS = "198.51.100.20"


@pytest.fixture
def login():
    make_publisher_user(make_publisher(name="Lockout Press"), "locky", PASSWORD)
    return "locky"


def attempt(username: str, password: str, *, address: str = ADDRESS, client=None):
    client = client or Client()
    response = client.post(
        LOGIN, {"username": username, "password": password, "next": "/admin/"}, REMOTE_ADDR=address
    )
    return client, response


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_25_wrong_passwords_then_the_right_one_is_refused_with_a_clear_message(login):
    for _ in range(25):
        _, response = attempt(login, "wrong-guess")
        assert response.status_code in (200, 429)

    client, response = attempt(login, PASSWORD)

    assert not logged_in(client)
    assert response.status_code == 429
    content = response.content.decode()
    assert "This login is locked: too many wrong passwords from your address." in content
    assert "Wait 15 minutes and try again, or ask TrepStar support to unlock it." in content
    assert 'name="password"' in content  # still the login page, with its form
    assert client.get(reverse("admin:index")).status_code == 302


def test_the_lock_starts_at_the_fifth_failure(login):
    for _ in range(4):
        attempt(login, "wrong-guess")
    client, _ = attempt(login, PASSWORD)
    assert logged_in(client)  # four failures: still allowed, and the count starts again

    for _ in range(5):
        attempt(login, "wrong-guess")
    client, response = attempt(login, PASSWORD)
    assert not logged_in(client) and response.status_code == 429


def test_the_lock_is_per_login_and_address(login):
    make_publisher_user(make_publisher(name="Neighbour Press"), "neighbour", PASSWORD)
    for _ in range(6):
        attempt(login, "wrong-guess")

    other_address, _ = attempt(login, PASSWORD, address="203.0.113.77")
    other_login, _ = attempt("neighbour", PASSWORD)

    assert logged_in(other_address)  # an attacker elsewhere cannot lock the publisher out
    assert logged_in(other_login)  # nor lock every login behind a shared office address


def test_the_lock_ends_after_the_cool_off(login):
    from axes.models import AccessAttempt

    for _ in range(6):
        attempt(login, "wrong-guess")
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))

    client, _ = attempt(login, PASSWORD)
    assert logged_in(client)


def test_staff_unlock_in_the_admin(login):
    from axes.models import AccessAttempt

    for _ in range(6):
        attempt(login, "wrong-guess")
    staff = Client()
    staff.force_login(
        get_user_model().objects.create_superuser("support", "support@trepstar.example", "x")
    )
    attempts = reverse("admin:axes_accessattempt_changelist")
    listed = staff.get(attempts, {"locked_out": "yes"})
    assert listed.status_code == 200 and login in listed.content.decode()
    locked = AccessAttempt.objects.get(username=login)

    staff.post(
        attempts, {"action": "delete_selected", "_selected_action": [locked.pk], "post": "yes"}
    )

    client, _ = attempt(login, PASSWORD)
    assert logged_in(client)


def test_staff_unlock_with_the_command(login):
    for _ in range(6):
        attempt(login, "wrong-guess")

    call_command("axes_reset_username", login)

    client, _ = attempt(login, PASSWORD)
    assert logged_in(client)


def test_a_locked_login_keeps_its_api_token_and_tests_keep_force_login(login):
    from rest_framework.authtoken.models import Token

    for _ in range(6):
        attempt(login, "wrong-guess")
    user = get_user_model().objects.get(username=login)
    token = Token.objects.create(user=user)

    api = Client().get(reverse("api-orders"), HTTP_AUTHORIZATION=f"Token {token.key}")
    forced = Client()
    forced.force_login(user)

    assert api.status_code == 200  # the token is another secret: no password is tried
    assert forced.get(reverse("account")).status_code == 200


@pytest.mark.django_db
def test_staff_group_may_unlock_logins_in_the_admin():
    """A staff member who is not a superuser can see and delete Axes' access attempts."""
    from fulfillment.services.accounts import groups_ensure
    from tests.factories import make_staff_user

    groups_ensure()
    staff = make_staff_user()
    assert staff.has_perm("axes.view_accessattempt")
    assert staff.has_perm("axes.delete_accessattempt")
