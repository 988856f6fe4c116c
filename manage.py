#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    """Run administrative tasks."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trepstar.settings")
    # With no secret key and no DEBUG in the environment this is a developer's checkout: run in
    # development mode. Production sets SECRET_KEY, so its commands keep production settings,
    # and the web server (wsgi/asgi) never gets this default.
    if "SECRET_KEY" not in os.environ and "DEBUG" not in os.environ:
        os.environ["DEBUG"] = "1"
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
