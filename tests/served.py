"""A real gunicorn on production settings, and a small cookie-keeping HTTP client, for the
operator's walks (tests/test_issue20_operator_walk.py, tests/test_issue20_proxy.py)."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.cookiejar import CookieJar
from pathlib import Path

from tests.staff_forms import main_form

ROOT = Path(__file__).resolve().parent.parent
STARTUP_LIMIT = 60  # seconds to wait for gunicorn to answer (a readiness wait)
# The plain-HTTP trial of docs/operator.md: production settings without the three HTTPS rules.
TRIAL = {"SECURE_SSL_REDIRECT": "0", "SESSION_COOKIE_SECURE": "0", "CSRF_COOKIE_SECURE": "0"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Return an environment of production settings (DEBUG=0) on a fresh SQLite file."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "GUNICORN_", "SECURE_", "AXES_"))
        and key
        not in {
            "DATABASE_URL",
            "CACHE_URL",
            "DEBUG",
            "BIND",
            "PORT",
            "WEB_CONCURRENCY",
            "SESSION_COOKIE_SECURE",
            "CSRF_COOKIE_SECURE",
            "BEHIND_TLS_PROXY",
            "EMAIL_URL",
            "PUBLIC_BASE_URL",
            "FORWARDED_ALLOW_IPS",
        }
    }
    return env | {
        "DJANGO_SETTINGS_MODULE": "trepstar.settings",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "STATIC_ROOT": str(tmp_path / "static"),
        "NOTIFY_SPOOL_DIR": str(tmp_path / "spool"),
        **extra,
    }


def manage(env: dict[str, str], *args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    """Run `python manage.py ARGS` in the checkout with `env`; return the finished process."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@contextmanager
def gunicorn(env: dict[str, str], log_path: Path) -> Iterator[str]:
    """Serve with the shipped gunicorn.conf.py on a free loopback port; yield the base URL."""
    port = free_port()
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py")],
            cwd=ROOT,
            env=env | {"BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "1"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_until_up(f"{base}/healthz", server, log_path)
            yield base
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)


def _wait_until_up(url: str, server: subprocess.Popen, log_path: Path) -> None:
    for _ in range(STARTUP_LIMIT * 10):
        if server.poll() is not None:
            raise AssertionError(f"gunicorn exited: {log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except urllib.error.HTTPError:
            return  # it answers (a redirect or an error page): up
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    raise AssertionError("gunicorn did not answer")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class Answer:
    """One HTTP answer: status, headers, body text."""

    def __init__(self, status: int, headers: object, body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.text = body.decode("utf-8", errors="replace")

    @property
    def location(self) -> str:
        return self.headers.get("Location", "")  # type: ignore[attr-defined]


class Browser:
    """Keeps cookies, never follows redirects, sends the CSRF token and Origin of forms."""

    def __init__(self, base: str, *, headers: dict[str, str] | None = None) -> None:
        self.base = base
        self.headers = headers or {}
        self.cookies = CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect()
        )

    def request(self, path: str, data: dict | None = None, **headers: str) -> Answer:
        url = path if path.startswith("http") else self.base + path
        body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
        req = urllib.request.Request(url, data=body, headers=self.headers | headers)
        try:
            with self.opener.open(req, timeout=30) as response:
                return Answer(response.status, response.headers, response.read())
        except urllib.error.HTTPError as error:
            return Answer(error.code, error.headers, error.read())

    def send(self, path: str, body: bytes, content_type: str) -> Answer:
        """POST a raw body (SamCart's notification), no cookies' token."""
        req = urllib.request.Request(
            self.base + path, data=body, headers={"Content-Type": content_type}
        )
        try:
            with self.opener.open(req, timeout=30) as response:
                return Answer(response.status, response.headers, response.read())
        except urllib.error.HTTPError as error:
            return Answer(error.code, error.headers, error.read())

    def get(self, path: str, **headers: str) -> Answer:
        return self.request(path, **headers)

    def post(self, path: str, data: dict, **headers: str) -> Answer:
        """POST with the CSRF cookie's token, as the admin's forms do."""
        token = next((c.value for c in self.cookies if c.name == "csrftoken"), "")
        scheme = "https" if self.headers.get("X-Forwarded-Proto") == "https" else "http"
        origin = scheme + "://" + urllib.parse.urlsplit(self.base).netloc
        return self.request(path, {"csrfmiddlewaretoken": token, **data}, Origin=origin, **headers)

    def submit(self, path: str, **changes: str) -> Answer:
        """GET a page's main form, change fields, POST it back."""
        page = self.get(path)
        assert page.status == 200, (path, page.status, page.text[:500])
        data = main_form(page.text)
        data.update({name: [value] for name, value in changes.items()})
        data.pop("csrfmiddlewaretoken", None)
        return self.post(path, data)

    def log_in(self, username: str, password: str) -> Answer:
        self.get("/admin/login/")
        return self.post("/admin/login/?next=/admin/", {"username": username, "password": password})
