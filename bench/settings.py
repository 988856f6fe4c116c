"""Bench-only settings: production settings plus two reference views (never in production).

`make bench` serves this module under gunicorn so the references run in the same processes,
middleware and database connections as the Notify URL they are compared with.
"""

from trepstar.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
