"""The edge rules every /v1 surface applies: body size, content type, the shape of a
validation failure and the headers an error carries.

Three surfaces answer /v1 requests: the Django middleware and Ninja routes, the charger
fast path (raw ASGI) and the legacy routes. Each reads the request its own way and
answers in its own shape, but the decision and its code, message and details come from
here, so the same bad request is refused the same way wherever it lands.
"""

from typing import Any, TypeVar

from django.conf import settings
from pydantic import BaseModel, ValidationError

from fleet.errors import MissingParameter, TellusError

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
# Generic OAuth2 client libraries send the token request form-encoded; nothing else may.
_FORM_ALLOWED = {"/v1/operator/oauth/token", "/v1/device/token"}

# Headers an error answer may carry; a refusal reshaped for another surface keeps them.
ERROR_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")

_NON_FIELD_LOCS = {"body", "query", "path", "header"}
# Where Ninja puts a body schema's fields: the source, then the parameter's name.
_BODY_LOC = ("body", "payload")

Model = TypeVar("Model", bound=BaseModel)


class Refusal(TellusError):
    """A request refused at the edge; unlike the domain errors, its code is per instance."""

    def __init__(self, code: int, message: str, details: dict[str, Any] | None = None):
        super().__init__(message, details)
        self.code = code


def body_too_large(size: int | None = None, limit: int | None = None) -> Refusal:
    """The 1001 for an oversized body, with the size and limit when the refuser knows
    them (Django's own RequestDataTooBig knows neither)."""
    details: dict[str, Any] = {"field": "body"}
    if size is not None:
        details["value"] = size
    details["reason"] = "too_large"
    if limit is None:
        return Refusal(1001, "Request body too large", details)
    details["max_bytes"] = limit
    return Refusal(1001, f"Request body too large (limit {limit} bytes)", details)


def check_body_size(size: int, *, declared: bool = True) -> Refusal | None:
    """Refuse a body over TELLUS_MAX_BODY_BYTES. A declared Content-Length is reported as
    the value; a count of bytes received stops at the limit, so it is not."""
    limit = settings.TELLUS_MAX_BODY_BYTES
    if size <= limit:
        return None
    return body_too_large(size if declared else None, limit)


def check_content_type(content_type: str, path: str) -> Refusal | None:
    """Refuse a body that is not JSON (`content_type` is the bare, lower-case media type);
    the token endpoints also take a form."""
    if content_type == "application/json" or content_type.endswith("+json"):
        return None
    if content_type == FORM_CONTENT_TYPE and path in _FORM_ALLOWED:
        return None
    return Refusal(
        1001,
        "Unsupported content type; send application/json",
        {"field": "Content-Type", "value": content_type or None},
    )


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


def validation_failure(errors: list[dict[str, Any]]) -> TellusError:
    """The refusal for a list of pydantic errors (locs as Ninja gives them): the first
    missing field is 1002, otherwise the first bad value is 1001 with its field and value."""
    missing = [e for e in errors if e.get("type") == "missing"]
    if missing:
        return MissingParameter(_field_name(tuple(missing[0]["loc"])))
    first = errors[0] if errors else {"loc": ("body",), "msg": "invalid"}
    field = _field_name(tuple(first["loc"]))
    reason = _reason(first)
    if field == "body" and not isinstance(first.get("input"), dict):
        return Refusal(
            1001, "Request body must be a JSON object", {"field": "body", "reason": reason}
        )
    details = {"field": field, "value": _json_safe(first.get("input")), "reason": reason}
    return Refusal(1001, f"Parameter '{field}' is invalid: {reason}", details)


def validate_body(model: type[Model], data: Any) -> Model:
    """Validate a decoded body outside Ninja, refusing it as a Ninja route would."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [
            {**error, "loc": (*_BODY_LOC, *error["loc"])}
            for error in exc.errors(include_url=False, include_context=False)
        ]
        raise validation_failure(errors) from None


def error_headers(code: int, details: dict[str, Any] | None) -> dict[str, str]:
    """The headers an error with this code carries: the bearer challenge on 401s, the
    wait on 429s."""
    if code in (2001, 2002):
        return {"WWW-Authenticate": 'Bearer realm="tellus"'}
    if code == 5001 and details and "retry_after_seconds" in details:
        return {"Retry-After": str(details["retry_after_seconds"])}
    return {}
