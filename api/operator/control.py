"""Remote control of chargers (scope `write`): each call queues commands for the long
poll / heartbeat delivery of the charger API and answers at once."""

import pydantic
from django.http import HttpRequest
from ninja import Body, Router
from ninja.errors import ValidationError

from api.auth import operator_batch, operator_write
from api.envelope import success_body
from api.operator.common import QUERY_ERRORS
from api.schemas.common import Envelope, ErrorEnvelope
from api.schemas.control import CommandQueued, FlexibilityQueued
from fleet.actors import actor_from_request
from fleet.contracts.control import (
    FlexibilityRequest,
    PauseChargingParams,
    RemoteDischargeRequest,
    RemoteStartRequest,
    RemoteStopRequest,
    ScheduleRequest,
    SetPowerLimitParams,
)
from fleet.services import control

router = Router(tags=["Operator — Remote Control"])
ERRORS = {404: ErrorEnvelope, 409: ErrorEnvelope, **QUERY_ERRORS}
CONNECTOR = "/devices/{device_id}/connectors/{connector_id}"


def queued(command) -> dict:
    return success_body(CommandQueued(command_id=command.command_id))


def connector_id_checked(connector_id: int) -> int:
    if not 1 <= connector_id <= 255:
        raise ValidationError(
            [{"type": "greater_than_equal", "loc": ("path", "connector_id"),
              "msg": "connector_id must be 1 to 255", "input": connector_id}]
        )  # fmt: skip
    return connector_id


@router.post(
    CONNECTOR + "/start",
    auth=operator_write,
    response={200: Envelope[CommandQueued], **ERRORS},
    summary="Start charging",
)
def start(
    request: HttpRequest,
    device_id: str,
    connector_id: int,
    payload: RemoteStartRequest = Body(None),  # noqa: B008 - Ninja's way to declare a body
):
    """Every field is optional. A second start while one is still queued on the connector
    is 409/4001; an unknown connector is 404/3001."""
    params = payload.model_dump(exclude_none=True) if payload else {}
    return queued(
        control.start_charging(
            actor_from_request(request), device_id, connector_id_checked(connector_id), params
        )
    )


@router.post(
    CONNECTOR + "/stop",
    auth=operator_write,
    response={200: Envelope[CommandQueued], **ERRORS},
    summary="Stop charging",
)
def stop(
    request: HttpRequest,
    device_id: str,
    connector_id: int,
    payload: RemoteStopRequest = Body(None),  # noqa: B008
):
    params = payload.model_dump(exclude_none=True) if payload else {}
    return queued(
        control.stop_charging(
            actor_from_request(request), device_id, connector_id_checked(connector_id), params
        )
    )


@router.post(
    CONNECTOR + "/discharge",
    auth=operator_write,
    response={200: Envelope[CommandQueued], **ERRORS},
    summary="Start a V2G discharge",
)
def discharge(
    request: HttpRequest, device_id: str, connector_id: int, payload: RemoteDischargeRequest
):
    """Only for V2G-capable devices (otherwise 400/1001 with `details.field = device_id`)."""
    return queued(
        control.discharge(
            actor_from_request(request), device_id, connector_id_checked(connector_id),
            payload.model_dump(exclude_none=True),
        )
    )  # fmt: skip


@router.post(
    CONNECTOR + "/schedule",
    auth=operator_write,
    response={200: Envelope[CommandQueued], **ERRORS},
    summary="Store a charge plan on the connector",
)
def schedule(request: HttpRequest, device_id: str, connector_id: int, payload: ScheduleRequest):
    """Upserts by schedule_id (`enabled: false` turns a plan off) and sends it to the charger as
    `set_schedule`; the answer carries that command (decision: schedule-answer)."""
    plan = payload.model_dump(mode="json", exclude_none=True)
    return queued(
        control.set_schedule(
            actor_from_request(request), device_id, connector_id_checked(connector_id), plan
        )
    )


_PARAMS = {"set_power_limit": SetPowerLimitParams, "pause_charging": PauseChargingParams}


@router.post(
    "/control/flexibility",
    auth=operator_batch,
    response={200: Envelope[FlexibilityQueued], **ERRORS},
    tags=["Operator — Energy & Flexibility"],
    summary="Limit or pause charging across sites or the whole fleet",
)
def flexibility(request: HttpRequest, payload: FlexibilityRequest):
    """One control, one command per affected charger. `all` means every charger the caller can see
    (decision: tenancy). `pause_charging` reaches chargers as a 0 % power limit (decision:
    pause-as-limit). The control's progress: `GET /v1/operator/commands/{control_id}` (decision:
    control-status)."""
    try:
        params = _PARAMS[payload.command].model_validate(payload.params)
    except pydantic.ValidationError as exc:
        raise ValidationError(
            [
                {**error, "loc": ("body", "payload", "params", *error["loc"])}
                for error in exc.errors(include_url=False, include_context=False)
            ]
        ) from None
    created, commands = control.flexibility(
        actor_from_request(request),
        payload.target_type,
        payload.target_ids or [],
        payload.command,
        params.model_dump(exclude_none=True),
    )
    return success_body(FlexibilityQueued(control_id=created.control_id, commands=len(commands)))
