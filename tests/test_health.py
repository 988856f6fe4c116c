"""`/healthz`: 200 while the database answers, 503 when it does not."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import OperationalError, connection
from django.urls import reverse

ROOT = Path(__file__).resolve().parent.parent

# Ask /healthz through the real stack in a fresh process whose database cannot be reached.
PROBE = """
import json, django
django.setup()
from django.test import Client
response = Client().get("/healthz")
print(json.dumps({"status": response.status_code, "body": response.json()}))
"""


@pytest.mark.django_db
def test_healthz_answers_ok_when_the_database_answers(client, django_assert_num_queries):
    with django_assert_num_queries(1):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok", "database": "ok"}
    assert reverse("healthz") == "/healthz"


@pytest.mark.django_db
def test_healthz_answers_head_for_monitors(client):
    assert client.head("/healthz").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_healthz_refuses_writes(client, method):
    assert getattr(client, method)("/healthz").status_code == 405


@pytest.mark.django_db
def test_healthz_answers_503_when_the_database_driver_fails(client, monkeypatch):
    """`connection.cursor` stands in for the driver: it raises what psycopg/sqlite3 would."""

    def unreachable(*args: object, **kwargs: object) -> None:
        raise OperationalError("connection to server at 127.0.0.1, port 5432 failed")

    monkeypatch.setattr(connection, "cursor", unreachable)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] != "ok"
    assert body == {"status": "unavailable", "database": "unreachable"}
    assert "5432" not in response.content.decode()  # the driver's message is not exposed


def probe_with(database_url: str) -> dict:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "SECRET_KEY"} and not key.startswith("DJANGO_")
    }
    env |= {"DJANGO_SETTINGS_MODULE": "trepstar.settings_test", "DATABASE_URL": database_url}
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_healthz_answers_503_when_sqlite_cannot_open_its_file(tmp_path):
    missing = tmp_path / "no-such-directory" / "db.sqlite3"
    answer = probe_with(f"sqlite:///{missing}")
    assert answer == {"status": 503, "body": {"status": "unavailable", "database": "unreachable"}}


def test_healthz_answers_503_when_postgresql_refuses_the_connection():
    # Port 1 on localhost: nothing listens there, so the connection is refused at once.
    answer = probe_with("postgres://nobody@127.0.0.1:1/nothing")
    assert answer == {"status": 503, "body": {"status": "unavailable", "database": "unreachable"}}
