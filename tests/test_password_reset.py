"""Issue 17, point 12 (SPEC §14, §16): password reset e-mails link to PUBLIC_BASE_URL and are
throttled per login and per client address, answering the same page either way.

Before, the link followed the request's Host header (`Host: 127.0.0.1:6666` gave a link to
port 6666) whatever PUBLIC_BASE_URL said, and 21 reset requests in a second sent 21 e-mails to
one address. Mail goes to a real SMTP server (aiosmtpd, tests/smtp.py).
"""

from __future__ import annotations

import re

import pytest
from django.test import Client

from tests.factories import make_publisher, make_publisher_user

pytestmark = pytest.mark.django_db

RESET = "/admin/password_reset/"
DONE = "/admin/password_reset/done/"
PER_ACCOUNT = 3  # reset e-mails per login and hour
PER_CLIENT = 10  # reset requests per client address and hour


def login_with_email(email: str):
    user = make_publisher_user(make_publisher())
    user.email = email
    user.save()
    return user


def reset_links(smtp_server) -> list[str]:
    links = []
    for message in smtp_server.inbox.messages:
        text = message.get_body(preferencelist=("plain",)).get_content()
        links += [u for u in re.findall(r"https?://\S+", text) if "/reset/" in u]
    return links


def ask(client: Client, email: str, **extra) -> tuple[int, str]:
    response = client.post(RESET, {"email": email}, **extra)
    return response.status_code, response.get("Location", "")


def test_the_link_uses_public_base_url_not_the_requests_host(smtp_server, settings):
    settings.PUBLIC_BASE_URL = "https://fulfil.trepstar.example:8443"
    settings.ALLOWED_HOSTS = ["127.0.0.1", "testserver"]
    login_with_email("reader@example.com")

    ask(Client(), "reader@example.com", HTTP_HOST="127.0.0.1:6666")

    [link] = reset_links(smtp_server)
    assert link.startswith("https://fulfil.trepstar.example:8443/reset/")
    [message] = smtp_server.inbox.messages
    html = message.get_body(preferencelist=("html",)).get_content()
    assert 'href="https://fulfil.trepstar.example:8443/reset/' in html
    # The request's host and port nowhere (a bare "6666" may occur in the random token).
    assert "127.0.0.1:6666" not in message.as_string()
    assert not re.search(r"\b127\.0\.0\.1\b", message.as_string())


def test_without_public_base_url_the_link_follows_the_browsers_address(smtp_server, settings):
    settings.PUBLIC_BASE_URL = ""
    login_with_email("reader@example.com")

    ask(Client(), "reader@example.com")

    [link] = reset_links(smtp_server)
    assert link.startswith("http://testserver/reset/")


def test_21_requests_in_a_row_send_3_emails_and_all_answer_the_same_page(smtp_server):
    login_with_email("reader@example.com")
    client = Client()

    answers = {ask(client, "reader@example.com", REMOTE_ADDR=f"198.51.100.{n}") for n in range(21)}

    assert answers == {(302, DONE)}
    assert len(smtp_server.inbox.messages) == PER_ACCOUNT
    assert {m["To"] for m in smtp_server.inbox.messages} == {"reader@example.com"}


def test_one_client_address_gets_at_most_its_cap_of_requests_whatever_the_accounts(smtp_server):
    emails = [login_with_email(f"reader{n}@example.com").email for n in range(PER_CLIENT + 4)]
    client = Client()

    answers = {ask(client, email, REMOTE_ADDR="203.0.113.50") for email in emails}
    other = ask(client, emails[-1], REMOTE_ADDR="203.0.113.51")

    assert answers == {(302, DONE)} and other == (302, DONE)
    sent = [m["To"] for m in smtp_server.inbox.messages]
    assert sent == [*emails[:PER_CLIENT], emails[-1]]


def test_unknown_and_throttled_addresses_get_the_same_answer_as_a_known_one(smtp_server):
    login_with_email("reader@example.com")
    client = Client()

    known = ask(client, "reader@example.com")
    unknown = ask(client, "nobody@example.com")
    throttled = [ask(client, "reader@example.com") for _ in range(PER_ACCOUNT + 1)][-1]

    assert known == unknown == throttled == (302, DONE)


def test_a_cache_outage_still_sends_the_reset_email(smtp_server, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
        }
    }
    login_with_email("reader@example.com")

    assert ask(Client(), "reader@example.com") == (302, DONE)
    assert len(smtp_server.inbox.messages) == 1
