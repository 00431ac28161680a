"""Keeping bearer tokens out of server logs.

The operator stream takes its token in the query string (`?token=…`, as the spec has
it), and uvicorn writes request lines, query string included, to its access log
(`uvicorn.access`) and WebSocket handshakes to `uvicorn.error`. A filter on those
loggers rewrites every `token=` / `access_token=` value before any handler sees it.
"""

import logging
import re

_TOKEN_VALUE = re.compile(r"((?:^|[?&;\s\"'])(?:access_)?token=)[^&;\s\"']*", re.IGNORECASE)
REDACTED = "[redacted]"
SERVER_LOGGERS = ("uvicorn.access", "uvicorn.error", "granian.access", "django.channels.server")


def redact(text: str) -> str:
    return _TOKEN_VALUE.sub(lambda match: match.group(1) + REDACTED, text)


class RedactTokens(logging.Filter):
    """Rewrites the message and its string arguments; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {
                k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()
            }
        return True


def install() -> None:
    """Attach the filter to the servers' loggers (idempotent)."""
    for name in SERVER_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
