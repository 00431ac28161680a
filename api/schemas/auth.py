from typing import Literal

from pydantic import BaseModel

from fleet.contracts.common import RequestSchema, Text


class OperatorTokenRequest(RequestSchema):
    client_id: Text(128)
    client_secret: Text(256)
    grant_type: Literal["client_credentials"]


class DeviceTokenRequest(RequestSchema):
    device_id: Text(64)
    device_secret: Text(256)
    grant_type: Literal["client_credentials"]


class AccessToken(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int


class AccessTokenResponse(AccessToken):
    """The spec's bare AccessTokenResponse, also carrying the envelope (decision: token-response):
    clients reading `access_token` at the top level and clients reading `data` both work."""

    code: int = 0
    message: str = "success"
    data: AccessToken
