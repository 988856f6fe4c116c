"""Issue 8, finding 7 (SPEC §16): the production server's access log never holds the key.

A real gunicorn runs with the shipped `gunicorn.conf.py` and production settings on a fresh
SQLite file; the test GETs and POSTs a publisher's Notify URL with its real key and greps the
log. A control run with gunicorn's stock logger shows that the grep would see the key.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "gunicorn.conf.py"
STARTUP_LIMIT = 60  # seconds to wait for the server to answer (a readiness wait, not an assert)

CREATE_PUBLISHER = """
import json
from fulfillment.services.publishers import publisher_create
p = publisher_create(name="Log Press", email="log@example.com")
print(json.dumps({"idpub": p.idpub, "key": p.notify_key}))
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def production_env(tmp_path: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "GUNICORN_"))
        and key not in {"DATABASE_URL", "CACHE_URL", "DEBUG", "BIND", "PORT", "WEB_CONCURRENCY"}
    }
    return env | {
        "DJANGO_SETTINGS_MODULE": "trepstar.settings",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DEBUG": "0",
        "SECURE_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> tuple[dict[str, str], dict[str, str]]:
    """A migrated SQLite database with one publisher: (environment, {idpub, key})."""
    tmp_path = tmp_path_factory.mktemp("gunicorn")
    env = production_env(tmp_path)
    manage = [sys.executable, "manage.py"]
    subprocess.run(
        [*manage, "migrate", "--noinput"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    made = subprocess.run(
        [*manage, "shell", "-c", CREATE_PUBLISHER],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return env, json.loads(made.stdout.strip().splitlines()[-1])


def request(url: str, data: bytes | None = None) -> int:
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def serve_and_log(
    env: dict[str, str], publisher: dict[str, str], tmp_path: Path, *extra: str
) -> tuple[list[int], str]:
    """Run gunicorn with the shipped configuration, call the Notify URL, return statuses and log."""
    port = free_port()
    log_path = tmp_path / "gunicorn.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(CONFIG), *extra],
            cwd=ROOT,
            env=env | {"BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "1"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until_up(f"{base}/healthz", server)
            url = f"{base}/samcart/notify/?idpub={publisher['idpub']}&key={publisher['key']}"
            statuses = [
                request(url),
                request(url, b'{"type": "Refund", "order": {"id": 42}}'),
                request(url + "&test=1", b'{"type": "Cancel", "order": {"id": 43}}'),
            ]
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
    return statuses, log_path.read_text(errors="replace")


def wait_until_up(url: str, server: subprocess.Popen) -> None:
    for _ in range(STARTUP_LIMIT * 10):
        if server.poll() is not None:
            pytest.fail(f"gunicorn exited with {server.returncode}")
        try:
            if request(url) == 200:
                return
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(0.1)
    pytest.fail("gunicorn did not answer")


def test_the_shipped_configuration_keeps_the_key_out_of_the_access_log(site, tmp_path):
    env, publisher = site

    statuses, log = serve_and_log(env, publisher, tmp_path)

    assert statuses == [200, 200, 200]
    assert publisher["key"] not in log
    lines = [line for line in log.splitlines() if "/samcart/notify/" in line]
    assert len(lines) == 3, log  # one access line per request, in the shipped format
    assert f'"GET /samcart/notify/?idpub={publisher["idpub"]}&key=*** HTTP/1.1" 200' in log
    assert f'"POST /samcart/notify/?idpub={publisher["idpub"]}&key=*** HTTP/1.1" 200' in log
    assert "key=***&test=1 HTTP/1.1" in log


def test_control_gunicorns_stock_logger_writes_the_key(site, tmp_path):
    """Without the shipped logger class the same run leaks the key: the grep above can see it."""
    env, publisher = site

    _, log = serve_and_log(env, publisher, tmp_path, "--logger-class", "gunicorn.glogging.Logger")

    assert f"key={publisher['key']}" in log
