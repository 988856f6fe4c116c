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
