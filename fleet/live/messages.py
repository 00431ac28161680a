"""The messages published on a device's channel-layer group, declared once.

Each type has one builder, used by every publisher, so the stream consumer and the
console can rely on the shape. The `type` doubles as the consumer's handler name
(Channels dispatches `telemetry.sample` to `telemetry_sample`).
"""

from typing import Any, Literal, NotRequired, TypedDict

from fleet.models import Command, DeviceEvent
from fleet.telemetry_fields import PUBLISHED, TelemetryReading


class ConnectorReading(TypedDict):
    """The published fields of fleet.telemetry_fields (a test keeps the two in step)."""

    connector_id: int
    state: str
    voltage: float
    current: float
    power: float
    energy_delivered: float
    soc: int | None
    temperature: float | None


class TelemetrySampleMessage(TypedDict):
    type: Literal["telemetry.sample"]
    device_id: str
    timestamp: str
    connector: ConnectorReading


class DeviceEventMessage(TypedDict):
    type: Literal["device.event"]
    device_id: str
    event_id: int
    event_type: str
    connector_id: int
    fault_code: str | None
    timestamp: str
    data: dict[str, Any]


class DeviceStatusMessage(TypedDict):
    type: Literal["device.status"]
    device_id: str
    status: Literal["online", "offline"]


class CommandStatusMessage(TypedDict):
    type: Literal["command.status"]
    command_id: str
    command: str
    status: str
    device_status: str
    reason: NotRequired[str]  # only when the platform failed the command


class DeviceReassignedMessage(TypedDict):
    """The device now belongs to another operator (or none): watchers of the old one
    must stop seeing it."""

    type: Literal["device.reassigned"]
    device_id: str
    operator_id: str | None


DeviceMessage = (
    TelemetrySampleMessage
    | DeviceEventMessage
    | DeviceStatusMessage
    | CommandStatusMessage
    | DeviceReassignedMessage
)

# Every type a device group carries, for consumers that must handle them all.
DEVICE_MESSAGE_TYPES: dict[str, type] = {
    "telemetry.sample": TelemetrySampleMessage,
    "device.event": DeviceEventMessage,
    "device.status": DeviceStatusMessage,
    "command.status": CommandStatusMessage,
    "device.reassigned": DeviceReassignedMessage,
}


def telemetry_sample(device_id: str, reading: TelemetryReading) -> TelemetrySampleMessage:
    """One stored telemetry sample (the stream's prompt frames are made from these); the
    connector carries the published fields of fleet.telemetry_fields."""
    return {
        "type": "telemetry.sample",
        "device_id": device_id,
        "timestamp": reading["timestamp"].isoformat(),
        "connector": {name: reading[name] for name in PUBLISHED},
    }


def device_event(event: DeviceEvent) -> DeviceEventMessage:
    """A stored event, whether the charger reported it or the platform derived it."""
    return {
        "type": "device.event",
        "device_id": event.device_id,
        "event_id": event.pk,
        "event_type": event.event_type,
        "connector_id": event.connector_id,
        "fault_code": event.fault_code or None,
        "timestamp": event.timestamp.isoformat(),
        "data": event.data,
    }


def device_status(device_id: str, status: Literal["online", "offline"]) -> DeviceStatusMessage:
    """The platform's judgement of the device's connectivity changed."""
    return {"type": "device.status", "device_id": device_id, "status": status}


def command_status(command: Command, reason: str | None = None) -> CommandStatusMessage:
    """A command's status changed; `reason` when the platform failed it (expiry, silence)."""
    message: CommandStatusMessage = {
        "type": "command.status",
        "command_id": command.command_id,
        "command": command.command,
        "status": command.status,
        "device_status": command.device_status,
    }
    if reason is not None:
        message["reason"] = reason
    return message


def device_reassigned(device_id: str, operator_id: str | None) -> DeviceReassignedMessage:
    """The device moved to `operator_id` (None: to no operator)."""
    return {"type": "device.reassigned", "device_id": device_id, "operator_id": operator_id}


# --- Operator-wide messages (the console's fleet and alerts pages) --------------------------


class AlertChangedMessage(TypedDict):
    """An alert of the operator opened or moved along its lifecycle."""

    type: Literal["alert.changed"]
    alert_id: str
    status: str
    severity: str


def alert_changed(alert_id: str, status: str, severity: str) -> AlertChangedMessage:
    return {"type": "alert.changed", "alert_id": alert_id, "status": status, "severity": severity}


class FirmwareCampaignChangedMessage(TypedDict):
    """A firmware campaign of the operator, or one of its chargers, changed state."""

    type: Literal["firmware_campaign.changed"]
    campaign_id: str


def firmware_campaign_changed(campaign_id: str) -> FirmwareCampaignChangedMessage:
    return {"type": "firmware_campaign.changed", "campaign_id": campaign_id}


OperatorMessage = AlertChangedMessage | FirmwareCampaignChangedMessage
