"""Health probes for load balancers and `make run`."""

import redis
from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse

from fleet.outage import REDIS_ERRORS

# What keeps working, and what does not, while Redis is down (docs/operations.md).
WITHOUT_REDIS = [
    "rate limits are kept per process",
    "live updates (console, operator stream) are dropped",
    "long polls look for commands in the database every few seconds",
    "legacy pushes wait for the sweep",
]


def healthz(request: HttpRequest) -> JsonResponse:
    """Each dependency's state. 503 only while the database is down: without Redis the
    platform still takes charger traffic and serves reads, so it reports "degraded"."""
    database = _database()
    cache = _redis()
    if database["status"] != "ok":
        status, http_status = "down", 503
    elif cache["status"] == "down":
        status, http_status = "degraded", 200
    else:
        status, http_status = "ok", 200
    return JsonResponse(
        {"status": status, "database": database, "redis": cache}, status=http_status
    )


def _database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as error:
        return {"status": "down", "vendor": connection.vendor, "error": _kind(error)}
    return {"status": "ok", "vendor": connection.vendor}


def _redis() -> dict:
    if not settings.REDIS_URL:
        return {"status": "not_configured"}
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=0.5, socket_timeout=0.5
    )
    try:
        client.ping()
    except REDIS_ERRORS as error:
        return {"status": "down", "error": _kind(error), "meanwhile": WITHOUT_REDIS}
    finally:
        client.close()
    return {"status": "ok"}


def _kind(error: BaseException) -> str:
    # The kind of failure (refused, timed out) without the message: it names internal
    # hosts and ports, and this probe answers anyone. The server log has the detail.
    return type(error).__name__
