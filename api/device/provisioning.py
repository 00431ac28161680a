from django.conf import settings
from django.http import HttpRequest
from ninja import Router

from api.envelope import success_body, token_body
from api.schemas.auth import AccessTokenResponse, DeviceTokenRequest
from api.schemas.common import Envelope, ErrorEnvelope
from api.schemas.device import DeviceRegisterRequest, DeviceRegisterResponse
from fleet.actors import request_ip
from fleet.ratelimit import credential_attempt, enforce
from fleet.services.auth import issue_device_token
from fleet.services.provisioning import register_device

router = Router(tags=["Charger — Provisioning"])


@router.post(
    "/register",
    response={200: Envelope[DeviceRegisterResponse], 400: ErrorEnvelope, 409: ErrorEnvelope},
    summary="Register a charger",
)
def register(request: HttpRequest, payload: DeviceRegisterRequest):
    """First contact of a charger. The device is visible to no operator until it is assigned to a
    site. Unauthenticated, so limited per source address (decision: rate-buckets)."""
    enforce("device_register", request_ip(request) or "unknown")
    device, secret = register_device(
        sn=payload.sn,
        model=payload.model,
        manufacturer=payload.manufacturer,
        firmware_version=payload.firmware_version,
        mac=payload.mac or "",
    )
    return success_body(
        DeviceRegisterResponse(
            device_id=device.device_id,
            device_secret=secret,
            expires_in=settings.TELLUS_DEVICE_SECRET_TTL_SECONDS,
        )
    )


@router.post(
    "/token",
    response={200: AccessTokenResponse, 401: ErrorEnvelope},
    summary="Obtain a charger access token",
)
def device_token(request: HttpRequest, payload: DeviceTokenRequest):
    """Issued tokens are limited per device id; wrong secrets per device id and source
    address, so a guesser cannot lock the charger out (decision: rate-buckets)."""
    with credential_attempt("device_token", payload.device_id, request_ip(request) or ""):
        issued = issue_device_token(payload.device_id, payload.device_secret)
    return token_body(issued)
