"""Ids taken from a URL, a form or a query string: the one parser of the product.

`str.isdigit()` accepts "²" and "①", which `int()` refuses (a 500), and `int()` itself accepts
" 7", "+7", "٧" (Arabic-Indic seven) and "1_000". An id here is ASCII digits only, at most 19 of
them, from 1 to the largest value of a 64-bit primary key; anything else is no id (None), which
a page answers with 404, 400 or a form error, never 500. A pure helper: no Django, no I/O.
"""

from __future__ import annotations

import re

MAX_ID = 2**63 - 1  # the largest BigAutoField value (PostgreSQL bigint, SQLite integer)
MAX_IDS = 1000  # ids read from one comma-separated list; the rest are ignored
_ASCII_ID = re.compile(r"[0-9]{1,19}")
_IDPUB = re.compile(r"[0-9]{6,9}")  # a publisher's public ID (SPEC §3: 6–9 digits)


class BadId(ValueError):
    """A text that is not an id (raised by `id_required`)."""


def id_or_none(text: object) -> int | None:
    """Return the id `text` spells (ASCII digits, 1..MAX_ID), or None for anything else."""
    if not isinstance(text, str) or not _ASCII_ID.fullmatch(text):
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ID else None


def id_required(text: object) -> int:
    """Return the id `text` spells, or raise `BadId`."""
    value = id_or_none(text)
    if value is None:
        raise BadId(text)
    return value


def ids_from_list(text: object, *, limit: int = MAX_IDS) -> list[int]:
    """Return the ids of a comma-separated list (`1,2, 3`); parts that are no id are skipped."""
    if not isinstance(text, str):
        return []
    parts = (id_or_none(part.strip(" ")) for part in text.split(",", limit)[:limit])
    return [value for value in parts if value is not None]


def ids_from_values(values: list[str], *, limit: int = MAX_IDS) -> list[int]:
    """Return the ids among repeated values (`order=1&order=2`); others are skipped."""
    parts = (id_or_none(value.strip(" ")) for value in values[:limit])
    return [value for value in parts if value is not None]


def idpub_or_none(text: object) -> str | None:
    """Return `text` when it is a well-formed publisher ID (6–9 ASCII digits), else None."""
    return text if isinstance(text, str) and _IDPUB.fullmatch(text) else None


class IdConverter:
    """The `<id:pk>` path converter: an id as above; anything else matches no URL (404).

    Django's `<int:pk>` takes any number of ASCII digits, so `/99999999999999999999/` reached
    the database with a value no primary key can hold.
    """

    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        """Return the id, or raise ValueError (Django then tries the next URL pattern)."""
        return id_required(value)

    def to_url(self, value: int | str) -> str:
        """Return the id as URL text."""
        return str(value)
