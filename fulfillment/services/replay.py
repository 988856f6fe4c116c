"""The Notify URL when the database is away (SPEC §4): spool the body, replay it exactly once.

`notification_receive_guarded` is what the view calls for a POST: the usual receive, and when
anything raises (the database unreachable before, during or after the store) the body goes to
the spool and the answer is JSON: 202 `queued`, or 503 `unavailable` when the spool cannot
take it either. Every POST carries a `spool_id`, stored on its row, so a replay finds a body
the database took after all (the connection died after the commit) and never stores it twice.

Replay needs no manual step: a daemon thread of the web process starts when it spools a body
(and at a gunicorn worker's start when the spool holds files), retries with a backoff until
the database answers, and ends when the spool is empty; `manage.py worker` drains its host's
spool on every tick too. Replay goes through the same checks and intake as a live request
(`notification_receive`), without the rate limit.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import Counter
from dataclasses import replace
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, InterfaceError, OperationalError, connections
from django.http import QueryDict
from django.utils import timezone

from fulfillment.models import Notification, Outcome

from .helper_processes import helper_processes_start
from .notifications import (
    REPLAY_SWEEP_AFTER,
    Incoming,
    NotifyAnswer,
    notification_process,
    notification_receive,
)
from .spool import (
    LANES,
    Spooled,
    SpoolUnavailable,
    spool_claim,
    spool_lane_lock,
    spool_named_hash,
    spool_order_hash,
    spool_order_key,
    spool_paths,
    spool_read,
    spool_remove,
    spool_replayer_slot,
    spool_set_aside,
    spool_write,
)
from .throttle import notification_receive_throttled, notify_url_check_throttled

logger = logging.getLogger(__name__)

DATABASE_DOWN = (OperationalError, InterfaceError)
TRUTHY = {"1", "true", "yes", "on"}
DETAIL_QUEUED = "Saved; it will be processed as soon as TrepStar's database is back"
DETAIL_KEPT = (
    "TrepStar could not process this notification because of an internal error. It is saved "
    "and will be processed again automatically."
)
DETAIL_UNAVAILABLE = (
    "TrepStar's database is unreachable and this notification could not be saved on disk "
    "either. Nothing was stored; please send it again"
)
DETAIL_CHECK_UNAVAILABLE = (
    "TrepStar's database is unreachable right now, so this Notify URL cannot be checked. "
    "Try again in a minute; purchases sent meanwhile are kept and processed later"
)
UNAVAILABLE_RETRY_AFTER = 60  # seconds, in the 503's Retry-After
QUEUED = NotifyAnswer(202, Outcome.QUEUED, DETAIL_QUEUED)
KEPT = NotifyAnswer(500, Outcome.ERROR, DETAIL_KEPT)
UNAVAILABLE = NotifyAnswer(503, "unavailable", DETAIL_UNAVAILABLE)
SET_ASIDE_AFTER = 3  # replays failing for another reason than the database: then `failed/`
BACKOFF = (0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)  # seconds between replay rounds
# Spooled bodies that pay for one more replay process (`spool_drain(processes=…)`): a helper's
# start (0.5-0.7 s of CPU to load the app) costs about what replaying 250 bodies does, and one
# process replays at most what one core's Python runs, whatever its threads (BENCHMARKS.md).
BODIES_PER_PROCESS = 500
# Threads of a web process's replay. Two processes of two threads replayed 10,000 bodies
# faster than five of one (each on its own lanes) or one of four (BENCHMARKS.md, issue 21):
# fewer charges queue on one publisher's row, and each process keeps a core busy.
WEB_THREADS = 2


def incoming_parse(
    *,
    query_string: str,
    body: bytes,
    body_size: int,
    content_type: str,
    remote_addr: str | None,
) -> Incoming:
    """Return the request as the service reads it, from its query string (live or spooled)."""
    query = QueryDict(query_string.encode("iso-8859-1", "replace"))  # WSGI's raw bytes
    return Incoming(
        idpub=query.get("idpub", ""),
        key=query.get("key", ""),
        is_test=query.get("test", "").lower() in TRUTHY,
        body=body,
        body_size=body_size,
        content_type=content_type,
        remote_addr=remote_addr,
    )


def notification_receive_guarded(
    *,
    query_string: str,
    body: bytes,
    body_size: int,
    content_type: str,
    remote_addr: str | None,
) -> NotifyAnswer:
    """Receive a POST; whatever raises, keep the body in the spool and answer in JSON."""
    item = Spooled(
        spool_id=uuid.uuid4(),
        received_at=timezone.now(),
        query_string=query_string,
        content_type=content_type,
        remote_addr=remote_addr,
        body_size=body_size,
        body=body,
    )
    incoming = incoming_parse(
        query_string=query_string,
        body=body,
        body_size=body_size,
        content_type=content_type,
        remote_addr=remote_addr,
    )
    live = replace(incoming, spool_id=item.spool_id, received_at=item.received_at)
    try:
        return notification_receive_throttled(live)
    except Exception as error:
        return _keep(item, error)


def notify_url_check_guarded(*, idpub: str, key: str, remote_addr: str | None) -> NotifyAnswer:
    """Answer a GET of the Notify URL; 503 in words when the database is unreachable."""
    try:
        return notify_url_check_throttled(idpub=idpub, key=key, remote_addr=remote_addr)
    except DATABASE_DOWN:
        logger.warning("Notify URL check: database unreachable")
        return NotifyAnswer(503, "unavailable", DETAIL_CHECK_UNAVAILABLE)


def _keep(item: Spooled, error: Exception) -> NotifyAnswer:
    """Spool a body whose receive raised; say so, or that nothing could be kept."""
    try:
        spool_write(item=item)
    except SpoolUnavailable:
        logger.exception("Notify URL: %s, and the spool cannot take the body", type(error).__name__)
        return UNAVAILABLE
    replayer_ensure()
    if isinstance(error, DATABASE_DOWN):
        logger.warning("Notify URL: database unreachable (%s); %s spooled", error, item.spool_id)
        return QUEUED
    logger.error("Notify URL: receive failed; body %s spooled", item.spool_id, exc_info=error)
    return KEPT


def _replay_stored(notification: Notification) -> None:
    """Finish a body the database already holds: process it when it was left pending."""
    later = timezone.now() + REPLAY_SWEEP_AFTER
    pending = Notification.objects.filter(pk=notification.pk, outcome=Outcome.PENDING)
    if pending.update(next_attempt_at=later):  # the sweep leaves it to us meanwhile
        notification.refresh_from_db()
        notification_process(notification=notification)


def spooled_incoming(item: Spooled) -> Incoming:
    """Return a spooled request as the service reads it (`incoming_parse` of its fields)."""
    return incoming_parse(
        query_string=item.query_string,
        body=item.body,
        body_size=item.body_size,
        content_type=item.content_type,
        remote_addr=item.remote_addr,
    )


def spool_replay(*, item: Spooled) -> None:
    """Store and process one spooled body as a live request would be (no rate limit).

    Raises the database's error when it is still away; the file is kept then. A body the
    database already holds (the connection died after its commit) is not looked up first:
    its store collides on `spool_id`, which is unique, and that row is finished instead. The
    collision is the rare case; a read before every replayed body cost a third of its CPU.
    """
    spooled = replace(
        spooled_incoming(item),
        spool_id=item.spool_id,
        received_at=item.received_at,
        replayed=True,
    )
    try:
        notification_receive(spooled)
    except IntegrityError:  # stored earlier under this id: finish that row instead
        _replay_stored(Notification.objects.get(spool_id=item.spool_id))


_failures: Counter[str] = Counter()


def spool_replay_file(*, path: Path) -> bool:
    """Claim, replay and remove one spooled file; False when it is left (claimed elsewhere,
    or set aside). Raises the database's error while it is away."""
    with spool_claim(path=path) as item:
        if item is None:
            return False
        try:
            spool_replay(item=item)
        except DATABASE_DOWN:
            raise
        except Exception:
            logger.exception("Replaying spooled notification %s failed", item.spool_id)
            _failures[path.name] += 1
            if _failures[path.name] >= SET_ASIDE_AFTER:
                logger.error("Spooled notification %s set aside in failed/", item.spool_id)
                spool_set_aside(path=path)
            return False
        spool_remove(path=path)
    _failures.pop(path.name, None)
    return True


def _order_hash(path: Path) -> int:
    """Return the hash of the SamCart order a spooled file belongs to: from its name, or, for a
    file named before names carried it, from its body (`spool_order_key`)."""
    named = spool_named_hash(path)
    if named is not None:
        return named
    try:
        return spool_order_hash(spool_order_key(spool_read(path=path)))
    except (OSError, ValueError, KeyError):  # gone meanwhile, unreadable or not a spool file
        return spool_order_hash(path.name)  # a lane of its own


def replay_lanes(paths: list[Path], lanes: int = LANES) -> dict[int, list[Path]]:
    """Split `paths` (oldest first) into the spool's `lanes`, every SamCart order's bodies in
    one lane and in their order (an Order before its Refund, a first POST before its bump).

    Returns the lanes that hold files, by number, the one with the oldest file first. Every
    replayer of the host splits the same way, so a lane's lock (`spool_lane_lock`) keeps an
    order's bodies to one replayer at a time, across threads and processes.
    """
    split: dict[int, list[Path]] = {}
    for path in paths:
        split.setdefault(_order_hash(path) % lanes, []).append(path)
    return dict(sorted(split.items(), key=lambda lane: lane[1][0]))


def _drain_lane(lane: list[Path], stop: threading.Event) -> None:
    """Replay one lane's files in order until done or the database is away (then `stop`)."""
    try:
        for path in lane:
            if stop.is_set():
                return
            spool_replay_file(path=path)
    except DATABASE_DOWN as error:
        stop.set()
        logger.info("Spool replay: the database is still unreachable (%s)", error)
    except Exception:  # a disk error: the next drain tries again
        stop.set()
        logger.exception("Spool replay failed")


def _drain_lanes(lanes: list[tuple[int, list[Path]]], stop: threading.Event) -> None:
    """Take lanes from `lanes` (shared between threads) and replay each one this replayer can
    lock; a lane another replayer holds is left to it. Closes this thread's connections."""
    try:
        while not stop.is_set():
            try:
                number, files = lanes.pop(0)
            except IndexError:
                return
            with spool_lane_lock(lane=number) as held:
                if held:
                    _drain_lane(files, stop)
    except OSError:  # the spool directory itself: the next drain tries again
        stop.set()
        logger.exception("Spool replay failed")
    finally:
        connections.close_all()  # this thread's connections: a dead one is not reused


def replay_processes_wanted(*, bodies: int, processes: int) -> int:
    """Return how many helper processes a drain of `bodies` starts beside its own, when at most
    `processes` replay in all: one per BODIES_PER_PROCESS bodies past the first share."""
    return max(0, min(processes, bodies // BODIES_PER_PROCESS) - 1)


def spool_drain(*, threads: int = 1, processes: int = 1) -> int:
    """Replay every spooled body of this host, oldest first; return how many are left.

    The bodies are split into the spool's lanes (`replay_lanes`: each SamCart order in one,
    in order) and each lane is replayed under its lock, so any number of replayers (the web
    workers at their start, the worker, `notify_spool --replay`) share a spool without
    replaying one order's bodies side by side or waiting on each other's files; a lane held
    elsewhere is left to its holder and counted as left. With `threads` > 1 (the worker and
    `notify_spool --replay`: NOTIFY_SPOOL_REPLAY_THREADS) that many threads take lanes, each
    with its own database connection; with `processes` > 1 (theirs too:
    NOTIFY_SPOOL_REPLAY_PROCESSES) a large spool is also drained by helper processes
    (`replay_processes_wanted`), which this call waits for. SQLite (a development database)
    takes one writer at a time: one thread there.
    """
    paths = spool_paths()
    if not paths:
        return 0
    stop = threading.Event()
    lanes = list(replay_lanes(paths).items())  # list.pop is atomic: the threads share it
    parallel = connections["default"].vendor == "postgresql"
    helpers = (
        helper_processes_start(
            count=replay_processes_wanted(bodies=len(paths), processes=processes),
            target=f"{__name__}.spool_drain",
            threads=threads,
        )
        if parallel
        else []
    )
    if helpers:
        logger.info(
            "Spool replay: %d bodies, %d more processes of %d threads beside this one",
            len(paths),
            len(helpers),
            threads,
        )
    if not parallel or threads < 2:
        _drain_lanes(lanes, stop)
    else:
        workers = [
            threading.Thread(target=_drain_lanes, args=(lanes, stop), name=f"spool-replay-{n}")
            for n in range(min(threads, len(lanes)))
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    for helper in helpers:
        helper.join()
    return len(spool_paths())


_state = threading.Lock()
_replayer: threading.Thread | None = None


def _replay_until_empty() -> None:
    global _replayer
    rounds = 0
    while True:
        try:
            # At most NOTIFY_SPOOL_WEB_REPLAYERS web processes of the host replay at once; the
            # others check back after the backoff and end once the spool is empty.
            with spool_replayer_slot(slots=settings.NOTIFY_SPOOL_WEB_REPLAYERS) as slot:
                left = len(spool_paths()) if slot is None else spool_drain(threads=WEB_THREADS)
        except Exception:  # a disk error: log it and try again later
            logger.exception("Spool replay failed")
            left = 1
        if not left:
            with _state:
                if not spool_paths():
                    _replayer = None
                    return
            continue
        time.sleep(BACKOFF[min(rounds, len(BACKOFF) - 1)])
        rounds += 1


def replayer_ensure() -> None:
    """Start this process's replay thread unless it runs (it ends when the spool is empty)."""
    global _replayer
    if not settings.NOTIFY_SPOOL_REPLAY:
        return
    with _state:
        if _replayer is not None and _replayer.is_alive():
            return
        _replayer = threading.Thread(
            target=_replay_until_empty, name="notify-spool-replay", daemon=True
        )
        _replayer.start()


def replayer_start_if_spooled() -> None:
    """At a process's start: replay what an earlier process left in the spool."""
    if spool_paths():
        replayer_ensure()
