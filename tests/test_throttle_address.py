"""Issue 17, point 10 (SPEC §4): failed idpub/key checks are also limited per client address,
whatever the idpubs: 30 failures a minute from one address, then 429 `rejected`, not stored.

Before, the limit counted per (address, idpub) only: 300 key-less POSTs from one address to 300
random idpubs answered 300 × 404 and stored 300 rows. A request with the right key is never
refused, and the limit still fails open when the cache is down.
"""

from __future__ import annotations

import logging
import random
import time

import pytest
from django.test import Client

from fulfillment.models import Notification, Order, Outcome, Publisher, RefusedRequestTally
from tests.factories import make_project, make_publisher, notify_path, sample

pytestmark = pytest.mark.django_db

ADDRESS_LIMIT = 30  # SPEC §4: failures a minute from one address, whatever the idpubs
ATTACKER = "203.0.113.66"


def fresh_window() -> None:
    """Wait for a new one-minute window when less than 20 s are left in the current one."""
    left = 60 - time.time() % 60
    if left < 20:
        time.sleep(left + 0.05)


def random_idpubs(count: int) -> list[str]:
    """Return `count` distinct well-formed idpubs that name no publisher."""
    taken = set(Publisher.objects.values_list("idpub", flat=True))
    picked = random.Random(17).sample(range(100_000_000, 999_999_999), count + len(taken))
    return [str(n) for n in picked if str(n) not in taken][:count]


def post_keyless(client: Client, idpub: str, *, addr: str = ATTACKER) -> int:
    return client.post(
        f"/samcart/notify/?idpub={idpub}",
        data=b"{}",
        content_type="application/json",
        REMOTE_ADDR=addr,
    ).status_code


def test_300_keyless_posts_to_300_random_idpubs_store_30_rows_and_answer_429():
    fresh_window()
    client = Client()

    statuses = [post_keyless(client, idpub) for idpub in random_idpubs(300)]

    assert statuses == [404] * ADDRESS_LIMIT + [429] * (300 - ADDRESS_LIMIT)
    assert Notification.objects.count() == ADDRESS_LIMIT
    # Another address is not affected by this one's failures.
    assert post_keyless(client, random_idpubs(1)[0], addr="198.51.100.1") == 404


def test_a_429_for_an_unknown_idpub_is_logged_once_per_window_and_stores_nothing(caplog):
    fresh_window()
    client = Client()
    with caplog.at_level(logging.WARNING, logger="fulfillment.services.throttle"):
        statuses = [post_keyless(client, idpub) for idpub in random_idpubs(ADDRESS_LIMIT + 5)]

    assert statuses.count(429) == 5
    warnings = [r.getMessage() for r in caplog.records if ATTACKER in r.getMessage()]
    assert len(warnings) == 1
    assert Notification.objects.count() == ADDRESS_LIMIT
    assert not RefusedRequestTally.objects.exists()


def test_after_the_address_limit_a_known_publishers_wrong_keys_are_tallied_not_stored(
    funded_publisher,
):
    fresh_window()
    client = Client()
    for idpub in random_idpubs(ADDRESS_LIMIT):
        post_keyless(client, idpub)

    wrong = client.post(
        notify_path(funded_publisher, key="wrong"),
        data=b"{}",
        content_type="application/json",
        REMOTE_ADDR=ATTACKER,
    )

    assert wrong.status_code == 429
    assert wrong.json()["outcome"] == Outcome.REJECTED
    assert not Notification.objects.filter(publisher=funded_publisher).exists()
    tally = RefusedRequestTally.objects.get(publisher=funded_publisher)
    assert (tally.count, tally.last_remote_addr) == (1, ATTACKER)


def test_a_right_key_from_a_limited_address_is_never_refused(funded_publisher):
    make_project(funded_publisher, "555001", title="Kept working")
    fresh_window()
    client = Client()
    for idpub in random_idpubs(ADDRESS_LIMIT + 10):
        post_keyless(client, idpub)

    good = client.post(
        notify_path(funded_publisher),
        data=sample("order_products_array"),
        content_type="application/json",
        REMOTE_ADDR=ATTACKER,
    )
    check = client.get(notify_path(funded_publisher), REMOTE_ADDR=ATTACKER)

    assert good.status_code == 200 and good.json()["outcome"] == Outcome.CREATED
    assert Order.objects.filter(publisher=funded_publisher).count() == 1
    assert check.status_code == 200


def test_url_checks_by_get_are_limited_per_address_too():
    fresh_window()
    client = Client()

    statuses = [
        client.get(f"/samcart/notify/?idpub={idpub}&key=x", REMOTE_ADDR=ATTACKER).status_code
        for idpub in random_idpubs(ADDRESS_LIMIT + 3)
    ]

    assert statuses == [404] * ADDRESS_LIMIT + [429] * 3


def test_the_address_limit_fails_open_when_the_cache_is_down(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
        }
    }
    client = Client()

    statuses = [post_keyless(client, idpub) for idpub in random_idpubs(ADDRESS_LIMIT + 2)]

    assert statuses == [404] * (ADDRESS_LIMIT + 2)


def test_the_per_idpub_limit_still_answers_before_the_address_limit():
    publisher = make_publisher()
    fresh_window()
    client = Client()

    statuses = [
        client.post(
            notify_path(publisher, key="wrong"),
            data=b"{}",
            content_type="application/json",
            REMOTE_ADDR=ATTACKER,
        ).status_code
        for _ in range(12)
    ]

    assert statuses == [403] * 10 + [429] * 2
