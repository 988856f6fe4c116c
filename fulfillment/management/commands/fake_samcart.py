"""`manage.py fake_samcart`: serve the SamCart API stand-in (SPEC §17) for the demo and trials.

Point `SAMCART_API_BASE_URL` at the URL it prints. The data file is read again whenever it
changes, so a demo can append orders while the stand-in runs.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from fulfillment.samcart_api.standin import StandinServer, check_data

POLL_SECONDS = 0.5


class Command(BaseCommand):
    """Serve GET /v1/orders and friends from a JSON file until interrupted (Ctrl-C)."""

    help = (
        "Serve a SamCart API v1 stand-in from a JSON file "
        '{"api_key": ..., "orders": [...], "customers": {...}}. Faults given as flags answer '
        "the first API requests, in this order: 429s, then 504s, then 401s."
    )
    requires_system_checks: list[str] = []  # no database and no app checks needed

    def add_arguments(self, parser: CommandParser) -> None:
        """Declare the address, the data file and the faults to start with."""
        parser.add_argument("--port", type=int, default=8001)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--data", required=True, help="The JSON data file.")
        parser.add_argument("--fail-429", type=int, default=0, metavar="N")
        parser.add_argument("--retry-after", default="", metavar="S", help="With --fail-429.")
        parser.add_argument("--fail-504", type=int, default=0, metavar="N")
        parser.add_argument("--fail-401", type=int, default=0, metavar="N")

    def handle(self, *args: Any, **options: Any) -> None:
        """Start the stand-in, print its base URL, and reload the data file when it changes."""
        path = Path(options["data"])
        data, seen, faults = _load(path), _mtime(path), _faults(options)
        try:
            server = StandinServer(data, host=options["host"], port=options["port"])
        except (OSError, OverflowError) as error:
            raise CommandError(
                f"Cannot listen on {options['host']}:{options['port']}: {error}"
            ) from error
        server.fail(*faults)
        server.start()
        self.stdout.write(server.base_url)
        self.stdout.flush()
        try:
            while True:
                time.sleep(POLL_SECONDS)
                if _mtime(path) != seen:
                    seen = _mtime(path)
                    self._reload(server, path)
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()

    def _reload(self, server: StandinServer, path: Path) -> None:
        """Serve the file's new contents; a half-written or broken file keeps the old data."""
        try:
            data = _load(path)
            server.set_data(data)
        except CommandError as error:
            self.stderr.write(f"Kept the previous data: {error}")
        else:
            self.stdout.write(f"Reloaded {path}: {len(data.get('orders', []))} order(s).")
        self.stdout.flush()


def _faults(options: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the faults the flags ask for, in the order the help text gives."""
    for flag in ("fail_429", "fail_504", "fail_401"):
        if options[flag] < 0:
            raise CommandError(f"--{flag.replace('_', '-')} cannot be negative.")
    faults: list[dict[str, Any]] = []
    if options["fail_429"]:
        fault = {"status": 429, "times": options["fail_429"]}
        if options["retry_after"]:
            fault["retry_after"] = options["retry_after"]
        faults.append(fault)
    for status in (504, 401):
        if options[f"fail_{status}"]:
            faults.append({"status": status, "times": options[f"fail_{status}"]})
    return faults


def _load(path: Path) -> dict[str, Any]:
    """Read and check the data file, or raise CommandError saying what is wrong."""
    try:
        return check_data(json.loads(path.read_text(encoding="utf-8")))
    except OSError as error:
        raise CommandError(f"Cannot read {path}: {error.strerror}") from error
    except (ValueError, RecursionError) as error:
        raise CommandError(f"{path} is not a usable data file: {error}") from error


def _mtime(path: Path) -> int | None:
    """Return the file's modification time, or None while it is missing (being replaced)."""
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None
