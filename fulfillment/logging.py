"""Logging filter that keeps Notify URL keys out of every log line (SPEC §4)."""

import logging
import re

from gunicorn import glogging

# A `key=` (or `notify_key=`…) parameter wherever it starts: after `?` or `&`, at the start of a
# bare query string, or percent-encoded inside another URL (`%26key%3D…`).
_KEY_PARAM = re.compile(
    r"((?:(?<![A-Za-z0-9])|(?<=%26)|(?<=%3F))key(?:=|%3D))(?:(?!%26)[^&\s\"'<>])*",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    """Return text with the value of every `key=` parameter replaced by `***`."""
    return _KEY_PARAM.sub(r"\1***", text)


class RedactNotifyKeyFilter(logging.Filter):
    """Rewrite the record's message so that a URL's `key=` value never reaches a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the formatted message and drop the arguments it came from."""
        try:
            message = record.getMessage()
        except (TypeError, ValueError, KeyError):
            # A malformed logging call: Logger.handle does not catch what a filter raises, so
            # keep the record printable instead of raising into the code that logged it.
            message = f"{record.msg} {record.args!r}"
            record.msg, record.args = message, None
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class GunicornLogger(glogging.Logger):
    """Gunicorn's logger with every line redacted: the access log's request line, query string
    and referer, and error-log lines that quote a request (`logger_class` in gunicorn.conf.py).
    """

    def setup(self, cfg: object) -> None:
        """Set gunicorn's handlers up, then filter both of its loggers (once, also on reload)."""
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            if not any(isinstance(f, RedactNotifyKeyFilter) for f in log.filters):
                log.addFilter(RedactNotifyKeyFilter())
