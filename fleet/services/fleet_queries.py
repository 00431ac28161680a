"""Read-only views of an operator's fleet: devices, their events and telemetry, charging
records and commands. Everything is scoped to the operator; foreign ids are 3001."""

from datetime import datetime

from django.db.models import QuerySet

from fleet.errors import InvalidParameter, NotFound
from fleet.models import ChargingRecord, Command, Device, DeviceEvent, TelemetrySample
from fleet.services.tenancy import devices_of, get_device_for_operator, get_site_for_operator


def check_time_range(since: datetime | None, until: datetime | None, names=("since", "until")):
    if since is not None and until is not None and until <= since:
        raise InvalidParameter(names[1], until.isoformat(), f"{names[1]} must be after {names[0]}")


def devices(
    operator_id: str,
    site_id: str | None = None,
    status: str | None = None,
    model: str | None = None,
    firmware_version: str | None = None,
) -> QuerySet[Device]:
    queryset = devices_of(operator_id)
    if site_id:
        queryset = queryset.filter(site=get_site_for_operator(operator_id, site_id))
    if status:
        queryset = queryset.filter(status=status)
    if model:
        queryset = queryset.filter(model=model)
    if firmware_version:
        queryset = queryset.filter(firmware_version=firmware_version)
    return queryset.prefetch_related("connectors").order_by("registered_at", "device_id")


def device_events(
    operator_id: str,
    device_id: str,
    event_type: str | None = None,
    fault_code: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[DeviceEvent]:
    """The device's event log, newest first; `since` inclusive, `until` exclusive."""
    device = get_device_for_operator(operator_id, device_id)
    check_time_range(since, until)
    queryset = DeviceEvent.objects.filter(device=device)
    if event_type:
        queryset = queryset.filter(event_type=event_type)
    if fault_code:
        queryset = queryset.filter(fault_code=fault_code)
    if since:
        queryset = queryset.filter(timestamp__gte=since)
    if until:
        queryset = queryset.filter(timestamp__lt=until)
    return queryset.order_by("-timestamp", "-id")


def device_telemetry(
    operator_id: str,
    device_id: str,
    connector_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[TelemetrySample]:
    """Stored samples, newest first; `since` inclusive, `until` exclusive."""
    device = get_device_for_operator(operator_id, device_id)
    check_time_range(since, until)
    queryset = TelemetrySample.objects.filter(device=device)
    if connector_id is not None:
        queryset = queryset.filter(connector_id=connector_id)
    if since:
        queryset = queryset.filter(timestamp__gte=since)
    if until:
        queryset = queryset.filter(timestamp__lt=until)
    return queryset.order_by("-timestamp", "-id")


def charging_records(
    operator_id: str,
    device_id: str | None = None,
    connector_id: int | None = None,
    start_time: datetime | None = None,
    end_time: datetime | None = None,
) -> QuerySet[ChargingRecord]:
    """Records whose start_time lies in [start_time, end_time) (A38), newest first."""
    check_time_range(start_time, end_time, ("start_time", "end_time"))
    queryset = ChargingRecord.objects.filter(device__site__operator_id=operator_id)
    if device_id:
        queryset = queryset.filter(device=get_device_for_operator(operator_id, device_id))
    if connector_id is not None:
        queryset = queryset.filter(connector_id=connector_id)
    if start_time:
        queryset = queryset.filter(start_time__gte=start_time)
    if end_time:
        queryset = queryset.filter(start_time__lt=end_time)
    return queryset.order_by("-start_time", "-id")


def command_for_operator(operator_id: str, command_id: str) -> Command:
    """A command the operator issued (its clients or its console users)."""
    command = Command.objects.filter(command_id=command_id, operator_id=operator_id).first()
    if command is None:
        raise NotFound(f"Command '{command_id}' not found")
    return command
