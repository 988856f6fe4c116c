"""The SamCart check (SPEC §17): compare SamCart's paid orders with the orders made here.

A run claims its publisher (one running row each: `samcart_check_one_running`), reads every
page of SamCart's orders in its window comparing as it goes (`page_compare`: two statements a
page), then decides: the safety brake, or flag refunds and order the missing lines
(`samcart_recover`). Every way it ends is recorded on its row; a refused key pauses the
publisher's checks until a new key is entered (`publisher_set_samcart_key` clears the pause).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_tasks import task

from fulfillment.models import (
    FindingKind,
    Notification,
    Publisher,
    RunKind,
    RunStatus,
    SamcartCheckRun,
)
from fulfillment.samcart_api import KeyRefused, SamcartApiError, SamcartClient

from .samcart_compare import Comparison, page_compare
from .samcart_keys import publisher_samcart_key
from .samcart_notices import brake_tell_staff
from .samcart_recover import missing_lines_create, refunds_flag

logger = logging.getLogger(__name__)

SETTLE = timedelta(minutes=10)  # the newest sales are left to their Notify POST
OVERLAP = timedelta(hours=1)  # a regular run looks back this far behind the last good one
FIRST_SPAN = timedelta(days=3)
DAILY_SPAN = timedelta(days=7)
ABANDONED_AFTER = timedelta(minutes=30)  # a running row this old belongs to a dead process
DAILY_RETRY = timedelta(minutes=5)  # a daily run that met a running one tries again then
GOOD_STATUSES = (RunStatus.OK, RunStatus.BRAKED)

REFUSAL_NO_KEY = "There is no SamCart API key: enter the key SamCart support gave you first."
REFUSAL_KEY_REFUSED = "SamCart refused your API key; checks are paused until you enter a new one."
REFUSAL_RUNNING = "A check is running; its result will show here when it ends."
ERROR_ABANDONED = "Abandoned: the process running this check stopped before it finished."
ERROR_UNEXPECTED = "The check stopped on an unexpected error; TrepStar staff can see it in the log."
ERROR_INTERRUPTED = "The check was interrupted before it finished."
ERROR_EMPTY_WINDOW = "The check would start after it ends: choose an earlier date."

Progress = Callable[[int], object]


@dataclass(frozen=True)
class Window:
    """The SamCart order times a run compares, and the kind it records."""

    kind: str
    start: datetime
    end: datetime


def since_start(day: date) -> datetime:
    """Return midnight UTC of `day` (`--since` and a manual check's date)."""
    return datetime.combine(day, time.min, tzinfo=UTC)


def check_window(
    *, publisher: Publisher, kind: str, now: datetime, since: date | None = None
) -> Window:
    """Return the window of a run of `kind` started at `now`.

    It ends SETTLE before now. A regular run starts OVERLAP before the end of the last good
    run (ok or braked), or, with none yet, is the first run and looks back FIRST_SPAN; a daily
    run looks back DAILY_SPAN; a manual run from `since` (midnight UTC), else like a regular
    one but keeping its kind.
    """
    end = now - SETTLE
    if kind == RunKind.DAILY:
        return Window(kind, now - DAILY_SPAN, end)
    if kind == RunKind.MANUAL and since is not None:
        return Window(kind, since_start(since), end)
    last = (
        SamcartCheckRun.objects.filter(publisher=publisher, status__in=GOOD_STATUSES)
        .order_by("-window_end")
        .values_list("window_end", flat=True)
        .first()
    )
    if last is None:
        return Window(RunKind.FIRST if kind == RunKind.REGULAR else kind, now - FIRST_SPAN, end)
    return Window(kind, min(last - OVERLAP, end), end)


def _abandon_dead_runs(publisher_id: int) -> None:
    """Mark failed the running rows whose process died (left running ABANDONED_AFTER).

    A run still alive after that long (a huge window under throttling) is marked too; it
    records its real end over the mark when it finishes, and a second run meanwhile is safe:
    the orders' unique key, not the running row, is what keeps a line from being doubled.
    """
    now = timezone.now()
    SamcartCheckRun.objects.filter(
        publisher_id=publisher_id,
        status=RunStatus.RUNNING,
        started_at__lt=now - ABANDONED_AFTER,
    ).update(status=RunStatus.FAILED, error=ERROR_ABANDONED, finished_at=now)


def _claim(*, publisher: Publisher, window: Window) -> SamcartCheckRun | None:
    """Insert the publisher's running row; None when another run holds it."""
    _abandon_dead_runs(publisher.pk)
    try:
        with transaction.atomic():
            return SamcartCheckRun.objects.create(
                publisher=publisher,
                kind=window.kind,
                window_start=window.start,
                window_end=window.end,
            )
    except IntegrityError:
        return None


def _compare(
    *, run: SamcartCheckRun, client: SamcartClient, progress: Progress | None
) -> Comparison:
    """Read every page of the window, comparing each as it comes; keep the counts on the row."""
    found = Comparison()
    for page in client.order_pages(created_min=run.window_start, created_max=run.window_end):
        page_compare(publisher_id=run.publisher_id, page=page, into=found)
        run.pages, run.orders_seen = found.pages, found.orders_seen
        run.lines_seen, run.lines_counted = found.lines_seen, found.lines_counted
        # One statement a page: the staff view shows a long run's progress.
        SamcartCheckRun.objects.filter(pk=run.pk).update(
            pages=run.pages,
            orders_seen=run.orders_seen,
            lines_seen=run.lines_seen,
            lines_counted=run.lines_counted,
        )
        if progress is not None:
            progress(len(page))
    return found


def _notifications_arrived(run: SamcartCheckRun) -> bool:
    """Tell whether live notifications reached the publisher in the run's window."""
    return (
        Notification.objects.accepted()
        .filter(
            publisher_id=run.publisher_id,
            is_test=False,
            received_at__gte=run.window_start,
            received_at__lte=run.window_end,
        )
        .exists()
    )


def _decide(*, run: SamcartCheckRun, client: SamcartClient, found: Comparison) -> None:
    """Brake, or flag the refunds and order the missing lines; record it all on `run`."""
    run.missing = len(found.missing)
    if 2 * len(found.missing) > found.lines_counted and _notifications_arrived(run):
        run.findings = [line.finding(FindingKind.MISSING) for line in found.missing]
        run.findings += found.quantity
        run.status = RunStatus.BRAKED
        return
    run.findings = refunds_flag(publisher_id=run.publisher_id, refunded=found.refunded)
    run.findings += found.quantity
    try:
        missing_lines_create(run=run, client=client, missing=found.missing, into=run.findings)
    finally:  # a failure half-way still records the orders made before it
        # SamCart lines ordered, counted as `missing` is (a bundle's lines and the lines
        # that joined one box are one each).
        run.created = sum(1 for f in run.findings if f["kind"] == FindingKind.CREATED)
    run.status = RunStatus.OK


def _key_refused(*, run: SamcartCheckRun, token: str, error: KeyRefused) -> None:
    """Record the refusal and pause the publisher, unless its key changed meanwhile."""
    run.status, run.error = RunStatus.KEY_REFUSED, str(error)
    Publisher.objects.filter(pk=run.publisher_id, samcart_api_key=token).update(
        samcart_key_refused_at=timezone.now()
    )


def _execute(
    *, run: SamcartCheckRun, client: SamcartClient, token: str, progress: Progress | None
) -> None:
    """Run the claimed check; whatever happens, close its row (and tell staff of a brake)."""
    try:
        _decide(run=run, client=client, found=_compare(run=run, client=client, progress=progress))
    except KeyRefused as error:
        _key_refused(run=run, token=token, error=error)
    except SamcartApiError as error:
        run.status, run.error = RunStatus.FAILED, str(error)[:2000]
    except Exception:
        logger.exception("SamCart check %s of publisher %s failed", run.pk, run.publisher_id)
        run.status, run.error = RunStatus.FAILED, ERROR_UNEXPECTED
    finally:
        if run.status == RunStatus.RUNNING:  # interrupted (Ctrl-C, the worker stopping)
            run.status, run.error = RunStatus.FAILED, ERROR_INTERRUPTED
        run.finished_at = timezone.now()
        run.save()
    if run.status == RunStatus.BRAKED:
        brake_tell_staff(run=run)


def samcart_check_run(
    *,
    publisher: Publisher,
    kind: str = RunKind.REGULAR,
    since: date | None = None,
    now: datetime | None = None,
    progress: Progress | None = None,
    client: SamcartClient | None = None,
) -> SamcartCheckRun | None:
    """Run one check for `publisher`; return its run.

    None when no run happened: no usable key, checks paused after a refused key, or another
    run holds the publisher. `progress` is called with the number of orders of each page.
    """
    publisher.refresh_from_db(fields=["samcart_api_key", "samcart_key_refused_at"])
    token = publisher.samcart_api_key
    key = publisher_samcart_key(publisher=publisher) if token else ""
    if not key or publisher.samcart_key_refused_at is not None:
        return None
    window = check_window(publisher=publisher, kind=kind, now=now or timezone.now(), since=since)
    if window.start >= window.end:
        raise ValueError(ERROR_EMPTY_WINDOW)
    run = _claim(publisher=publisher, window=window)
    if run is None:
        return None
    client = client or SamcartClient(
        api_key=key, base_url=settings.SAMCART_API_BASE_URL, timeout=settings.SAMCART_API_TIMEOUT
    )
    _execute(run=run, client=client, token=token, progress=progress)
    return run


@task()
def samcart_check_task(publisher_id: int, kind: str) -> int | None:
    """Run the check of one publisher (enqueued by the schedule and by *Check now*).

    A daily run that finds another running tries again DAILY_RETRY later: it looks further
    back than any other and must not be lost to a regular run that happened to be running.
    """
    publisher = Publisher.objects.filter(pk=publisher_id).first()
    if publisher is None:
        return None
    run = samcart_check_run(publisher=publisher, kind=kind)
    running = run is None and samcart_check_refusal(publisher=publisher) == REFUSAL_RUNNING
    if running and kind == RunKind.DAILY:
        later = timezone.now() + DAILY_RETRY
        samcart_check_task.using(run_after=later).enqueue(publisher_id, kind)
    return run.pk if run else None


def samcart_check_refusal(*, publisher: Publisher) -> str | None:
    """Return why a check cannot start for `publisher` now, or None when it can."""
    if not publisher.samcart_api_key:
        return REFUSAL_NO_KEY
    if publisher.samcart_key_refused_at is not None:
        return REFUSAL_KEY_REFUSED
    running = SamcartCheckRun.objects.filter(
        publisher=publisher,
        status=RunStatus.RUNNING,
        started_at__gte=timezone.now() - ABANDONED_AFTER,
    )
    return REFUSAL_RUNNING if running.exists() else None


def samcart_check_enqueue(*, publisher: Publisher) -> str | None:
    """Queue a check by hand (*Check now*); return why not (then nothing queued) or None."""
    refusal = samcart_check_refusal(publisher=publisher)
    if refusal is None:
        samcart_check_task.enqueue(publisher.pk, RunKind.MANUAL)
    return refusal


def samcart_checks_enqueue_due(*, kind: str) -> int:
    """Queue a check of `kind` for every publisher with a key and no pause; count them."""
    publishers = (
        Publisher.objects.exclude(samcart_api_key="")
        .filter(samcart_key_refused_at__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    count = 0
    with transaction.atomic():
        for publisher_id in publishers:
            samcart_check_task.enqueue(publisher_id, kind)
            count += 1
    return count
