"""Settings for TrepStar Fulfillment, read from the environment (django-environ).

Development: `DEBUG=1` gives a local secret key and SQLite. Production: set `SECRET_KEY`,
`ALLOWED_HOSTS` and `DATABASE_URL`; the secure defaults below pass `check --deploy`.
"""

import os
from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

_DEV_SECRET_KEY = "dev-only-insecure-key-never-used-in-production"  # noqa: S105
SECRET_KEY = env.str("SECRET_KEY", default=_DEV_SECRET_KEY if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "axes",
    "django_tasks",
    "django_tasks_db",
    "fulfillment",
]

# Background work (SPEC §13): django-tasks on its database backend; `make worker` runs it.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

MIDDLEWARE = [
    # First: behind a reverse proxy, the client's address from X-Forwarded-For (forwarded.py).
    "fulfillment.forwarded.ForwardedClientMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "fulfillment.middleware.RefuseNulBytesMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # The viewer's time zone (SPEC §3 one clock): Django's own date rendering then uses it.
    "fulfillment.clock_middleware.ViewerTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes requires: turns a locked login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "trepstar.urls"
WSGI_APPLICATION = "trepstar.wsgi.application"
ASGI_APPLICATION = "trepstar.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # A database that does not answer must fail fast (health checks, requests), not hang.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The shared cache behind the Notify URL rate limit: local memory in development (one
# process), Redis in production so every web process counts together
# (`CACHE_URL=redis://127.0.0.1:6379/1` selects Django's built-in Redis backend).
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

# The Notify URL's spool (SPEC §4): bodies that arrive while the database is unreachable are
# kept here and replayed automatically. Local persistent disk, one per web host (docs/operator.md).
NOTIFY_SPOOL_DIR = Path(env.str("NOTIFY_SPOOL_DIR", default=str(BASE_DIR / "var" / "notify-spool")))
# Caps, so a flood during an outage cannot fill the disk: past them the answer is 503.
NOTIFY_SPOOL_MAX_BYTES = env.int("NOTIFY_SPOOL_MAX_BYTES", default=1024**3)
NOTIFY_SPOOL_MAX_FILES = env.int("NOTIFY_SPOOL_MAX_FILES", default=10_000)
# Replay in a thread of the web process that spooled (and at its start); the worker drains too.
NOTIFY_SPOOL_REPLAY = env.bool("NOTIFY_SPOOL_REPLAY", default=True)
# Threads of the worker's and `notify_spool --replay`'s replay, per process (one SamCart order
# per thread). Two processes of two threads replayed 25-40 % faster than two of four
# (BENCHMARKS.md, issue 21): more threads queue more charges on one publisher's row.
NOTIFY_SPOOL_REPLAY_THREADS = env.int("NOTIFY_SPOOL_REPLAY_THREADS", default=2)
# Processes of the same replay, for a large spool (one per 500 bodies, up to this many): one
# process replays what one core's Python runs, whatever its threads. PostgreSQL only.
NOTIFY_SPOOL_REPLAY_PROCESSES = env.int(
    "NOTIFY_SPOOL_REPLAY_PROCESSES", default=min(os.cpu_count() or 1, 4)
)
# Web processes of a host that replay the spool at once (two threads each); the rest serve.
NOTIFY_SPOOL_WEB_REPLAYERS = env.int("NOTIFY_SPOOL_WEB_REPLAYERS", default=2)
# Whether a Notify POST's processing transaction waits for its commit to reach the disk
# (PostgreSQL's synchronous_commit). The store's commit always waits: the body is safe before
# anything else. Off, a database crash in the ~0.6 s after a processing commit can undo that
# processing whole; the notification is then `pending` and the sweep processes it again.
NOTIFY_PROCESS_WAITS_FOR_DISK = env.bool("NOTIFY_PROCESS_WAITS_FOR_DISK", default=False)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# One clock (SPEC §3): every date and time on a page reads "2026-12-04 05:20 EST".
FORMAT_MODULE_PATH = ["fulfillment.formats"]

STATIC_URL = "static/"
# Where `collectstatic` puts the files whitenoise serves (a checkout's staticfiles/ by default).
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

EMAIL_CONFIG = env.email("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="fulfillment@trepstar.example")
# Where publishers are told to write to add funds or ask for help (account page, docs).
SUPPORT_EMAIL = env.str("SUPPORT_EMAIL", default="support@trepstar.example")

# Public base URL of Notify URLs (account page, admin, commands). Unset, pages use the address
# the browser used (a host Django accepts: ALLOWED_HOSTS) and commands http://127.0.0.1:8000;
# `make run` sets it from PORT. Set it in production: the URL SamCart must reach.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="")

# A daily job deletes finished task results, periodic-run slots, refused-request tallies and
# sent or failed alerts older than this many days (at least 1).
PRUNE_AFTER_DAYS = max(env.int("PRUNE_AFTER_DAYS", default=30), 1)

# The SamCart check (SPEC §17). Publishers' SamCart API keys are encrypted at rest with
# FIELD_ENCRYPTION_KEYS (comma-separated Fernet keys, the first encrypts, all decrypt: put a
# new key first to rotate, run `manage.py rotate_encryption_keys`, then drop the old one).
# Unset: one key derived from SECRET_KEY (changing SECRET_KEY then loses the stored keys).
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])
SAMCART_API_BASE_URL = env.str("SAMCART_API_BASE_URL", default="https://api.samcart.com/v1")
SAMCART_API_TIMEOUT = env.float("SAMCART_API_TIMEOUT", default=20.0)

# Security: secure by default, relaxed only for local development.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
# Load-balancer probes speak plain HTTP to the instance.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
X_FRAME_OPTIONS = "DENY"
BEHIND_TLS_PROXY = env.bool("BEHIND_TLS_PROXY", default=False)
if BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# How many proxies in front append to X-Forwarded-For (Caddy or nginx alone: 1); the client's
# address is the entry that many from the right (fulfillment/forwarded.py). 0: REMOTE_ADDR.
TRUSTED_PROXY_COUNT = max(env.int("TRUSTED_PROXY_COUNT", default=1 if BEHIND_TLS_PROXY else 0), 0)

LOGIN_URL = "admin:login"

# Login throttling (django-axes): after AXES_FAILURE_LIMIT wrong passwords for one username from
# one address, that pair is locked for AXES_COOLOFF_MINUTES (fulfillment/lockout.py).
AUTHENTICATION_BACKENDS = [
    "fulfillment.lockout.LoginThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "fulfillment.lockout.login_locked_response"
# No "AXES: BEGIN version …" banner on every start and every manage.py command; failed logins
# and lockouts are still logged (AXES_VERBOSE=1 brings the banner back).
AXES_VERBOSE = env.bool("AXES_VERBOSE", default=False)

# Content-Security-Policy on every response (django-csp): scripts and styles from our own
# static files only; the admin's shared <style> block carries the request's nonce. The API docs
# page widens it for itself (fulfillment/api/urls.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "fulfillment.api.pagination.Pages",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "TrepStar Fulfillment API",
    "VERSION": "1.0.0",
    # The schema and its docs need a login (token or session), like the API itself.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Swagger UI from our own static files (drf-spectacular-sidecar): pinned, works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # `<id:pk>` (fulfillment/ids.py): a whole number from 1 to the largest 64-bit key.
    "PATH_CONVERTER_OVERRIDES": {
        "id": {"type": "integer", "format": "int64", "minimum": 1, "maximum": 2**63 - 1}
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact_keys": {"()": "fulfillment.logging.RedactNotifyKeyFilter"},
        "no_4xx_traceback": {"()": "fulfillment.logging.NoTracebackForClientErrors"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["no_4xx_traceback", "redact_keys"],
        },
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Replace Django's own handlers (an unfiltered console, mail_admins) with ours.
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.request": {"handlers": ["console"], "level": "WARNING", "propagate": False},
    },
}
