"""Logging filter that keeps Notify URL keys out of every log line (SPEC §4)."""

import logging
import re

_KEY_PARAM = re.compile(r"([?&]key=)[^&\s\"']*", re.IGNORECASE)


def redact(text: str) -> str:
    """Return text with the value of every `key=` query parameter replaced by `***`."""
    return _KEY_PARAM.sub(r"\1***", text)


class RedactNotifyKeyFilter(logging.Filter):
    """Rewrite the record's message so that a URL's `key=` value never reaches a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the formatted message and drop the arguments it came from."""
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
