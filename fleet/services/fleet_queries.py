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


def in_window(
    queryset: QuerySet,
    field: str,
    since: datetime | None,
    until: datetime | None,
    names: tuple[str, str] = ("since", "until"),
) -> QuerySet:
    """[since, until) on `field`, refusing an inverted range (1001)."""
    check_time_range(since, until, names)
    if since:
        queryset = queryset.filter(**{f"{field}__gte": since})
    if until:
        queryset = queryset.filter(**{f"{field}__lt": until})
    return queryset


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
    queryset = in_window(DeviceEvent.objects.filter(device=device), "timestamp", since, until)
    if event_type:
        queryset = queryset.filter(event_type=event_type)
    if fault_code:
        queryset = queryset.filter(fault_code=fault_code)
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
    queryset = in_window(TelemetrySample.objects.filter(device=device), "timestamp", since, until)
    if connector_id is not None:
        queryset = queryset.filter(connector_id=connector_id)
    return queryset.order_by("-timestamp", "-id")


def charging_records(
    operator_id: str,
    device_id: str | None = None,
    connector_id: int | None = None,
    start_time: datetime | None = None,
    end_time: datetime | None = None,
) -> QuerySet[ChargingRecord]:
    """Records whose start_time lies in [start_time, end_time) (A38), newest first."""
    queryset = in_window(
        ChargingRecord.objects.filter(device__site__operator_id=operator_id),
        "start_time",
        start_time,
        end_time,
        ("start_time", "end_time"),
    )
    if device_id:
        queryset = queryset.filter(device=get_device_for_operator(operator_id, device_id))
    if connector_id is not None:
        queryset = queryset.filter(connector_id=connector_id)
    return queryset.order_by("-start_time", "-id")


def command_for_operator(operator_id: str, command_id: str) -> Command:
    """A command the operator issued (its clients or its console users)."""
    command = Command.objects.filter(command_id=command_id, operator_id=operator_id).first()
    if command is None:
        raise NotFound(f"Command '{command_id}' not found")
    return command
