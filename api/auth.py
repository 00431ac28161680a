"""Bearer authentication for the two API surfaces.

Each callable is given to a Ninja route as `auth=`; it returns the principal or raises
a TellusError, which the API turns into 2001 / 2002 / 2003.
"""

from django.http import HttpRequest

from fleet.errors import NotAuthenticated
from fleet.services.auth import (
    DevicePrincipal,
    OperatorPrincipal,
    authenticate_device,
    authenticate_operator,
)


def bearer_token(request: HttpRequest) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated("Missing or malformed bearer token")
    return token.strip()


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
    openapi_type = "http"
    openapi_security_schema = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}

    def __call__(self, request: HttpRequest) -> DevicePrincipal:
        return authenticate_device(bearer_token(request))


operator_read = OperatorAuth("read")
operator_write = OperatorAuth("write")
device_auth = DeviceAuth()
