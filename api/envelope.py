"""The v1 response envelope: `{"code", "message", "data"}`, plus `details` on errors."""

from typing import Any

from django.http import JsonResponse

from api.edge import error_headers
from fleet.errors import TellusError
from fleet.services.auth import IssuedToken

HTTP_STATUS = {
    0: 200,
    1001: 400,
    1002: 400,
    2001: 401,
    2002: 401,
    2003: 403,
    3001: 404,
    4001: 409,
    5001: 429,
    9001: 500,
}


def success_body(data: Any = None) -> dict[str, Any]:
    return {"code": 0, "message": "success", "data": data}


def token_body(issued: IssuedToken) -> dict[str, Any]:
    """Token endpoints: the spec's bare AccessTokenResponse fields at the top level, and the same
    token inside the envelope's `data` (decision: token-response), so either way of reading
    works."""
    token = issued.as_dict()
    return {**token, **success_body(token)}


def error_body(code: int, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message, "data": None}
    if details is not None:
        body["details"] = details
    return body


def error_response(code: int, message: str, details: dict[str, Any] | None = None) -> JsonResponse:
    response = JsonResponse(error_body(code, message, details), status=HTTP_STATUS[code])
    for name, value in error_headers(code, details).items():
        response[name] = value
    return response


# The legacy start and stop endpoints answer every error as {"Status", "Reason", "Code"} instead
# of the envelope (decision: legacy-errors), whoever refuses the request: the Status each fails
# with.
LEGACY_FAILURE_STATUS = {
    "/v1/cp/start_charging": "START_FAILED",
    "/v1/cp/start_discharging": "START_FAILED",
    "/v1/cp/stop_charging": "Reject",
    "/v1/cp/stop_discharging": "Reject",
}


def legacy_failure_body(
    failure_status: str, code: int, message: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"Status": failure_status, "Reason": message, "Code": code}
    if details:
        body["Details"] = details
    return body


def tellus_error_response(exc: TellusError) -> JsonResponse:
    return error_response(exc.code, exc.message, exc.details)
