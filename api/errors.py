"""Turning every failure under /v1 into the envelope with the code table's code and HTTP status
(docs/decisions.md, decision: unlisted-errors)."""

import logging

import redis
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from api.edge import body_too_large, validation_failure
from api.envelope import error_response, tellus_error_response
from fleet.errors import PermissionDenied, TellusError

logger = logging.getLogger("tellus.api")


# The request attribute a refusal (403) is noted in, as (who, why), for the one log line
# Django writes about it (console/log_refusals.py).
REFUSAL_ATTRIBUTE = "tellus_refusal"


def tellus_error(request: HttpRequest, exc: TellusError) -> HttpResponse:
    if isinstance(exc, PermissionDenied):
        setattr(request, REFUSAL_ATTRIBUTE, (getattr(exc, "subject", None), exc.message))
    return tellus_error_response(exc)


def validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    return tellus_error_response(validation_failure(list(exc.errors)))


def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if isinstance(exc, AuthenticationError):
        return error_response(2001, "Missing or malformed bearer token")
    if exc.status_code == 400:
        # Ninja wraps whatever our parser raised; its own answer names the field.
        if isinstance(exc.__cause__, TellusError):
            return tellus_error_response(exc.__cause__)
        return error_response(1001, "Request body is not valid JSON", {"field": "body"})
    if exc.status_code == 404:
        return error_response(3001, "Resource not found")
    logger.warning("Unmapped HttpError %s on %s", exc.status_code, request.path)
    return error_response(9001, "Internal server error")


def unhandled(request: HttpRequest, exc: Exception) -> HttpResponse:
    # The traceback goes to the log (with the path to match partner reports), never to
    # the client.
    logger.exception("Unhandled error on %s %s", request.method, request.path)
    return error_response(9001, "Internal server error")


DEPENDENCY_DOWN = "A platform dependency (Redis) is unavailable; retry with backoff"


def dependency_down(request: HttpRequest, exc: redis.RedisError) -> HttpResponse:
    # Only what cannot work without Redis gets here (ingestion, reads and most writes
    # carry on without it); 9001 keeps to the spec's code table, and says why.
    logger.warning("Redis needed and unavailable on %s %s: %s", request.method, request.path, exc)
    return error_response(9001, DEPENDENCY_DOWN)


def install(api: NinjaAPI) -> None:
    api.add_exception_handler(TellusError, tellus_error)
    api.add_exception_handler(ValidationError, validation_error)
    api.add_exception_handler(HttpError, http_error)
    api.add_exception_handler(
        Http404, lambda request, exc: error_response(3001, "Resource not found")
    )
    api.add_exception_handler(
        RequestDataTooBig, lambda request, exc: tellus_error_response(body_too_large())
    )
    api.add_exception_handler(
        TooManyFieldsSent,
        lambda request, exc: error_response(
            1001,
            f"Too many parameters (limit {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS})",
            {
                "field": "query",
                "reason": "too_many",
                "max_fields": settings.DATA_UPLOAD_MAX_NUMBER_FIELDS,
            },
        ),
    )
    api.add_exception_handler(redis.RedisError, dependency_down)
    api.add_exception_handler(Exception, unhandled)
