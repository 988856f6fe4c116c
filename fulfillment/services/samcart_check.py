"""The SamCart check (SPEC §17): compare SamCart's paid orders with the orders made here.

INTERFACE FILE: the lead wrote the signatures the pages call; the check itself is being built.
"""

from __future__ import annotations

from django_tasks import task

from fulfillment.models import Publisher, RunKind, SamcartCheckRun


def samcart_check_run(
    *, publisher: Publisher, kind: str = RunKind.REGULAR
) -> SamcartCheckRun | None:
    """Run one check for `publisher`; return its run (None: another run holds the publisher)."""
    raise NotImplementedError


@task()
def samcart_check_task(publisher_id: int, kind: str) -> int | None:
    """Run the check of one publisher (enqueued by the schedule and by *Check now*)."""
    publisher = Publisher.objects.get(pk=publisher_id)
    run = samcart_check_run(publisher=publisher, kind=kind)
    return run.pk if run else None


def samcart_check_refusal(*, publisher: Publisher) -> str | None:
    """Return why a check cannot start for `publisher` now, or None when it can."""
    raise NotImplementedError


def samcart_check_enqueue(*, publisher: Publisher) -> str | None:
    """Queue a check by hand (*Check now*); return why not (then nothing queued) or None."""
    refusal = samcart_check_refusal(publisher=publisher)
    if refusal is None:
        samcart_check_task.enqueue(publisher.pk, RunKind.MANUAL)
    return refusal
