"""Issue 17, point 1 (SPEC §4): the database goes away under a real gunicorn; no sale is lost.

A real gunicorn (the shipped gunicorn.conf.py, production settings, `CONN_MAX_AGE` as shipped)
reaches the PostgreSQL test database through a TCP proxy of the test (tests/tcp_proxy.py).
Threads post purchases while the proxy is cut and restored; the answers are read, then the
database: every purchase answered 2xx has exactly one order, and the spool empties by itself
(the server's replay thread), with no manual step. A second test SIGKILLs the server while
bodies sit in its spool and starts it again.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from django.db import connection

from fulfillment.models import Notification, Order
from tests.factories import make_project, make_publisher
from tests.invariants import order_body
from tests.tcp_proxy import TcpProxy
from tests.test_gunicorn import CONFIG, ROOT, free_port, production_env, wait_until_up

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 6
BURST = 4.0  # seconds of purchases
CUT_AT, CUT_FOR = 1.5, 1.5  # seconds into the burst, seconds away
SETTLE = 60  # seconds the spool may take to empty (a readiness wait, not a timing assert)


class Server:
    """gunicorn with the shipped configuration, its database behind `proxy`."""

    def __init__(self, tmp_path: Path, proxy: TcpProxy) -> None:
        db = connection.settings_dict
        self.spool = tmp_path / "spool"
        self.log = tmp_path / "gunicorn.log"
        self.port = free_port()
        self.env = production_env(tmp_path) | {
            "DATABASE_URL": f"postgres://{db['USER']}@127.0.0.1:{proxy.port}/{db['NAME']}",
            "NOTIFY_SPOOL_DIR": str(self.spool),
            "BIND": f"127.0.0.1:{self.port}",
            "WEB_CONCURRENCY": "2",  # two processes: both replay, a file lock keeps one each
        }
        self.base = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(CONFIG)],
            cwd=ROOT,
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until_up(f"{self.base}/healthz", self.process)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            self.process.wait(timeout=60)

    def spooled(self) -> list[str]:
        return sorted(p.name for p in self.spool.glob("*.notify")) if self.spool.exists() else []


def _post(url: str, body: bytes) -> tuple[int, str, bytes]:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


def _notify_url(server: Server, publisher) -> str:
    return f"{server.base}/samcart/notify/?idpub={publisher.idpub}&key={publisher.notify_key}"


def _wait_for(what, server: Server) -> None:
    deadline = time.monotonic() + SETTLE
    while time.monotonic() < deadline:
        if what():
            return
        time.sleep(0.2)
    pytest.fail(f"gave up waiting; spool: {server.spooled()}\n{server.log.read_text()[-3000:]}")


def _orders_per_purchase(order_ids: list[int]) -> Counter:
    found = Counter(Order.objects.values_list("external_order_id", flat=True))
    return Counter({order_id: found[str(order_id)] for order_id in order_ids})


@pytest.fixture
def publisher():
    publisher = make_publisher(balance="100000.00")
    make_project(publisher, "279813", unit_cost="1.00", shipping_cost="0.00")
    return publisher


@pytest.fixture
def proxy():
    db = connection.settings_dict
    with TcpProxy(db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432)) as proxy:
        yield proxy


def test_a_database_cut_during_a_burst_loses_no_sale_and_answers_only_json(
    publisher, proxy, tmp_path
):
    server = Server(tmp_path, proxy)
    server.start()
    url = _notify_url(server, publisher)
    answers: list[tuple[int, int, str, bytes, bool]] = []
    started = time.monotonic()

    def buyer(n: int) -> None:
        count = 0
        while time.monotonic() - started < BURST:
            order_id = 100_000 * (n + 1) + count
            cut = not proxy.up.is_set()
            status, kind, body = _post(url, order_body(order_id=order_id))
            answers.append((order_id, status, kind, body, cut or not proxy.up.is_set()))
            count += 1

    def outage() -> None:
        time.sleep(CUT_AT)
        proxy.cut()
        time.sleep(CUT_FOR)
        proxy.restore()

    threads = [threading.Thread(target=buyer, args=(n,)) for n in range(THREADS)]
    threads.append(threading.Thread(target=outage))
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        during = [a for a in answers if a[4]]
        summary = Counter((status, kind) for _, status, kind, _, _ in answers)
        assert during, summary  # the burst went on through the cut
        for _, status, kind, body, _ in answers:
            assert kind.startswith("application/json"), (status, kind, body[:200], summary)
        outcomes = Counter(json.loads(body)["outcome"] for _, _, _, body, _ in answers)
        print("outage burst:", dict(summary), dict(outcomes), f"{len(during)} during the cut")
        assert outcomes["queued"] > 0, outcomes  # some bodies waited in the spool
        accepted = [order_id for order_id, status, *_ in answers if 200 <= status < 300]
        assert len(accepted) == len(answers), summary  # no sale was turned away either
        _wait_for(lambda: not server.spooled(), server)  # replayed by the server itself
    finally:
        server.stop()
    orders = _orders_per_purchase(accepted)
    assert set(orders.values()) == {1}, {k: v for k, v in orders.items() if v != 1}
    assert Order.objects.count() == len(accepted)


def test_bodies_spooled_by_a_killed_server_are_replayed_once_after_its_restart(
    publisher, proxy, tmp_path
):
    server = Server(tmp_path, proxy)
    server.start()
    url = _notify_url(server, publisher)
    order_ids = list(range(7000, 7008))
    try:
        proxy.cut()
        answers = [_post(url, order_body(order_id=order_id)) for order_id in order_ids]
        server.stop(signal.SIGKILL)
    finally:
        server.stop()
    assert {(status, json.loads(body)["outcome"]) for status, _, body in answers} == {
        (202, "queued")
    }
    assert len(server.spooled()) == len(order_ids)
    assert not Notification.objects.exists()

    proxy.restore()
    server.start()
    try:
        _wait_for(lambda: not server.spooled(), server)
    finally:
        server.stop()
    assert set(_orders_per_purchase(order_ids).values()) == {1}
    assert Notification.objects.count() == len(order_ids)
    assert Notification.objects.filter(spool_id__isnull=True).count() == 0
