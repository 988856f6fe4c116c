"""The Notify URL's spool (SPEC §4): bodies kept on local disk while the database is away.

Files only, no ORM. One file per POST, named `<arrival>-<id>.<order>.notify`: a JSON header
line (id, arrival time, query string, content type, client address, size announced) then the
body's exact bytes. `<order>` is the CRC-32 of the SamCart order the body belongs to (its
idpub and order id, `spool_order_key`), so a replayer sorts files into lanes by name without
reading them; files written before it (`<arrival>-<id>.notify`) are read for it. A file is
written to a temporary name, fsynced, renamed into place and the directory fsynced, so a file
under its final name is always whole, even after a power cut.

A replayer holds a lane (`spool_lane_lock`: every file of one SamCart order is in one lane) and
claims each file with `flock` (both released by the kernel when its process dies), checking
that the name still points at the file it locked, so two processes never replay one file, nor
two bodies of one order, at the same time, and a file removed meanwhile is not replayed again.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
import time
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qs

from django.conf import settings

from fulfillment.carts import parse_samcart

SUFFIX = ".notify"
TEMP_PREFIX = ".tmp-"
FAILED = "failed"  # files whose replay kept raising something other than a database outage
FILE_MODE = 0o600  # the query string holds the Notify URL key
# The caps are checked against this process's count of the spool, taken again from the disk
# when older than RECOUNT_AFTER seconds or within NEAR_CAP of the bytes cap: counting stats every
# file, which at 10,000 files cost more than the write itself (issue 21). Near the files cap the
# names are counted on every write (no stat). "Near" is judged from this process's count, so
# the other processes' writes of the last RECOUNT_AFTER seconds may go uncounted and the spool
# may pass a cap by about that many files: 273 over 10,000 (2.7 %) in a 500-files/s burst from
# 5 workers (BENCHMARKS.md). The bytes cap, 1 GiB by default, is what keeps the disk safe.
RECOUNT_AFTER = 5.0
# Replay lanes: every SamCart order's bodies fall in one lane (by the hash in their names), and
# a lane is replayed by one replayer of the host at a time, under the lock file `.lane-<n>`.
# More lanes than replayers, so the web workers, the worker's threads and an operator's
# `notify_spool --replay` all find lanes of their own.
LANES = 64
LANE_PREFIX = ".lane-"
REPLAYER_PREFIX = ".replayer-"  # a web process's replay slot (`spool_replayer_slot`)
KEY_PARSE_MAX = 1024**2  # the Notify URL's body limit: past it no body is parsed for its order
NEAR_CAP = 0.95


class SpoolUnavailable(Exception):
    """The spool cannot take this body: nothing was kept."""


class SpoolFull(SpoolUnavailable):
    """The spool holds as many files or bytes as its caps allow."""


@dataclass(frozen=True)
class Spooled:
    """One POST to the Notify URL as received, kept until the database takes it."""

    spool_id: uuid.UUID
    received_at: datetime
    query_string: str
    content_type: str
    remote_addr: str | None
    body_size: int
    body: bytes


def spool_order_key(item: Spooled) -> str:
    """Return the SamCart order `item` belongs to (idpub and order id), or its own id when the
    body names no order: the bodies of one order are replayed by one replayer, in order."""
    idpub = parse_qs(item.query_string).get("idpub", [""])[0]
    order_id = None
    if len(item.body) <= KEY_PARSE_MAX:  # a larger body is refused at replay (413): no order
        try:
            order_id = parse_samcart(item.body, item.content_type).order_id
        except Exception:  # whatever the body is, it is kept: not SamCart's, a lane of its own
            order_id = None
    return f"{idpub} {order_id}" if order_id else str(item.spool_id)


def spool_order_hash(key: str) -> int:
    """Return the 32-bit hash of an order key that a file's name carries."""
    return zlib.crc32(key.encode())


def spool_named_hash(path: Path) -> int | None:
    """Return the order hash in `path`'s name; None for a name written before it."""
    _, dot, tail = path.name.removesuffix(SUFFIX).rpartition(".")
    if not dot or len(tail) != 8:
        return None
    try:
        return int(tail, 16)
    except ValueError:
        return None


def spool_dir() -> Path:
    """Return the spool directory of this host (`NOTIFY_SPOOL_DIR`)."""
    return Path(settings.NOTIFY_SPOOL_DIR)


def spool_paths(*, directory: Path | None = None) -> list[Path]:
    """Return the spooled files waiting for replay, oldest first (names start with the time)."""
    try:
        names = os.listdir(directory or spool_dir())
    except FileNotFoundError:
        return []
    base = directory or spool_dir()
    return [base / name for name in sorted(names) if name.endswith(SUFFIX)]


def spool_usage(*, directory: Path | None = None) -> tuple[int, int]:
    """Return how many files and bytes wait in the spool."""
    files, size = 0, 0
    for path in spool_paths(directory=directory):
        with contextlib.suppress(FileNotFoundError):  # replayed meanwhile
            size += path.stat().st_size
            files += 1
    return files, size


def _encode(item: Spooled) -> bytes:
    header = {
        "id": str(item.spool_id),
        "received_at": item.received_at.isoformat(),
        "query_string": item.query_string,
        "content_type": item.content_type,
        "remote_addr": item.remote_addr,
        "body_size": item.body_size,
    }
    return json.dumps(header).encode() + b"\n" + item.body


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_counted: dict[Path, tuple[float, int, int]] = {}  # directory: (when, files, bytes)
_counted_lock = threading.Lock()


def _spool_files(directory: Path) -> int:
    """How many files wait in `directory`: names only, no stat (cheap near the files cap)."""
    try:
        return sum(1 for name in os.listdir(directory) if name.endswith(SUFFIX))
    except FileNotFoundError:
        return 0


def _count_changed(directory: Path, files: int, size: int) -> None:
    """Add what this process wrote (or removed) to its count of `directory`."""
    with _counted_lock:
        if directory in _counted:
            when, counted, used = _counted[directory]
            _counted[directory] = (when, max(counted + files, 0), max(used + size, 0))


def _check_room(directory: Path, size: int) -> None:
    with _counted_lock:
        counted = _counted.get(directory)
    now = time.monotonic()
    if (
        counted is None
        or now - counted[0] > RECOUNT_AFTER
        or counted[2] >= settings.NOTIFY_SPOOL_MAX_BYTES * NEAR_CAP
    ):
        files, used = spool_usage(directory=directory)
        with _counted_lock:
            _counted[directory] = (now, files, used)
    else:
        _, files, used = counted
        if files >= settings.NOTIFY_SPOOL_MAX_FILES * NEAR_CAP:
            files = _spool_files(directory)
    if files >= settings.NOTIFY_SPOOL_MAX_FILES or used + size > settings.NOTIFY_SPOOL_MAX_BYTES:
        raise SpoolFull(f"spool full: {files} files, {used} bytes")


def spool_write(*, item: Spooled, directory: Path | None = None) -> Path:
    """Write `item` durably (temp file, fsync, rename, fsync the directory); return its path.

    Raises `SpoolUnavailable` (or `SpoolFull`) when it cannot be kept; nothing is left behind.
    """
    directory = directory or spool_dir()
    data = _encode(item)
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        _check_room(directory, len(data))
        order = spool_order_hash(spool_order_key(item))
        name = f"{item.received_at:%Y%m%dT%H%M%S%f}-{item.spool_id}.{order:08x}{SUFFIX}"
        final = directory / name
        temp = directory / f"{TEMP_PREFIX}{item.spool_id}"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.rename(temp, final)
        except BaseException:
            with contextlib.suppress(OSError):
                temp.unlink()
            raise
        _fsync_dir(directory)
    except OSError as error:
        raise SpoolUnavailable(f"{type(error).__name__}: {error}") from error
    _count_changed(directory, 1, len(data))
    return final


def _decode(data: bytes) -> Spooled:
    head, _, body = data.partition(b"\n")
    header = json.loads(head)
    return Spooled(
        spool_id=uuid.UUID(header["id"]),
        received_at=datetime.fromisoformat(header["received_at"]),
        query_string=header["query_string"],
        content_type=header["content_type"],
        remote_addr=header["remote_addr"],
        body_size=header["body_size"],
        body=body,
    )


def spool_read(*, path: Path) -> Spooled:
    """Read one spooled file (no claim: for listing what waits)."""
    return _decode(path.read_bytes())


@contextlib.contextmanager
def spool_claim(*, path: Path) -> Iterator[Spooled | None]:
    """Lock `path` for replay and yield its body; None when another process holds it or it
    is gone. Remove it with `spool_remove` inside the block once the database has it."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        yield None
        return
    with handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield None
            return
        try:
            current = path.stat().st_ino
        except FileNotFoundError:
            current = None
        if current != os.fstat(handle.fileno()).st_ino:  # replayed and removed meanwhile
            yield None
            return
        yield _decode(handle.read())


@contextlib.contextmanager
def spool_lane_lock(
    *, lane: int, directory: Path | None = None, prefix: str = LANE_PREFIX
) -> Iterator[bool]:
    """Hold replay lane `lane` of the spool (`flock`, released by the kernel when the process
    dies); yield False, holding nothing, when another replayer holds it."""
    path = (directory or spool_dir()) / f"{prefix}{lane}"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # and the lock with it


@contextlib.contextmanager
def spool_replayer_slot(*, slots: int, directory: Path | None = None) -> Iterator[int | None]:
    """Hold one of the host's `slots` replayer slots (`flock`, released by the kernel when the
    process dies); yield its number, or None when every slot is held."""
    base = directory or spool_dir()
    base.mkdir(mode=0o700, parents=True, exist_ok=True)
    for slot in range(slots):
        with spool_lane_lock(lane=slot, directory=base, prefix=REPLAYER_PREFIX) as held:
            if held:
                yield slot
                return
    yield None


def spool_remove(*, path: Path) -> None:
    """Remove a replayed file for good (called while it is claimed).

    The directory is not synced after the unlink: a removal a crash undoes only brings the
    file back, and its next replay finds the notification by `spool_id` and does nothing
    twice. (A write is synced: that is the body's only copy.) One fsync less per replayed
    body, issue 21.
    """
    size = path.stat().st_size
    path.unlink()
    _count_changed(path.parent, -1, -size)


def spool_set_aside(*, path: Path) -> Path:
    """Move a file whose replay keeps failing to `failed/`, out of the replay's way."""
    aside = path.parent / FAILED
    aside.mkdir(mode=0o700, exist_ok=True)
    target = aside / path.name
    size = path.stat().st_size
    os.rename(path, target)
    _fsync_dir(path.parent)
    _count_changed(path.parent, -1, -size)
    return target
