"""A refusal (403) is one line in the log: who, what, why.

Django logs every 4xx answer on `django.request`; for a PermissionDenied it attaches the
exception, so each console refusal wrote a full traceback for what is an everyday event.
This filter, on that logger, rewrites a 403 record as one WARNING line with no
traceback:

    Forbidden: GET /people/ by user:anna: needs the admin role (has viewer)

Who is the signed-in user (only if the request already looked them up: the log never
queries the database), else the API client the refusal was about, else "anonymous". Why
is the refusal's own message. Anything a client chose (path, names) is escaped, so a
line stays one line.
"""

import logging

from django.http import HttpRequest

# Set on a request, as (who, why), by code that refuses it without an exception the log
# receives: api.errors.REFUSAL_ATTRIBUTE (not imported: logging is configured before the
# apps are loaded).
REFUSAL_ATTRIBUTE = "tellus_refusal"


def _plain(text: object, limit: int = 300) -> str:
    value = str(text)
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in value)[:limit]


def _who(request: HttpRequest | None, noted: str | None) -> str:
    user = getattr(request, "_cached_user", None)  # looked up already, or not at all
    if user is not None and getattr(user, "is_authenticated", False):
        return f"user:{user.get_username()}"
    return noted or "anonymous"


def _why(record: logging.LogRecord, noted: str | None) -> str:
    if record.exc_info and record.exc_info[1] is not None and str(record.exc_info[1]):
        return str(record.exc_info[1])
    if noted:
        return noted
    return "permission denied"


# Marks a record already rewritten: Django configures logging again each time an ASGI or
# WSGI application is made (django.setup), and each time adds this filter once more.
_REWRITTEN = "tellus_one_line"


class OneLineRefusals(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) != 403 or getattr(record, _REWRITTEN, False):
            return True
        request = getattr(record, "request", None)
        noted_who, noted_why = getattr(request, REFUSAL_ATTRIBUTE, None) or (None, None)
        method = getattr(request, "method", None) or "-"
        path = getattr(request, "path", None) or "-"
        record.msg = "Forbidden: %s %s by %s: %s"
        record.args = (
            _plain(method, 10),
            _plain(path),
            _plain(_who(request, noted_who), 200),
            _plain(_why(record, noted_why)),
        )
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        setattr(record, _REWRITTEN, True)
        return True
