"""Bearer authentication for the two API surfaces.

Each callable is given to a Ninja route as `auth=`; it returns the principal or raises
a TellusError, which the API turns into 2001 / 2002 / 2003.
"""

from django.http import HttpRequest

from api.ratelimit import aenforce
from fleet.errors import NotAuthenticated
from fleet.services.auth import (
    DevicePrincipal,
    OperatorPrincipal,
    aauthenticate_device,
    authenticate_operator,
)


def parse_bearer(header: str) -> str:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated("Missing or malformed bearer token")
    return token.strip()


def bearer_token(request: HttpRequest) -> str:
    return parse_bearer(request.headers.get("Authorization", ""))


class OperatorAuth:
    """An operator token carrying `scope`. `openapi_*` attributes feed our OpenAPI doc."""

    openapi_type = "oauth2"

    def __init__(self, scope: str):
        self.scope = scope
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
        principal = authenticate_operator(bearer_token(request))
        principal.require_scope(self.scope)
        return principal


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


operator_read = OperatorAuth("read")
operator_write = OperatorAuth("write")
device_high_frequency = DeviceAuth("device_high_frequency")
device_other = DeviceAuth("device_other")
