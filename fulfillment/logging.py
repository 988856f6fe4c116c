"""Logging filters: Notify URL keys never reach a log line (SPEC §4); a client error (4xx,
such as a 403) is one line, never a traceback."""

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


class NoTracebackForClientErrors(logging.Filter):
    """Drop the traceback of a record about a 4xx answer: one line, not a stack.

    Django logs a refused request (`PermissionDenied`: 403, `SuspiciousOperation`: 400) with the
    exception attached, so every 403 wrote a traceback to gunicorn's error log. A 4xx is the
    client's doing, not a fault of ours; its one line (status and path) says all there is.
    Server errors (5xx) keep their traceback.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep the record; forget its exception when it reports a 4xx answer."""
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and 400 <= status < 500:
            record.exc_info = record.exc_text = None
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
