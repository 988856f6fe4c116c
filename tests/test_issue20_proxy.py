"""Issue 20, point 1: production settings behind a TLS proxy, and the documented plain-HTTP
trial (docs/operator.md), served by a real gunicorn with the shipped gunicorn.conf.py.

Before, docs/operator.md's production command redirected every page to https with no proxy
example and no documented way to try it on plain HTTP first. gunicorn itself trusts
X-Forwarded-Proto from loopback; `FORWARDED_ALLOW_IPS` is set to an address nobody uses so
only Django's BEHIND_TLS_PROXY setting can make the header count.
"""

from __future__ import annotations

import pytest

from tests.served import TRIAL, Browser, gunicorn, manage, production_env

LOGIN = "/admin/login/"
NOT_GUNICORN = {"FORWARDED_ALLOW_IPS": "192.0.2.1"}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A migrated database and collected static files, as docs/operator.md's steps make."""
    tmp_path = tmp_path_factory.mktemp("proxy")
    env = production_env(tmp_path)
    for step in (["migrate", "--noinput"], ["collectstatic", "--noinput"]):
        done = manage(env, *step, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
    return env, tmp_path


def test_production_settings_redirect_plain_http_to_https(site):
    env, tmp_path = site
    with gunicorn(env | NOT_GUNICORN, tmp_path / "prod.log") as base:
        answer = Browser(base).get(LOGIN)
        assert answer.status == 301
        assert answer.location.startswith("https://127.0.0.1:")
        # Without BEHIND_TLS_PROXY the proxy's header is not believed.
        spoofed = Browser(base, headers={"X-Forwarded-Proto": "https"}).get(LOGIN)
        assert spoofed.status == 301


def test_behind_the_proxy_its_https_header_is_trusted(site):
    env, tmp_path = site
    with gunicorn(env | NOT_GUNICORN | {"BEHIND_TLS_PROXY": "1"}, tmp_path / "proxy.log") as base:
        assert Browser(base).get(LOGIN).status == 301  # plain HTTP straight to gunicorn
        proxied = Browser(base, headers={"X-Forwarded-Proto": "https"})
        page = proxied.get(LOGIN)
        assert page.status == 200 and 'name="password"' in page.text
        assert "Strict-Transport-Security" in page.headers
        cookie = page.headers.get("Set-Cookie", "")
        assert "csrftoken=" in cookie and "Secure" in cookie


def test_the_plain_http_trial_serves_and_logs_in_without_https(site):
    env, tmp_path = site
    done = manage(
        env | {"DJANGO_SUPERUSER_PASSWORD": "Trial-Pass-4471"},
        "createsuperuser",
        "--noinput",
        "--username",
        "trial",
        "--email",
        "trial@trepstar.example",
    )
    assert done.returncode == 0, done.stderr
    with gunicorn(env | NOT_GUNICORN | TRIAL, tmp_path / "trial.log") as base:
        browser = Browser(base)
        page = browser.get(LOGIN)
        assert page.status == 200 and 'name="password"' in page.text
        assert "Secure" not in page.headers.get("Set-Cookie", "")
        assert browser.log_in("trial", "Trial-Pass-4471").location == "/admin/"
        assert browser.get("/admin/").status == 200


# The client's address behind the proxy ------------------------------------------------------


def wrong_logins(client, username: str, forwarded: str, times: int = 5) -> None:
    for _ in range(times):
        client.post(
            LOGIN,
            {"username": username, "password": "wrong", "next": "/admin/"},
            HTTP_X_FORWARDED_FOR=forwarded,
        )


def right_login(username: str, password: str, forwarded: str) -> int:
    from django.test import Client

    return (
        Client()
        .post(
            LOGIN,
            {"username": username, "password": password, "next": "/admin/"},
            HTTP_X_FORWARDED_FOR=forwarded,
        )
        .status_code
    )


@pytest.mark.django_db
def test_behind_the_proxy_the_lockout_counts_each_client_address_apart(client, settings):
    from tests.factories import make_publisher, make_publisher_user

    settings.TRUSTED_PROXY_COUNT = 1
    make_publisher_user(make_publisher(), "ada", "Ada-Pass-9920")
    # The client wrote the left entry itself; the proxy appended the real address.
    wrong_logins(client, "ada", "198.51.100.1, 203.0.113.9")
    assert right_login("ada", "Ada-Pass-9920", "203.0.113.9") != 302  # that client is locked
    assert right_login("ada", "Ada-Pass-9920", "198.51.100.1, 203.0.113.10") == 302


@pytest.mark.django_db
def test_without_a_trusted_proxy_the_header_is_ignored(client, settings):
    from tests.factories import make_publisher, make_publisher_user

    settings.TRUSTED_PROXY_COUNT = 0
    make_publisher_user(make_publisher(), "ada", "Ada-Pass-9920")
    wrong_logins(client, "ada", "203.0.113.9")
    # Every request came from 127.0.0.1 whatever the header said: locked for all.
    assert right_login("ada", "Ada-Pass-9920", "203.0.113.10") != 302


@pytest.mark.parametrize(
    ("header", "proxies", "client"),
    [
        ("203.0.113.9", 1, "203.0.113.9"),
        ("1.2.3.4, 203.0.113.9", 1, "203.0.113.9"),
        ("1.2.3.4, 203.0.113.9, 10.0.0.2", 2, "203.0.113.9"),
        ("2001:db8::1", 1, "2001:db8::1"),
        ("203.0.113.9", 2, None),  # fewer hops than proxies
        ("not-an-address", 1, None),
        ("", 1, None),
        ("203.0.113.9\x00", 1, None),
        ("203.0.113.9", 0, None),
    ],
)
def test_the_forwarded_client_is_the_entry_the_last_trusted_proxy_wrote(header, proxies, client):
    from fulfillment.forwarded import forwarded_client

    assert forwarded_client(header, proxies) == client
