"""Issue 20, points 2 and 5: new logins get a "set your password" invitation by e-mail.

Before, staff had to choose a password for every new login and pass it on, and there was no
way to make a staff member who is not a superuser. Now the password fields of *New login…* are
optional (empty: an invitation with Django's one-time reset link), and `manage.py staff_login`
makes a staff-group login and invites it. Mail goes to a real SMTP server (tests/smtp.py).
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client

from fulfillment.admin.logins import NO_ADDRESS_NOR_CHOICE
from fulfillment.models import STAFF_GROUP, is_trepstar_staff
from tests.factories import make_publisher, make_staff_user

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Lantern-Quarry-58"


def links(smtp_server) -> list[str]:
    """Return the set-password links of every message received."""
    found = []
    for message in smtp_server.inbox.messages:
        text = message.get_body(preferencelist=("plain",)).get_content()
        found += [u for u in re.findall(r"https?://\S+", text) if "/reset/" in u]
    return found


def set_password(client: Client, link: str, password: str = NEW_PASSWORD):
    """Open the link as the person would and choose `password`; return the last answer."""
    path = re.sub(r"^https?://[^/]+", "", link)
    page = client.get(path, follow=True)
    form_path = page.redirect_chain[-1][0] if page.redirect_chain else path
    return client.post(
        form_path, {"new_password1": password, "new_password2": password}, follow=True
    )


def log_in(username: str, password: str) -> int:
    """Log in through the admin's login page; return the answer's status (302: logged in)."""
    answer = Client().post(
        "/admin/login/?next=/admin/", {"username": username, "password": password}
    )
    return answer.status_code


def staff_client() -> Client:
    client = Client()
    client.force_login(make_staff_user())
    return client


def test_new_login_without_password_gets_an_invitation_that_sets_it_once(smtp_server, settings):
    settings.PUBLIC_BASE_URL = "https://fulfil.trepstar.example"
    publisher = make_publisher(name="Quill & Lantern Press")
    answer = staff_client().post(
        f"/admin/fulfillment/publisher/{publisher.pk}/login/",
        {"username": "ines", "email": "ines@example.com", "role": "viewer"},
    )
    assert answer.status_code == 302, answer.content.decode()[:2000]
    user = get_user_model().objects.get(username="ines")
    assert not user.has_usable_password()
    assert log_in("ines", NEW_PASSWORD) == 200  # no password works yet

    [message] = smtp_server.inbox.messages
    assert message["To"] == "ines@example.com"
    assert "set your password" in message["Subject"]
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "Quill & Lantern Press" in text and "ines" in text
    [link] = links(smtp_server)
    assert link.startswith("https://fulfil.trepstar.example/reset/")

    person = Client()
    done = set_password(person, link)
    assert done.redirect_chain[-1][0] == "/reset/done/"
    assert log_in("ines", NEW_PASSWORD) == 302

    # Single use: the same link again shows the invalid-link page and changes nothing.
    again = set_password(Client(), link, "Another-Pass-991")
    assert b"invalid" in again.content
    assert log_in("ines", "Another-Pass-991") == 200
    assert log_in("ines", NEW_PASSWORD) == 302


def test_no_address_and_no_password_is_a_form_error_and_no_login(smtp_server):
    publisher = make_publisher()
    answer = staff_client().post(
        f"/admin/fulfillment/publisher/{publisher.pk}/login/",
        {"username": "nomail", "email": "", "role": "manager"},
    )
    assert answer.status_code == 200
    assert NO_ADDRESS_NOR_CHOICE in answer.content.decode()
    assert not get_user_model().objects.filter(username="nomail").exists()
    assert smtp_server.inbox.messages == []


def test_a_password_given_sends_no_invitation_and_works_at_once(smtp_server):
    publisher = make_publisher()
    answer = staff_client().post(
        f"/admin/fulfillment/publisher/{publisher.pk}/login/",
        {
            "username": "direct",
            "email": "direct@example.com",
            "role": "manager",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
    )
    assert answer.status_code == 302
    assert smtp_server.inbox.messages == []
    assert log_in("direct", NEW_PASSWORD) == 302


def test_one_password_field_alone_is_refused():
    publisher = make_publisher()
    answer = staff_client().post(
        f"/admin/fulfillment/publisher/{publisher.pk}/login/",
        {"username": "half", "email": "h@example.com", "role": "manager", "password1": "x"},
    )
    assert answer.status_code == 200
    assert not get_user_model().objects.filter(username="half").exists()


def test_staff_login_command_makes_a_staff_group_member_who_sets_a_password(smtp_server, settings):
    settings.PUBLIC_BASE_URL = "https://fulfil.trepstar.example"
    call_command("staff_login", "rosa", "--email", "rosa@trepstar.example")

    user = get_user_model().objects.get(username="rosa")
    assert user.is_active and user.is_staff and not user.is_superuser
    assert list(user.groups.values_list("name", flat=True)) == [STAFF_GROUP]
    assert is_trepstar_staff(user)
    assert not user.has_usable_password()
    [link] = links(smtp_server)
    assert "TrepStar staff" in smtp_server.inbox.messages[0].get_body(("plain",)).get_content()

    set_password(Client(), link)
    assert log_in("rosa", NEW_PASSWORD) == 302


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["rosa2", "--email", "not-an-address"], "--email takes an e-mail address"),
        (["bad name!", "--email", "a@example.com"], "The username must be"),
        (["taken", "--email", "a@example.com"], "is taken"),
    ],
)
def test_staff_login_command_refuses_bad_input(smtp_server, args, error):
    make_staff_user("taken")
    with pytest.raises(CommandError, match=error):
        call_command("staff_login", *args)
    assert smtp_server.inbox.messages == []


def test_a_mail_server_that_refuses_leaves_the_login_and_says_so(smtp_server, settings):
    settings.EMAIL_PORT = smtp_server.port + 1  # nothing listens there
    publisher = make_publisher()
    answer = staff_client().post(
        f"/admin/fulfillment/publisher/{publisher.pk}/login/",
        {"username": "later", "email": "later@example.com", "role": "viewer"},
        follow=True,
    )
    assert answer.status_code == 200
    assert "could not be sent" in answer.content.decode()
    assert get_user_model().objects.filter(username="later").exists()


def test_staff_login_command_with_mail_down_fails_loudly_and_prints_the_link(smtp_server, settings):
    settings.EMAIL_PORT = smtp_server.port + 1
    with pytest.raises(CommandError, match=r"could not be sent.*http://127\.0\.0\.1:8000/reset/"):
        call_command("staff_login", "mailless", "--email", "m@trepstar.example")


def test_an_invited_login_whose_link_expired_gets_a_new_one_from_the_reset_page(smtp_server):
    """An invited login has no usable password; Django's form would mail it nothing."""
    publisher = make_publisher(name="Harbor Books")
    staff_client().post(
        f"/admin/fulfillment/publisher/{publisher.pk}/login/",
        {"username": "late-reader", "email": "late@harbor.example", "role": "viewer"},
    )
    user = get_user_model().objects.get(username="late-reader")
    assert not user.has_usable_password()
    smtp_server.inbox.messages.clear()

    Client().post("/admin/password_reset/", {"email": "LATE@harbor.example"})

    [link] = links(smtp_server)
    assert set_password(Client(), link).status_code == 200
    assert log_in("late-reader", NEW_PASSWORD) == 302
