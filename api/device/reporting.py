"""Charger reporting and command endpoints (all async; the hot three also have a lean
ASGI fast path in api.device.fastpath that calls the same code)."""

from datetime import UTC

from asgiref.sync import sync_to_async
from django.http import HttpRequest
from ninja import Router

from api.auth import device_high_frequency, device_other
from api.device import endpoints
from api.envelope import success_body
from api.schemas.common import Envelope, ErrorEnvelope
from api.schemas.reporting import (
    ChargingRecordUpload,
    DeviceCommandStatus,
    EventReport,
    FirmwareUpgradeStatus,
    HeartbeatRequest,
    HeartbeatResponse,
    PendingCommand,
    TelemetryUpload,
)
from fleet.contracts.common import within_device_window
from fleet.services.commands import report_command_status
from fleet.services.events import record_event
from fleet.services.firmware import report_firmware_status
from fleet.services.records import store_charging_record

router = Router()
ERRORS = {400: ErrorEnvelope, 401: ErrorEnvelope, 429: ErrorEnvelope}


@router.post(
    "/heartbeat",
    auth=device_high_frequency,
    response={200: Envelope[HeartbeatResponse], **ERRORS},
    tags=["Charger — Reporting"],
    summary="Liveness report; the answer carries pending commands",
)
async def heartbeat(request: HttpRequest, payload: HeartbeatRequest):
    """Commands handed out here are not handed out again by the long poll (decision:
    single-delivery)."""
    return await endpoints.heartbeat(request.auth, payload)


@router.post(
    "/telemetry",
    auth=device_high_frequency,
    response={200: Envelope[None], **ERRORS},
    tags=["Charger — Reporting"],
    summary="One connector's electrical snapshot",
)
async def telemetry(request: HttpRequest, payload: TelemetryUpload):
    """Also accepts `state: preparing` (decision: preparing-state), the proposed `component_health`
    block, and keeps fields it does not know."""
    return await endpoints.telemetry(request.auth, payload)


@router.post(
    "/events",
    auth=device_other,
    response={200: Envelope[None], **ERRORS},
    tags=["Charger — Reporting"],
    summary="Report an event",
)
async def events(request: HttpRequest, payload: EventReport):
    """Unknown event types are stored (decision: unknown-event-types); `data.fault_code` may be an
    integer or a string such as `F-0421` (decision: fault-code-text); connector 0 means the whole
    device (decision: connector-zero-events)."""
    trusted = within_device_window(payload.timestamp)
    await sync_to_async(record_event)(
        request.auth.device_id,
        payload.event_type,
        payload.connector_id,
        payload.timestamp.astimezone(UTC) if trusted else None,
        payload.data,
        claimed_timestamp=None if trusted else payload.timestamp.isoformat(),
    )
    return success_body(None)


@router.post(
    "/charging-records",
    auth=device_other,
    response={200: Envelope[None], 409: ErrorEnvelope, **ERRORS},
    tags=["Charger — Reporting"],
    summary="Upload a finished session's charging record",
)
async def charging_records(request: HttpRequest, payload: ChargingRecordUpload):
    """Uploading the same record again succeeds and stores nothing new; the same record_id with
    different content is 409/4001 (decision: idempotent-records)."""
    await sync_to_async(store_charging_record)(
        request.auth.device_id, payload.model_dump(exclude_none=True)
    )
    return success_body(None)


@router.get(
    "/commands",
    auth=device_other,
    response={200: Envelope[PendingCommand | None], **ERRORS},
    tags=["Charger — Commands"],
    summary="Long poll for the next command",
)
async def commands(request: HttpRequest, connector_id: int | None = None, wait: int | None = None):
    """Answers at once with the oldest pending command for the connector (or for the whole
    device), otherwise waits up to `wait` seconds (1 to 60, default 30) and answers `null`."""
    return await endpoints.commands(
        request.auth,
        request.GET.get("connector_id"),
        request.GET.get("wait"),
    )


@router.post(
    "/command-status",
    auth=device_other,
    response={200: Envelope[None], 404: ErrorEnvelope, 409: ErrorEnvelope, **ERRORS},
    tags=["Charger — Commands"],
    summary="Report a command's outcome",
)
async def command_status(request: HttpRequest, payload: DeviceCommandStatus):
    await sync_to_async(report_command_status)(
        request.auth.device_id,
        payload.command_id,
        payload.status,
        payload.timestamp,
        payload.message,
        payload.details,
    )
    return success_body(None)


@router.post(
    "/firmware/status",
    auth=device_other,
    response={200: Envelope[None], **ERRORS},
    tags=["Charger — Firmware"],
    summary="Report firmware upgrade progress",
)
async def firmware_status(request: HttpRequest, payload: FirmwareUpgradeStatus):
    await sync_to_async(report_firmware_status)(
        request.auth.device_id,
        payload.firmware_version,
        payload.status,
        payload.progress,
        payload.message,
    )
    return success_body(None)
