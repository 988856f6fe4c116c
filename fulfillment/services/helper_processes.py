"""Helper processes: fresh interpreters that run one function of the app, then exit.

A helper is started with `spawn` (nothing of the parent's threads, locks or connections is
copied), sets Django up with the parent's database and spool directory (a test's database, a
bench's spool: whatever the parent uses, not what the environment alone would give), then
calls its target by name. Loading the app costs a helper 0.5-0.7 s of CPU, so it pays only for
long work: the replay of a large spool (`spool_drain`).

This module imports nothing of Django at its top: a helper imports it before Django is set up.
"""

from __future__ import annotations

import importlib
import logging
import multiprocessing
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def helper_processes_start(*, count: int, target: str, **kwargs: Any) -> list[BaseProcess]:
    """Start `count` helpers that each call `target` ("package.module.function") with
    `kwargs` (picklable values); return those that started (join them): when the system
    refuses one, the caller goes on with fewer. They end with this process if it exits first
    (daemonic)."""
    from django.conf import settings
    from django.db import connections

    setup = {
        "database": dict(connections["default"].settings_dict),
        "spool_dir": str(settings.NOTIFY_SPOOL_DIR),
    }
    context = multiprocessing.get_context("spawn")
    helpers = [
        context.Process(
            target=_helper_main, args=(setup, target, kwargs), name=f"helper-{n}", daemon=True
        )
        for n in range(count)
    ]
    started: list[BaseProcess] = []
    for helper in helpers:
        try:
            helper.start()
        except OSError:  # no process to be had (limits, memory): the caller works alone
            logger.exception("Could not start a helper process for %s", target)
            break
        started.append(helper)
    return started


def _helper_main(setup: dict[str, Any], target: str, kwargs: dict[str, Any]) -> None:
    """A helper's whole life: the parent's database and spool, Django, the target, exit."""
    import django
    from django.conf import settings

    settings.DATABASES["default"] = setup["database"]  # before any connection is made
    settings.NOTIFY_SPOOL_DIR = Path(setup["spool_dir"])
    django.setup()
    module, _, function = target.rpartition(".")
    getattr(importlib.import_module(module), function)(**kwargs)
