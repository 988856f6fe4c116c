"""Issue 8, finding 3 (SPEC §4): a flood of requests with a wrong key neither fills the database
nor drowns the publisher's log. Failed idpub/key checks are limited per client address and
idpub (10 a minute, then 429 `rejected`, counted and not stored), on Django's shared cache.

Only names that existed before the issue are imported at module level, so this file runs
against the old code and fails there on behaviour, not on an import.
"""

from __future__ import annotations

import time
import uuid

import pytest
from django.core.cache import caches as caches_handler
from django.db.models import Sum
from django.test import Client, override_settings

from fulfillment.models import Notification, Order, Outcome
from tests.factories import make_project, make_publisher, notify_path, sample
from tests.threads import run_together

pytestmark = pytest.mark.django_db

LIMIT = 10  # SPEC §4: 429 after 10 failed key checks in a minute per address and idpub
KIB = 1024
FLOOD_BODY = b'{"type": "Order", "pad": "' + b"x" * (70 * KIB) + b'"}'  # 70 KB, as reported
REDIS_URL = "redis://127.0.0.1:6379/13"


def fresh_window() -> None:
    """Wait for a new one-minute window when less than 20 s are left in the current one.

    The limit counts per fixed minute; a burst straddling two minutes may store twice the
    limit, which is the documented behaviour, but would make a count assertion ambiguous.
    """
    left = 60 - time.time() % 60
    if left < 20:
        time.sleep(left + 0.05)


def post(client: Client, publisher, body: bytes = FLOOD_BODY, *, key: str = "wrong", addr=None):
    extra = {"REMOTE_ADDR": addr} if addr else {}
    return client.post(
        notify_path(publisher, key=key), data=body, content_type="application/json", **extra
    )


def refused_count(publisher) -> int:
    from fulfillment.models import RefusedRequestTally

    total = RefusedRequestTally.objects.filter(publisher=publisher).aggregate(n=Sum("count"))
    return total["n"] or 0


def flood(publisher, *, threads: int = 4, each: int = 50) -> list[int]:
    """POST `threads` × `each` 70 KB bodies with a wrong key at once; return the statuses."""

    def job() -> list[int]:
        client = Client()
        return [post(client, publisher).status_code for _ in range(each)]

    results = run_together([job] * threads)
    statuses: list[int] = []
    for result in results:
        assert not isinstance(result, BaseException), result
        statuses.extend(result)
    return statuses


def assert_flood_contained(publisher, statuses: list[int]) -> None:
    assert statuses.count(403) == LIMIT
    assert statuses.count(429) == len(statuses) - LIMIT
    stored = Notification.objects.filter(publisher=publisher)
    assert stored.count() == LIMIT
    assert all(len(bytes(n.raw_body)) <= 4 * KIB for n in stored)
    assert all(n.body_truncated and n.body_size == len(FLOOD_BODY) for n in stored)
    assert refused_count(publisher) == len(statuses) - LIMIT


def test_a_flood_with_a_wrong_key_stores_ten_small_rows_and_counts_the_rest():
    publisher = make_publisher()
    fresh_window()
    client = Client()

    statuses = [post(client, publisher).status_code for _ in range(60)]

    assert statuses[:LIMIT] == [403] * LIMIT
    assert_flood_contained(publisher, statuses)
    refused = post(client, publisher)
    assert refused.status_code == 429
    assert refused.json()["outcome"] == Outcome.REJECTED
    assert "Too many requests with a wrong key" in refused.json()["detail"]
    assert "notification" not in refused.json()
    assert refused["Retry-After"] == "60"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_200_concurrent_70kb_posts_from_4_threads_store_at_most_10_rows():
    publisher = make_publisher()
    fresh_window()

    statuses = flood(publisher)

    assert_flood_contained(publisher, statuses)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_limit_holds_across_processes_on_redis():
    """Production's shared cache: the counter is atomic in Redis, not in one process's memory."""
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("Redis is not running at 127.0.0.1:6379 (CI starts it)")
    caches = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": f"test-{uuid.uuid4().hex}",  # no collision with any other run
        }
    }
    publisher = make_publisher()
    with override_settings(CACHES=caches):
        assert type(caches_handler["default"]).__name__ == "RedisCache"
        fresh_window()
        statuses = flood(publisher)
        prefix = caches["default"]["KEY_PREFIX"]
        counted = list(redis.Redis.from_url(REDIS_URL).scan_iter(f"{prefix}*"))
    assert counted, "the counter lives in Redis"
    assert_flood_contained(publisher, statuses)


def test_a_right_key_is_never_refused_while_the_address_is_limited(funded_publisher):
    make_project(funded_publisher, "555001", title="Kept working")
    fresh_window()
    client = Client()
    for _ in range(LIMIT + 5):
        post(client, funded_publisher, b"{}")

    good = client.post(
        notify_path(funded_publisher),
        data=sample("order_products_array"),
        content_type="application/json",
    )

    assert good.status_code == 200
    assert good.json()["outcome"] == Outcome.CREATED
    assert Order.objects.filter(publisher=funded_publisher).count() == 1
    assert post(client, funded_publisher, b"{}").status_code == 429


def test_right_keys_never_count_as_failures(funded_publisher):
    fresh_window()
    client = Client()
    body = b'{"type": "Refund", "order": {"id": 1}}'
    answers = [
        post(client, funded_publisher, body, key=funded_publisher.notify_key) for _ in range(30)
    ]

    assert {a.status_code for a in answers} == {200}
    assert post(client, funded_publisher, b"{}").status_code == 403  # a first failure only


def test_the_limit_is_per_client_address(funded_publisher):
    fresh_window()
    client = Client()
    for _ in range(LIMIT):
        post(client, funded_publisher, b"{}", addr="198.51.100.7")

    assert post(client, funded_publisher, b"{}", addr="198.51.100.7").status_code == 429
    assert post(client, funded_publisher, b"{}", addr="198.51.100.8").status_code == 403
    tally_addr = _tally(funded_publisher).last_remote_addr
    assert tally_addr == "198.51.100.7"


def _tally(publisher):
    from fulfillment.models import RefusedRequestTally

    return RefusedRequestTally.objects.get(publisher=publisher)


def test_unknown_and_malformed_idpubs_are_limited_too_and_store_nothing_then():
    fresh_window()
    client = Client()
    unknown = "/samcart/notify/?idpub=100000001&key=x"
    statuses = [
        client.post(unknown, data=b"{}", content_type="application/json").status_code
        for _ in range(LIMIT + 3)
    ]
    assert statuses == [404] * LIMIT + [429] * 3
    assert Notification.objects.count() == LIMIT

    # Every malformed idpub shares one counter per address: garbage buys no fresh window.
    statuses = [
        client.post(
            f"/samcart/notify/?idpub=x{n}", data=b"{}", content_type="application/json"
        ).status_code
        for n in range(LIMIT + 3)
    ]
    assert statuses == [400] * LIMIT + [429] * 3
    assert Notification.objects.count() == 2 * LIMIT


def test_a_url_check_by_get_is_limited_but_a_right_key_still_passes(funded_publisher):
    fresh_window()
    client = Client()
    bad = [client.get(notify_path(funded_publisher, key="nope")).status_code for _ in range(12)]

    assert bad == [403] * LIMIT + [429, 429]
    assert client.get(notify_path(funded_publisher)).status_code == 200
    assert Notification.objects.count() == 0  # GET stores nothing


def test_the_tally_is_one_row_per_publisher_and_hour(funded_publisher):
    fresh_window()
    client = Client()
    for _ in range(LIMIT + 4):
        post(client, funded_publisher, b"{}", addr="203.0.113.9")

    tally = _tally(funded_publisher)
    assert tally.count == 4
    assert tally.hour.minute == tally.hour.second == 0
    assert tally.last_remote_addr == "203.0.113.9"


def test_cache_url_redis_selects_djangos_builtin_backend():
    import environ

    config = environ.Env.cache_url_config("redis://127.0.0.1:6379/1")
    assert config["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert config["LOCATION"] == "redis://127.0.0.1:6379/1"
    assert environ.Env.cache_url_config("locmemcache://")["BACKEND"].endswith("LocMemCache")


def test_a_cache_outage_never_loses_a_notification(funded_publisher):
    """The limit fails open: with Redis unreachable, SamCart's orders still arrive (logged)."""
    down = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
        }
    }
    with override_settings(CACHES=down):
        good = Client().post(
            notify_path(funded_publisher),
            data=sample("order_products_array"),
            content_type="application/json",
        )
        bad = post(Client(), funded_publisher, b"{}")
        check = Client().get(notify_path(funded_publisher))

    assert good.status_code == 200 and good.json()["outcome"] == Outcome.CREATED
    assert bad.status_code == 403
    assert check.status_code == 200
