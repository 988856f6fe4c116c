"""Settings come from the environment: production passes `check --deploy`, secrets are required.

Each case starts a fresh Python process, because settings are read once at import.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
DOTENV = ROOT / ".env"

# Variables the settings read; removed from the inherited environment (with every DJANGO_*
# variable, such as DJANGO_ALLOW_ASYNC_UNSAFE set by browser tests) so each case sets its own.
SETTINGS_VARIABLES = {
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "DATABASE_URL",
    "CONN_MAX_AGE",
    "EMAIL_URL",
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "BEHIND_TLS_PROXY",
    "LOG_LEVEL",
    "DJANGO_SETTINGS_MODULE",
}

SHOW_DATABASE = """
import json, django
from django.conf import settings
django.setup()
db = settings.DATABASES["default"]
print(json.dumps({key: db.get(key) for key in ("ENGINE", "NAME", "HOST", "PORT", "USER")}))
"""


def dotenv_sets(name: str) -> bool:
    """Tell whether a developer's .env file sets `name` (it would hide what a case unsets)."""
    if not DOTENV.exists():
        return False
    return any(
        line.strip().startswith((f"{name}=", f"export {name}="))
        for line in DOTENV.read_text().splitlines()
    )


def run(args: list[str], **variables: str) -> subprocess.CompletedProcess[str]:
    """Run python `args` in the project with only `variables` among the settings' variables."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in SETTINGS_VARIABLES and not key.startswith("DJANGO_")
    }
    env |= {"DJANGO_SETTINGS_MODULE": "trepstar.settings", **variables}
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def production_env() -> dict[str, str]:
    variables = {
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "example.com",
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    }
    if os.environ.get("DATABASE_URL"):
        variables["DATABASE_URL"] = os.environ["DATABASE_URL"]
    return variables


def test_production_settings_pass_the_deployment_checks():
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_the_deployment_checks_do_catch_an_insecure_setting():
    """Control: the same command fails when one secure default is turned off."""
    result = run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        **production_env(),
        SECURE_SSL_REDIRECT="0",
    )
    assert result.returncode != 0
    assert "security.W008" in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("keys", "found"),
    [("", "fulfillment.W010"), ("not-a-fernet-key", "fulfillment.E011")],
)
def test_the_deployment_checks_ask_for_a_real_encryption_key(keys, found):
    """SamCart API keys must not depend on SECRET_KEY in production (docs/operator.md)."""
    result = run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        **{**production_env(), "FIELD_ENCRYPTION_KEYS": keys},
    )
    assert result.returncode != 0
    assert found in result.stdout + result.stderr


@pytest.mark.parametrize(
    "secret_key",
    [pytest.param(None, id="unset"), pytest.param("", id="empty")],
)
def test_the_project_refuses_to_start_without_a_secret_key_when_debug_is_off(secret_key):
    if secret_key is None and dotenv_sets("SECRET_KEY"):
        pytest.skip(".env sets SECRET_KEY, so it cannot be unset here")
    variables = {"DEBUG": "0", "ALLOWED_HOSTS": "example.com"}
    if secret_key is not None:
        variables["SECRET_KEY"] = secret_key
    result = run(["manage.py", "check"], **variables)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY" in result.stderr


def test_debug_mode_starts_without_a_secret_key():
    """Development needs no setup: DEBUG=1 alone gives a local key."""
    if dotenv_sets("SECRET_KEY"):
        pytest.skip(".env sets SECRET_KEY")
    result = run(["manage.py", "check"], DEBUG="1")
    assert result.returncode == 0, result.stderr


def test_manage_py_on_a_bare_checkout_runs_in_development_mode():
    """No SECRET_KEY and no DEBUG: a developer's checkout, so manage.py works out of the box."""
    if dotenv_sets("SECRET_KEY") or dotenv_sets("DEBUG"):
        pytest.skip(".env sets SECRET_KEY or DEBUG")
    result = run(
        ["manage.py", "shell", "-c", "from django.conf import settings; print(settings.DEBUG)"]
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "True"


def test_the_web_server_gets_no_development_default():
    """The WSGI entry point refuses to start without a secret key, whatever manage.py does."""
    if dotenv_sets("SECRET_KEY") or dotenv_sets("DEBUG"):
        pytest.skip(".env sets SECRET_KEY or DEBUG")
    result = run(["-c", "import trepstar.wsgi"])
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_database_url_selects_postgresql():
    variables = production_env() | {
        "DATABASE_URL": "postgres://trep:pw@db.example.internal:6543/fulfillment"
    }
    result = run(["-c", SHOW_DATABASE], **variables)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "fulfillment",
        "HOST": "db.example.internal",
        "PORT": 6543,
        "USER": "trep",
    }


def test_without_database_url_the_default_is_sqlite():
    if dotenv_sets("DATABASE_URL"):
        pytest.skip(".env sets DATABASE_URL")
    variables = production_env()
    variables.pop("DATABASE_URL", None)
    result = run(["-c", SHOW_DATABASE], **variables)
    assert result.returncode == 0, result.stderr
    database = json.loads(result.stdout)
    assert database["ENGINE"] == "django.db.backends.sqlite3"
    assert database["NAME"] == str(ROOT / "db.sqlite3")


def test_the_suite_runs_on_the_database_it_was_given(settings):
    """CI sets DATABASE_URL to PostgreSQL; the suite must then really run on it."""
    engine = settings.DATABASES["default"]["ENGINE"]
    if os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        assert engine == "django.db.backends.postgresql"
    else:
        assert engine == "django.db.backends.sqlite3"
