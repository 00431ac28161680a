"""Turning every failure under /v1 into the envelope with the right code (§4, A12)."""

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from api.envelope import error_response, tellus_error_response
from fleet.errors import TellusError

logger = logging.getLogger("tellus.api")

_NON_FIELD_LOCS = {"body", "query", "path", "header"}


def _field_name(loc: tuple[Any, ...]) -> str:
    """('body', 'payload', 'vehicle_info', 'vin') -> 'vehicle_info.vin'."""
    parts = list(loc)
    if parts and parts[0] in _NON_FIELD_LOCS:
        source = parts.pop(0)
        # Body schemas are read from one named parameter that is not part of the wire format.
        if source == "body" and parts:
            parts.pop(0)
        if not parts:
            return "body" if source == "body" else source
    return ".".join(str(p) for p in parts)


def _reason(error: dict[str, Any]) -> str:
    msg = str(error.get("msg", "invalid"))
    return msg.removeprefix("Value error, ")


def _json_safe(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool, list, dict)):
        return value
    return str(value)


def validation_failure(errors: list[dict[str, Any]]) -> tuple[int, str, dict[str, Any]]:
    """Code, message and details for a list of pydantic errors: the first missing field
    is 1002, otherwise the first bad value is 1001 with its field and value."""
    missing = [e for e in errors if e.get("type") == "missing"]
    if missing:
        field = _field_name(tuple(missing[0]["loc"]))
        return 1002, f"Parameter '{field}' is required", {"field": field}
    first = errors[0] if errors else {"loc": ("body",), "msg": "invalid"}
    field = _field_name(tuple(first["loc"]))
    reason = _reason(first)
    if field == "body" and not isinstance(first.get("input"), dict):
        return 1001, "Request body must be a JSON object", {"field": "body", "reason": reason}
    details = {"field": field, "value": _json_safe(first.get("input")), "reason": reason}
    return 1001, f"Parameter '{field}' is invalid: {reason}", details


def validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    return error_response(*validation_failure(list(exc.errors)))


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


def install(api: NinjaAPI) -> None:
    api.add_exception_handler(TellusError, lambda request, exc: tellus_error_response(exc))
    api.add_exception_handler(ValidationError, validation_error)
    api.add_exception_handler(HttpError, http_error)
    api.add_exception_handler(
        Http404, lambda request, exc: error_response(3001, "Resource not found")
    )
    api.add_exception_handler(
        RequestDataTooBig,
        lambda request, exc: error_response(
            1001, "Request body too large", {"field": "body", "reason": "too_large"}
        ),
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
    api.add_exception_handler(Exception, unhandled)
