"""Bearer authentication for the two API surfaces.

Each callable is given to a Ninja route as `auth=`; it returns the principal or raises
a TellusError, which the API turns into 2001 / 2002 / 2003.
"""

from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest

from fleet.errors import NotAuthenticated, PermissionDenied
from fleet.ratelimit import aenforce, enforce
from fleet.services.auth import (
    DevicePrincipal,
    OperatorPrincipal,
    aauthenticate_device,
    authenticate_operator,
)
from fleet.services.signing import verify_signature


def parse_bearer(header: str) -> str:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated("Missing or malformed bearer token")
    return token.strip()


def bearer_token(request: HttpRequest) -> str:
    return parse_bearer(request.headers.get("Authorization", ""))


def authenticate_operator_call(
    token: str,
    scope: str,
    rate_class: str,
    *,
    method: str,
    path: str,
    body: bytes = b"",
    signature: str | None = None,
    timestamp: str | None = None,
) -> OperatorPrincipal:
    """The one way an operator call is let in, on every surface (REST, legacy, stream):
    the token (with its credential version), the scope, the signature (required on
    writes of clients that must sign), and only then the rate class, so neither
    anonymous nor unsigned noise spends a client's quota."""
    principal = authenticate_operator(token)
    try:
        principal.require_scope(scope)
    except PermissionDenied as refused:
        refused.subject = f"client:{principal.client_id}"  # who, for the log line
        raise
    verify_signature(principal.client_id, method, path, body, signature, timestamp)
    enforce(rate_class, principal.client_id)
    return principal


def _wire_text(raw: bytes | str) -> str:
    # Valid UTF-8 (and so ASCII, what HTTP allows) comes back byte for byte when the
    # signature base is encoded; anything else cannot match a signature, and is refused.
    return raw if isinstance(raw, str) else raw.decode("utf-8", "replace")


def scope_target(scope: Mapping[str, Any]) -> str | None:
    """The request target of an ASGI scope (HTTP or WebSocket) exactly as it was sent:
    the raw path and query string, percent-encoding untouched. None when the server
    gives no raw_path (uvicorn, daphne and granian all do)."""
    raw_path = scope.get("raw_path")
    if raw_path is None:
        return None
    query = _wire_text(scope.get("query_string") or b"")
    return _wire_text(raw_path) + (f"?{query}" if query else "")


def request_target(request: HttpRequest) -> str:
    """The path and query a signature covers, as the client sent them (docs/operator-api.md: Request
    signing). The decoded path would differ from what was signed wherever the client
    percent-encoded a character Django re-encodes differently (`%2F`, `%7E`, lower-case
    escapes)."""
    scope = getattr(request, "scope", None)
    if isinstance(scope, Mapping) and (target := scope_target(scope)) is not None:
        return target
    uri = request.META.get("RAW_URI") or request.META.get("REQUEST_URI")  # WSGI servers
    if uri:
        if "://" in uri.split("?", 1)[0]:  # absolute-form: drop the scheme and authority
            uri = "/" + uri.split("://", 1)[1].partition("/")[2]
        return _wire_text(uri.encode("latin-1"))
    return request.get_full_path()


def authenticate_operator_request(
    request: HttpRequest, scope: str, rate_class: str
) -> OperatorPrincipal:
    """authenticate_operator_call for a Django request."""
    return authenticate_operator_call(
        bearer_token(request),
        scope,
        rate_class,
        method=request.method or "",
        path=request_target(request),
        body=request.body,
        signature=request.headers.get("X-Signature"),
        timestamp=request.headers.get("X-Timestamp"),
    )


class OperatorAuth:
    """A Ninja `auth=` for operator routes: authenticate_operator_request with the
    route's scope and rate class. `openapi_*` attributes feed our OpenAPI document."""

    openapi_type = "oauth2"

    def __init__(self, scope: str, rate_class: str):
        self.scope = scope
        self.rate_class = rate_class
        self.openapi_security_schema = {
            "type": "oauth2",
            "flows": {
                "clientCredentials": {
                    "tokenUrl": "/v1/operator/oauth/token",
                    "scopes": {"read": "Read fleet data", "write": "Control chargers"},
                }
            },
        }

    def __call__(self, request: HttpRequest) -> OperatorPrincipal:
        return authenticate_operator_request(request, self.scope, self.rate_class)


class DeviceAuth:
    """A device token, counted against the device's rate class. Async: the charger
    routes are async views, and rate counters are checked without leaving the loop."""

    openapi_type = "http"
    openapi_security_schema = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    is_async = True

    def __init__(self, rate_class: str):
        self.rate_class = rate_class

    async def __call__(self, request: HttpRequest) -> DevicePrincipal:
        return await authenticate_charger(request.headers.get("Authorization", ""), self.rate_class)


async def authenticate_charger(authorization: str, rate_class: str) -> DevicePrincipal:
    """Token first (401 before anything else), then the rate limit (429)."""
    principal = await aauthenticate_device(parse_bearer(authorization))
    await aenforce(rate_class, principal.device_id)
    return principal


operator_read = OperatorAuth("read", "operator_query")
# Single-connector controls share the query bucket (decision: rate-buckets: a depot starting fifty
# sessions at shift change should not be throttled at thirty); batch controls have their own.
operator_write = OperatorAuth("write", "operator_query")
operator_batch = OperatorAuth("write", "operator_control")
device_high_frequency = DeviceAuth("device_high_frequency")
device_other = DeviceAuth("device_other")
