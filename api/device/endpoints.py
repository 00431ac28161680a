"""The charger hot path's endpoint bodies, shared by the Ninja routes (documentation,
Django's own handler) and the lean ASGI fast path (production traffic)."""

import asyncio
import re
from typing import Any

from django.conf import settings

from api.envelope import success_body
from api.schemas.reporting import HeartbeatRequest, TelemetryUpload
from fleet import telemetry_fields
from fleet.errors import InvalidParameter, MissingParameter
from fleet.services.auth import DevicePrincipal
from fleet.services.heartbeat import Heartbeat, record_heartbeat
from fleet.services.long_poll import next_command
from fleet.services.telemetry import record_telemetry
from fleet.telemetry_fields import TelemetryReading

# ASCII digits only: str.isdigit() also accepts "²", which int() refuses.
_DIGITS = re.compile(r"[0-9]{1,6}")


async def heartbeat(principal: DevicePrincipal, payload: HeartbeatRequest) -> dict[str, Any]:
    deliveries = await record_heartbeat(
        principal.device_id,
        Heartbeat(payload.timestamp, payload.status, payload.fault_code),
    )
    return success_body({"commands": [d.as_pending_command() for d in deliveries]})


async def telemetry(principal: DevicePrincipal, payload: TelemetryUpload) -> dict[str, Any]:
    await record_telemetry(principal.device_id, _reading(payload))
    return success_body(None)


def _reading(payload: TelemetryUpload) -> TelemetryReading:
    """The sample's values by field name: the JSON blocks as plain data, the fields the
    spec does not define kept in `extra`."""
    reading = {name: getattr(payload, name) for name in telemetry_fields.NAMES}
    for name in telemetry_fields.JSON_NAMES:
        if reading[name] is not None:
            reading[name] = reading[name].model_dump(mode="json", exclude_none=True)
    reading["extra"] = payload.extra_fields()
    return reading


def long_poll_params(connector_id: str | None, wait: str | None) -> tuple[int, int]:
    """Validate the query of GET /v1/device/commands (decision: out-of-range: out of range is
    1001)."""
    if connector_id is None or connector_id == "":
        raise MissingParameter("connector_id")
    if not _DIGITS.fullmatch(connector_id) or not 1 <= int(connector_id) <= 255:
        raise InvalidParameter("connector_id", connector_id, "connector_id must be 1 to 255")
    maximum = settings.TELLUS_LONG_POLL_MAX_SECONDS
    if wait is None or wait == "":
        return int(connector_id), min(settings.TELLUS_LONG_POLL_DEFAULT_SECONDS, maximum)
    if not _DIGITS.fullmatch(wait) or not 1 <= int(wait) <= maximum:
        raise InvalidParameter("wait", wait, f"wait must be 1 to {maximum} seconds")
    return int(connector_id), int(wait)


async def commands(
    principal: DevicePrincipal,
    connector_id: str | None,
    wait: str | None,
    disconnected: asyncio.Event | None = None,
) -> dict[str, Any]:
    connector, wait_seconds = long_poll_params(connector_id, wait)
    delivery = await next_command(principal.device_id, connector, wait_seconds, disconnected)
    return success_body(delivery.as_pending_command() if delivery else None)
