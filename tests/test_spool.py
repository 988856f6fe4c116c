"""Issue 17, point 1 (SPEC §4): database down → the body is spooled, answered in JSON, replayed.

The spool's files, claims and replays run on both databases. The database-down cases run on
PostgreSQL: the test's own connection goes through a TCP proxy (tests/tcp_proxy.py) that the
test cuts, or a trigger kills the connection mid-processing; nothing of the app is mocked.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client, RequestFactory
from django.utils import timezone

from fulfillment.models import Notification, Order, Outcome, RefusedRequestTally
from fulfillment.services.helper_processes import helper_processes_start
from fulfillment.services.replay import (
    BODIES_PER_PROCESS,
    DETAIL_CHECK_UNAVAILABLE,
    DETAIL_KEPT,
    DETAIL_QUEUED,
    DETAIL_UNAVAILABLE,
    replay_lanes,
    replay_processes_wanted,
    replayer_ensure,
    spool_drain,
)
from fulfillment.services.spool import (
    LANES,
    Spooled,
    SpoolFull,
    spool_claim,
    spool_lane_lock,
    spool_named_hash,
    spool_order_hash,
    spool_order_key,
    spool_paths,
    spool_read,
    spool_remove,
    spool_replayer_slot,
    spool_write,
)
from fulfillment.views import DETAIL_SERVER_ERROR, server_error
from tests.factories import make_project, make_publisher, notify_path
from tests.invariants import order_body
from tests.tcp_proxy import TcpProxy

ARRIVED = timezone.now().replace(microsecond=0) - timedelta(hours=2)


@pytest.fixture(autouse=True)
def spool(settings, tmp_path) -> Path:
    """A spool of the test's own; replay runs when the test calls it (no thread)."""
    settings.NOTIFY_SPOOL_DIR = tmp_path / "spool"
    settings.NOTIFY_SPOOL_REPLAY = False
    return settings.NOTIFY_SPOOL_DIR


def _spooled(publisher, *, order_id: int = 9001, key: str | None = None, **fields) -> Spooled:
    values = {
        "spool_id": uuid.uuid4(),
        "received_at": ARRIVED,
        "query_string": notify_path(publisher, key=key).partition("?")[2],
        "content_type": "application/json",
        "remote_addr": "203.0.113.9",
        "body_size": len(order_body(order_id=order_id)),
        "body": order_body(order_id=order_id),
    }
    return Spooled(**values | fields)


def _funded():
    publisher = make_publisher(balance="100.00")
    make_project(publisher, "279813")
    return publisher


def test_a_spooled_body_is_written_whole_and_claimed_by_one_replayer(spool):
    item = Spooled(
        spool_id=uuid.uuid4(),
        received_at=ARRIVED,
        query_string="idpub=123456&key=k%20y&test=1",
        content_type="application/x-www-form-urlencoded",
        remote_addr=None,
        body_size=5,
        body=b"a\nb\x00\xff",
    )
    path = spool_write(item=item)

    assert spool_paths() == [path]
    assert spool_read(path=path) == item
    assert path.stat().st_mode & 0o777 == 0o600  # the query string holds the key
    assert [p.name for p in spool.iterdir()] == [path.name]  # no temporary file left
    with spool_claim(path=path) as mine:
        assert mine == item
        with spool_claim(path=path) as theirs:
            assert theirs is None  # another replayer skips it
        spool_remove(path=path)
    with spool_claim(path=path) as late:
        assert late is None
    assert spool_paths() == []


def _item(n: int) -> Spooled:
    body = b'{"order": {"id": %d}}' % n
    return Spooled(
        uuid.uuid4(), ARRIVED, "idpub=1&key=k", "application/json", None, len(body), body
    )


def test_writing_to_a_long_spool_does_not_stat_every_file_each_time(spool, monkeypatch, settings):
    """Issue 21: counting the spool for its caps stats every file; at 10,000 files that cost
    more than the write. Far from the caps a write counts again at most every few seconds."""
    from fulfillment.services import spool as module

    for n in range(30):
        spool_write(item=_item(n))
    counts = []
    counted = module.spool_usage
    monkeypatch.setattr(module, "spool_usage", lambda **kw: counts.append(1) or counted(**kw))

    for n in range(30, 60):
        spool_write(item=_item(n))

    assert len(counts) <= 1
    assert len(spool_paths()) == 60


def test_near_its_cap_the_spool_counts_every_write_so_other_processes_count_too(spool, settings):
    settings.NOTIFY_SPOOL_MAX_FILES = 20
    for n in range(18):
        spool_write(item=_item(n))
    other = spool_write(item=_item(18))  # stands for another process's file, unknown to us
    (spool / f"2{other.name}").write_bytes(other.read_bytes())

    with pytest.raises(SpoolFull):
        spool_write(item=_item(20))  # 20 files on disk, though this process wrote 19
    for path in spool_paths()[:2]:
        spool_remove(path=path)
    spool_write(item=_item(21))
    assert len(spool_paths()) == 19


@pytest.mark.django_db(transaction=True)
def test_replay_stores_the_body_with_its_arrival_time_and_creates_the_order():
    publisher = _funded()
    spool_write(item=_spooled(publisher))

    assert spool_drain() == 0

    stored = Notification.objects.get()
    assert stored.received_at == ARRIVED
    assert stored.remote_addr == "203.0.113.9"
    assert stored.outcome == Outcome.CREATED
    assert Order.objects.get().external_order_id == "9001"
    assert spool_paths() == []


@pytest.mark.django_db(transaction=True)
def test_a_body_replayed_twice_is_stored_once():
    publisher = _funded()
    path = spool_write(item=_spooled(publisher))
    data = path.read_bytes()
    assert spool_drain() == 0
    path.write_bytes(data)  # the process died between the commit and the file's removal

    assert spool_drain() == 0

    assert Notification.objects.count() == 1
    assert Order.objects.count() == 1
    assert spool_paths() == []


@pytest.mark.django_db(transaction=True)
def test_wrong_keys_are_refused_at_replay_as_live_ones_without_the_rate_limit():
    publisher = _funded()
    for n in range(12):  # live, the 11th would answer 429 and store nothing
        spool_write(item=_spooled(publisher, order_id=n, key="wrong"))

    assert spool_drain() == 0

    refused = Notification.objects.all()
    assert refused.count() == 12
    assert {(n.outcome, n.http_status) for n in refused} == {(Outcome.REJECTED, 403)}
    assert {n.received_at for n in refused} == {ARRIVED}
    assert len(bytes(refused[0].raw_body)) <= 4096
    assert not Order.objects.exists()
    assert not RefusedRequestTally.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_body_spooled_for_an_unknown_idpub_is_stored_as_unknown_publisher():
    publisher = _funded()
    item = _spooled(publisher, query_string="idpub=99999999&key=whatever")

    assert spool_write(item=item) and spool_drain() == 0

    stored = Notification.objects.get()
    assert (stored.outcome, stored.http_status, stored.publisher) == (
        Outcome.UNKNOWN_PUBLISHER,
        404,
        None,
    )


@pytest.mark.django_db(transaction=True)
def test_the_command_lists_the_spool_and_replays_it():
    from io import StringIO

    from django.core.management import call_command

    publisher = _funded()
    item = _spooled(publisher)
    spool_write(item=item)
    listed, replayed = StringIO(), StringIO()

    call_command("notify_spool", stdout=listed)
    call_command("notify_spool", "--replay", stdout=replayed)

    assert f"{item.spool_id} idpub={publisher.idpub}" in listed.getvalue()
    assert publisher.notify_key not in listed.getvalue()
    assert "Replayed; 0 left" in replayed.getvalue()
    assert Order.objects.count() == 1


def test_the_server_error_page_of_the_notify_url_is_json():
    response = server_error(RequestFactory().post("/samcart/notify/?idpub=1"))

    assert response.status_code == 500
    assert response["Content-Type"].startswith("application/json")
    assert response.content.decode().count(DETAIL_SERVER_ERROR) == 1


def _post(publisher, order_id: int = 9001):
    client = Client(raise_request_exception=False)
    return client.post(
        notify_path(publisher), data=order_body(order_id=order_id), content_type="application/json"
    )


def _refuse_notifications(on: bool) -> None:
    """Make the database refuse every notification insert (a broken table), or stop it."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and on:
            cursor.execute(
                "CREATE FUNCTION refuse_notification() RETURNS trigger AS $$ BEGIN "
                "RAISE EXCEPTION 'injected fault'; END $$ LANGUAGE plpgsql"
            )
            cursor.execute(
                "CREATE TRIGGER refuse_notification BEFORE INSERT ON fulfillment_notification "
                "FOR EACH ROW EXECUTE FUNCTION refuse_notification()"
            )
        elif connection.vendor == "postgresql":
            cursor.execute("DROP TRIGGER refuse_notification ON fulfillment_notification")
            cursor.execute("DROP FUNCTION refuse_notification()")
        elif on:
            cursor.execute(
                "CREATE TRIGGER refuse_notification BEFORE INSERT ON fulfillment_notification "
                "BEGIN SELECT RAISE(ABORT, 'injected fault'); END"
            )
        else:
            cursor.execute("DROP TRIGGER refuse_notification")


@pytest.mark.django_db(transaction=True)
def test_an_unexpected_error_before_the_store_answers_json_and_keeps_the_body():
    publisher = _funded()
    _refuse_notifications(True)
    try:
        response = _post(publisher)
    finally:
        _refuse_notifications(False)

    assert response.status_code == 500
    assert response.json() == {"outcome": "error", "detail": DETAIL_KEPT}
    assert not Notification.objects.exists()

    assert spool_drain() == 0

    assert Notification.objects.get().outcome == Outcome.CREATED
    assert Order.objects.count() == 1


# --- the database away (PostgreSQL) ---------------------------------------------------------


@contextlib.contextmanager
def database_through_proxy():
    """Send this thread's database connection through a proxy the test can cut."""
    db = connection.settings_dict
    saved = db["HOST"], db["PORT"]
    with TcpProxy(db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432)) as proxy:
        connection.close()
        db["HOST"], db["PORT"] = "127.0.0.1", str(proxy.port)
        try:
            yield proxy
        finally:
            connection.close()
            db["HOST"], db["PORT"] = saved


@contextlib.contextmanager
def database_cut():
    """The database is unreachable for this thread."""
    with database_through_proxy() as proxy:
        proxy.cut()
        yield proxy


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_database_down_spools_the_body_answers_202_queued_and_replay_creates_the_order():
    publisher = _funded()
    before = timezone.now()
    with database_cut():
        response = _post(publisher)
        assert spool_drain() == 1  # still away: the file stays

    assert response.status_code == 202
    assert response.json() == {"outcome": "queued", "detail": DETAIL_QUEUED}
    assert not Notification.objects.exists()
    [path] = spool_paths()
    arrived = spool_read(path=path).received_at

    assert spool_drain() == 0

    stored = Notification.objects.get()
    assert stored.outcome == Outcome.CREATED and stored.received_at == arrived >= before
    assert Order.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_database_down_and_spool_full_answers_503_with_retry_after(settings):
    publisher = _funded()
    settings.NOTIFY_SPOOL_MAX_FILES = 1
    with database_cut():
        first, second = _post(publisher, 1), _post(publisher, 2)
    settings.NOTIFY_SPOOL_MAX_FILES, settings.NOTIFY_SPOOL_MAX_BYTES = 10, 100
    with database_cut():
        too_big = _post(publisher, 3)

    assert first.status_code == 202
    for refused in (second, too_big):
        assert refused.status_code == 503
        assert refused["Retry-After"] == "60"
        assert refused.json() == {"outcome": "unavailable", "detail": DETAIL_UNAVAILABLE}
    assert len(spool_paths()) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_database_down_and_spool_unwritable_answers_503(settings, tmp_path):
    publisher = _funded()
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    settings.NOTIFY_SPOOL_DIR = blocker / "spool"  # cannot be created (root or not)
    with database_cut():
        response = _post(publisher)

    assert response.status_code == 503
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["outcome"] == "unavailable"
    assert response["Retry-After"] == "60"


KILL_ON_EVENT = """
CREATE FUNCTION drop_my_connection() RETURNS trigger AS $$ BEGIN
PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NEW; END $$ LANGUAGE plpgsql;
CREATE TRIGGER drop_my_connection BEFORE INSERT ON fulfillment_orderevent
FOR EACH ROW EXECUTE FUNCTION drop_my_connection();
"""
UNKILL = """
DROP TRIGGER drop_my_connection ON fulfillment_orderevent;
DROP FUNCTION drop_my_connection();
"""


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_database_lost_after_the_store_answers_json_and_the_row_is_finished_once():
    publisher = _funded()
    with connection.cursor() as cursor:
        cursor.execute(KILL_ON_EVENT)
    try:
        with database_through_proxy() as proxy:
            proxy.cut_when_the_server_drops = True  # and it stays away after the store
            response = _post(publisher)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(UNKILL)

    assert response.status_code == 202, response.json()
    assert response.json()["outcome"] == "queued"
    stored = Notification.objects.get()
    assert stored.outcome == Outcome.PENDING  # stored, then the connection died
    assert not Order.objects.exists()

    assert spool_drain() == 0

    stored.refresh_from_db()
    assert stored.outcome == Outcome.CREATED
    assert Notification.objects.count() == 1
    assert Order.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_checking_the_url_while_the_database_is_down_answers_503_json():
    publisher = _funded()
    with database_cut():
        response = Client(raise_request_exception=False).get(notify_path(publisher))

    assert response.status_code == 503
    assert response.json() == {"outcome": "unavailable", "detail": DETAIL_CHECK_UNAVAILABLE}
    assert response["Retry-After"] == "60"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_replayed_row_left_pending_waits_five_minutes_before_the_sweep_may_take_it():
    publisher = _funded()
    spool_write(item=_spooled(publisher))
    with connection.cursor() as cursor:
        cursor.execute(KILL_ON_EVENT)
    try:
        with database_through_proxy() as proxy:
            proxy.cut_when_the_server_drops = True  # stored, then the database goes away
            assert spool_drain() == 1
    finally:
        with connection.cursor() as cursor:
            cursor.execute(UNKILL)

    stored = Notification.objects.get()
    assert stored.outcome == Outcome.PENDING and stored.received_at == ARRIVED
    assert stored.next_attempt_at > timezone.now() + timedelta(minutes=4)

    assert spool_drain() == 0

    stored.refresh_from_db()
    assert stored.outcome == Outcome.CREATED and stored.next_attempt_at is None
    assert Notification.objects.count() == 1 and Order.objects.count() == 1


def _refund_body(order_id: int) -> bytes:
    return f'{{"type": "Refund", "order": {{"id": {order_id}}}}}'.encode()


def _spool_orders(publisher, orders: range) -> dict[int, list[Path]]:
    """Spool, for each SamCart order, its purchase then its refund, interleaved with the
    other orders' bodies (one arrival time per body, in that order); return the files."""
    files: dict[int, list[Path]] = {}
    moment = ARRIVED
    for kind in ("order", "refund"):
        for order_id in orders:
            moment += timedelta(milliseconds=1)
            body = order_body(order_id=order_id) if kind == "order" else _refund_body(order_id)
            item = _spooled(publisher, received_at=moment, body=body, body_size=len(body))
            files.setdefault(order_id, []).append(spool_write(item=item))
    return files


@pytest.mark.django_db
def test_replay_lanes_keep_each_samcart_order_in_one_lane_in_its_order():
    """Every body of one SamCart order goes to one lane, in arrival order (a Refund replayed
    before its Order would flag nothing); the orders spread over the lanes."""
    publisher = _funded()
    files = _spool_orders(publisher, range(7001, 7031))

    split = replay_lanes(spool_paths(), 4)
    lanes = list(split.values())

    assert sorted(p for lane in lanes for p in lane) == spool_paths()
    assert len(lanes) > 1 and set(split) <= {0, 1, 2, 3}
    for order_files in files.values():
        holding = [lane for lane in lanes if order_files[0] in lane]
        assert len(holding) == 1
        lane = holding[0]
        assert [p for p in lane if p in order_files] == order_files  # purchase, then refund
    assert all(lane == sorted(lane) for lane in lanes)  # each lane oldest first
    assert [lane[0] for lane in lanes] == sorted(lane[0] for lane in lanes)  # oldest lane first


@pytest.mark.django_db
def test_a_file_names_its_order_and_one_named_before_lands_in_the_same_lane():
    """The writer puts the order's hash in the name, so replay need not read the file; a file
    spooled before names carried it is read, and lands where its order's new files do."""
    publisher = _funded()
    named = spool_write(item=_spooled(publisher, order_id=7201))
    old = spool_write(item=_spooled(publisher, order_id=7201, received_at=ARRIVED + timedelta(1)))
    old = old.rename(old.with_name(old.name.split(".")[0] + ".notify"))  # the former name
    other = spool_write(item=_spooled(publisher, order_id=7202))

    assert spool_named_hash(named) == spool_order_hash(f"{publisher.idpub} 7201")
    assert spool_named_hash(old) is None
    assert spool_named_hash(other) != spool_named_hash(named)
    split = replay_lanes(spool_paths())
    assert [named, old] in split.values()
    assert set(split) <= set(range(LANES))


@pytest.mark.django_db
def test_an_unreadable_file_named_before_the_hash_is_a_lane_of_its_own(spool):
    """Sorting files into lanes reads an old-named file; one that is not a spool file (a
    damaged disk, a stray file) must not stop the split of the others."""
    publisher = _funded()
    good = spool_write(item=_spooled(publisher, order_id=7211))
    stray = spool / "20000101T000000000000-stray.notify"
    stray.write_bytes(b"not a spool file")

    split = replay_lanes(spool_paths())

    assert sorted(p for lane in split.values() for p in lane) == sorted([good, stray])


@pytest.mark.django_db(transaction=True)
def test_a_lane_another_replayer_holds_is_left_to_it_and_replayed_once_released():
    """Two replayers never replay one order side by side: the lane's lock (a real flock, as a
    replayer in another process holds it) keeps its files out of this drain."""
    publisher = _funded()
    held = spool_write(item=_spooled(publisher, order_id=7301))
    other = next(
        order_id
        for order_id in range(7302, 7400)
        if spool_order_hash(f"{publisher.idpub} {order_id}") % LANES
        != spool_named_hash(held) % LANES
    )
    free = spool_write(item=_spooled(publisher, order_id=other))

    with spool_lane_lock(lane=spool_named_hash(held) % LANES) as mine:
        assert mine
        assert spool_drain(threads=4) == 1
        assert spool_paths() == [held]
        with spool_lane_lock(lane=spool_named_hash(held) % LANES) as second:
            assert not second  # one holder at a time, even within a process
    assert not free.exists()
    assert list(Order.objects.values_list("external_order_id", flat=True)) == [str(other)]

    assert spool_drain() == 0
    assert sorted(Order.objects.values_list("external_order_id", flat=True)) == sorted(
        ["7301", str(other)]
    )


@pytest.mark.django_db(transaction=True)
def test_a_drain_in_threads_replays_every_body_once_and_each_order_in_its_order():
    """Four threads, each with its own connection (real threads on PostgreSQL; SQLite replays
    in one): every purchase is one box, every refund found its box (replayed after it),
    nothing twice."""
    publisher = _funded()
    _spool_orders(publisher, range(7101, 7141))

    assert spool_drain(threads=4) == 0

    boxes = Order.objects.filter(publisher=publisher)
    assert sorted(int(b.external_order_id) for b in boxes) == list(range(7101, 7141))
    assert all(box.cart_refunded for box in boxes)
    outcomes = Notification.objects.values_list("outcome", flat=True)
    assert sorted(set(outcomes)) == [Outcome.CREATED, Outcome.IGNORED]
    assert len(outcomes) == 80
    assert spool_paths() == []


def test_the_replayer_slots_hold_at_most_their_number_of_web_processes():
    with (
        spool_replayer_slot(slots=2) as first,
        spool_replayer_slot(slots=2) as second,
        spool_replayer_slot(slots=2) as third,
    ):
        assert (first, second, third) == (0, 1, None)
    with spool_replayer_slot(slots=2) as again:
        assert again == 0  # released with its holder


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_web_process_past_the_replayer_slots_leaves_the_spool_until_a_slot_frees(settings):
    """The web process's replay thread (what a gunicorn worker starts) waits while every slot
    is held (another web process replays), and replays once one is free."""
    settings.NOTIFY_SPOOL_REPLAY = True
    settings.NOTIFY_SPOOL_WEB_REPLAYERS = 1
    publisher = _funded()
    path = spool_write(item=_spooled(publisher))

    with spool_replayer_slot(slots=1) as held:
        assert held == 0
        replayer_ensure()
        time.sleep(1.0)
        assert path.exists() and not Notification.objects.exists()
    deadline = time.monotonic() + 15
    while path.exists() and time.monotonic() < deadline:
        time.sleep(0.1)

    assert not path.exists()
    assert Order.objects.get().external_order_id == "9001"


@pytest.mark.django_db
def test_a_body_that_names_no_order_is_an_order_of_its_own():
    """Unparseable, too large (refused at replay) or without an order id: keyed by its own id,
    so it never holds up a real order's lane order, and it is still spooled."""
    publisher = _funded()
    broken = _spooled(publisher, body=b'{"type": "Order", "order": ', body_size=27)
    large = order_body(order_id=7401) + b" " * (1024**2)
    too_large = _spooled(publisher, body=large, body_size=len(large))
    fine = _spooled(publisher, order_id=7402)

    assert spool_order_key(broken) == str(broken.spool_id)
    assert spool_order_key(too_large) == str(too_large.spool_id)
    assert spool_order_key(fine) == f"{publisher.idpub} 7402"
    assert spool_named_hash(spool_write(item=broken)) == spool_order_hash(str(broken.spool_id))


def test_a_large_spool_is_worth_one_more_process_per_500_bodies_up_to_the_setting():
    assert BODIES_PER_PROCESS == 500
    assert replay_processes_wanted(bodies=999, processes=4) == 0  # a start costs ~250 bodies
    assert replay_processes_wanted(bodies=1000, processes=4) == 1
    assert replay_processes_wanted(bodies=1999, processes=4) == 2
    assert replay_processes_wanted(bodies=10_000, processes=2) == 1
    assert replay_processes_wanted(bodies=10_000, processes=1) == 0
    assert replay_processes_wanted(bodies=0, processes=4) == 0


@pytest.mark.skipif("connection.vendor != 'postgresql'")  # SQLite: one writer, no helpers
@pytest.mark.django_db(transaction=True)
def test_helper_processes_replay_this_processes_spool_into_its_database():
    """Two helpers alone (this process does not drain): every purchase is one box and every
    refund found its box, so they read this test's spool, wrote this test's database and kept
    each SamCart order's bodies in order between them."""
    publisher = _funded()
    _spool_orders(publisher, range(7401, 7431))

    helpers = helper_processes_start(
        count=2, target="fulfillment.services.replay.spool_drain", threads=2
    )
    for helper in helpers:
        helper.join(timeout=120)

    assert [helper.exitcode for helper in helpers] == [0, 0]
    boxes = Order.objects.filter(publisher=publisher)
    assert sorted(int(b.external_order_id) for b in boxes) == list(range(7401, 7431))
    assert all(box.cart_refunded for box in boxes)
    assert Notification.objects.count() == 60
    assert spool_paths() == []


@pytest.mark.skipif("connection.vendor != 'postgresql'")
@pytest.mark.django_db(transaction=True)
def test_the_command_replays_a_large_spool_in_more_processes_each_body_once(monkeypatch, caplog):
    """`notify_spool --replay --processes 3` on 80 bodies with a share of 20 per process: two
    helpers beside the command's own threads, and still every body once, each order in order."""
    from io import StringIO

    from django.core.management import call_command

    from fulfillment.services import replay

    monkeypatch.setattr(replay, "BODIES_PER_PROCESS", 20)
    publisher = _funded()
    _spool_orders(publisher, range(7501, 7541))
    replayed = StringIO()

    with caplog.at_level("INFO", logger="fulfillment.services.replay"):
        call_command("notify_spool", "--replay", "--processes", "3", stdout=replayed)

    assert "80 bodies, 2 more processes" in caplog.text
    assert "Replayed; 0 left" in replayed.getvalue()
    boxes = Order.objects.filter(publisher=publisher)
    assert sorted(int(b.external_order_id) for b in boxes) == list(range(7501, 7541))
    assert all(box.cart_refunded for box in boxes)
    assert Notification.objects.count() == 80


def test_the_command_refuses_fewer_than_one_process():
    from django.core.management import call_command
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="1 or more"):
        call_command("notify_spool", "--replay", "--processes", "0")


def test_when_the_system_refuses_a_helper_process_the_drain_goes_on_with_those_started(
    monkeypatch, caplog
):
    """The second start fails as `fork`/`spawn` do without memory or process slots (OSError):
    the first helper is returned, the failure logged, nothing raised."""
    from fulfillment.services import helper_processes

    class Refusing:
        started = 0

        def __init__(self, **kwargs):
            self.kwargs = kwargs

        def start(self):
            if Refusing.started:
                raise OSError(11, "Resource temporarily unavailable")
            Refusing.started += 1

    class Context:
        Process = Refusing

    monkeypatch.setattr(helper_processes.multiprocessing, "get_context", lambda method: Context)

    with caplog.at_level("ERROR", logger="fulfillment.services.helper_processes"):
        started = helper_processes_start(count=3, target="fulfillment.services.replay.spool_drain")

    assert len(started) == 1
    assert started[0].kwargs["args"][1] == "fulfillment.services.replay.spool_drain"
    assert "Could not start a helper process" in caplog.text
