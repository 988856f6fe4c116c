"""`manage.py notify_spool [--replay]`: list what waits in this host's Notify URL spool.

With `--replay`, replay it once now (the web process and the worker do it on their own; this
is for an operator retiring a host, or checking after an outage).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from fulfillment.clock import when
from fulfillment.services.replay import spool_drain
from fulfillment.services.spool import FAILED, spool_dir, spool_paths, spool_read


class Command(BaseCommand):
    help = "List the Notify URL spool of this host (bodies kept while the database was away)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--replay", action="store_true", help="Replay the spool once now.")
        parser.add_argument(
            "--processes",
            type=int,
            default=None,
            help="Processes that replay a large spool (default NOTIFY_SPOOL_REPLAY_PROCESSES).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["replay"]:
            processes = options["processes"]
            if processes is None:
                processes = settings.NOTIFY_SPOOL_REPLAY_PROCESSES
            if processes < 1:
                raise CommandError("--processes is 1 or more.")
            left = spool_drain(threads=settings.NOTIFY_SPOOL_REPLAY_THREADS, processes=processes)
            self.stdout.write(f"Replayed; {left} left in the spool.")
        paths = spool_paths()
        self.stdout.write(f"{spool_dir()}: {len(paths)} waiting")
        for path in paths:
            item = spool_read(path=path)
            idpub = item.query_string.partition("idpub=")[2].partition("&")[0]
            self.stdout.write(
                f"{when(item.received_at)} {item.spool_id} idpub={idpub} "
                f"{item.body_size} bytes from {item.remote_addr or '-'}"
            )
        failed = spool_paths(directory=spool_dir() / FAILED)
        if failed:
            self.stdout.write(f"{len(failed)} set aside in {spool_dir() / FAILED} (see the log)")
