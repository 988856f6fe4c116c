"""Stored bytes and strings made safe to show on a page (SPEC §16: pages render anything).

A page is encoded as UTF-8 on its way out; a lone surrogate (which JSON's `\\ud800` escape
produces when parsed) cannot be, and the whole response fails. Every page that turns a
stored body into text goes through `body_text` or `pretty_body` here.
"""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qsl

# Bodies larger than this are shown as received, not pretty-printed: indenting a large,
# deeply nested body can multiply its size.
PRETTY_LIMIT = 256 * 1024

# Characters that cannot be encoded (lone surrogates), that are invisible or disrupt a page
# (C0/C1 controls other than tab, line feed and carriage return), or that reorder the text
# people read (bidirectional overrides and isolates): shown as escapes instead.
_HIDDEN = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def _escape(match: re.Match[str]) -> str:
    """Return a visible escape for one hidden character: \\x00, \\u202e, \\ud800."""
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str) -> str:
    """Return `text` with lone surrogates, controls and bidi overrides shown as escapes."""
    return _HIDDEN.sub(_escape, text)


def body_text(raw: bytes) -> str:
    """Return stored bytes as page text: UTF-8, invalid bytes and hidden characters escaped."""
    return visible(raw.decode("utf-8", errors="backslashreplace"))


def pretty_body(raw: bytes, content_type: str) -> str:
    """Return a body for people: indented JSON, form fields one per line, or escaped text.

    Never raises and never returns a character a page cannot encode.
    """
    if len(raw) <= PRETTY_LIMIT:
        pretty = _pretty_json(raw) or _pretty_form(raw, content_type)
        if pretty is not None:
            return visible(pretty)
    return body_text(raw)


def _pretty_json(raw: bytes) -> str | None:
    """Return the body as indented JSON, or None when it is not JSON we can indent."""
    try:
        return json.dumps(json.loads(raw.decode("utf-8")), indent=2, ensure_ascii=False)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError included
        return None


def _pretty_form(raw: bytes, content_type: str) -> str | None:
    """Return form-encoded fields one per line, or None when the body is not a form."""
    text = raw.decode("utf-8", errors="backslashreplace")
    if "form-urlencoded" not in content_type.lower() or "=" not in text:
        return None
    try:
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=10_000)
    except ValueError:
        return None
    return "\n".join(f"{key} = {value}" for key, value in pairs) or None
