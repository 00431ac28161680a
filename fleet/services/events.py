"""Events reported by chargers."""

from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from fleet.errors import InvalidParameter
from fleet.live import messages
from fleet.live.publish import publish_device_message_sync
from fleet.models import Connector, ConnectorState, Device, DeviceEvent
from fleet.signals import session_ended

# The connector state an event implies, where it implies one.
IMPLIED_STATE = {
    "plug_in": ConnectorState.PREPARING,
    "start": ConnectorState.CHARGING,
    "stop": ConnectorState.IDLE,
    "plug_out": ConnectorState.IDLE,
    "fault": ConnectorState.FAULT,
}


def fault_code_text(data: dict[str, Any]) -> str:
    """The fault code as text (`1001`, `F-0421`); the event keeps the value as sent (decision:
    fault-code-text)."""
    code = data.get("fault_code")
    if code is None:
        return ""
    if isinstance(code, bool) or not isinstance(code, (int, str)):
        raise InvalidParameter(
            "data.fault_code", code, "fault_code must be an integer or a string such as 'F-0421'"
        )
    text = str(code).strip()
    if not 0 < len(text) <= 32:
        raise InvalidParameter("data.fault_code", code, "fault_code must be 1 to 32 characters")
    return text


def record_event(
    device_id: str,
    event_type: str,
    connector_id: int,
    timestamp: datetime | None,
    data: dict[str, Any],
    *,
    claimed_timestamp: str | None = None,
) -> DeviceEvent:
    """Store the event and move the connector's state where the event implies it. A
    discharge session's `start` keeps the connector discharging if telemetry said so.
    Without a trustworthy timestamp the event takes the receive time, and the charger's
    own claim is kept in claimed_timestamp. Once committed, the device's watchers (console
    pages, operator streams) are told, whoever recorded it."""
    code = fault_code_text(data)
    timestamp = timestamp or timezone.now()
    firmware = (
        Device.objects.filter(pk=device_id).values_list("firmware_version", flat=True).first()
        if event_type == "fault"
        else ""
    )
    with transaction.atomic():
        event = DeviceEvent.objects.create(
            device_id=device_id,
            connector_id=connector_id,
            event_type=event_type,
            timestamp=timestamp,
            claimed_timestamp=claimed_timestamp or "",
            data=data,
            fault_code=code,
            firmware_version=firmware or "",
        )
        transaction.on_commit(
            lambda: publish_device_message_sync(device_id, messages.device_event(event))
        )
        state = IMPLIED_STATE.get(event_type)
        if state is not None and connector_id >= 1:
            connector, created = Connector.objects.get_or_create(
                device_id=device_id, connector_id=connector_id, defaults={"state": state}
            )
            newer = Q(last_telemetry_time__isnull=True) | Q(last_telemetry_time__lte=timestamp)
            if not created and not (
                event_type == "start" and connector.state == ConnectorState.DISCHARGING
            ):
                Connector.objects.filter(pk=connector.pk).filter(newer).update(state=state)
        if event_type == "stop" and connector_id >= 1:
            session_ended.send(sender=DeviceEvent, device_id=device_id, connector_id=connector_id)
    return event
