"""An operator's devices: the list, and each device's event log and stored telemetry.
Everything is scoped to the operator; foreign ids are 3001."""

from datetime import datetime

from django.db.models import Exists, OuterRef, Q, QuerySet

from fleet.models import Connector, ConnectorState, Device, DeviceEvent, TelemetrySample
from fleet.queries.filters import in_window, narrow
from fleet.services.tenancy import devices_of, get_device_for_operator, get_site_for_operator


def devices(
    operator_id: str,
    *,
    site_id: str | None = None,
    status: str | None = None,
    model: str | None = None,
    firmware_version: str | None = None,
    faulted: bool | None = None,
    search: str | None = None,
) -> QuerySet[Device]:
    """The operator's devices with their connectors, oldest registration first.
    `search` matches part of the serial number, device id, model or firmware version."""
    queryset = devices_of(operator_id)
    if site_id:
        queryset = queryset.filter(site=get_site_for_operator(operator_id, site_id))
    queryset = narrow(queryset, status=status, model=model, firmware_version=firmware_version)
    if faulted is not None:
        queryset = queryset.filter(faulted_filter() if faulted else ~faulted_filter())
    if search:
        queryset = queryset.filter(
            Q(sn__icontains=search)
            | Q(device_id__icontains=search)
            | Q(model__icontains=search)
            | Q(firmware_version__icontains=search)
        )
    return queryset.prefetch_related("connectors").order_by("registered_at", "device_id")


def device_by_reference(operator_id: str, reference: str) -> Device | None:
    """The operator's charger whose id, or serial number in any case, is `reference`
    (what people type in a filter); None for anything else."""
    if not reference:
        return None
    return devices_of(operator_id).filter(Q(device_id=reference) | Q(sn__iexact=reference)).first()


FAULT_STATES = (ConnectorState.FAULT, ConnectorState.UNAVAILABLE)


def faulted_filter() -> Q:
    """A device is faulted while its last heartbeat carried a fault code or one of its
    connectors is in a fault (or unavailable) state."""
    in_fault = Connector.objects.filter(device=OuterRef("pk"), state__in=FAULT_STATES)
    return (Q(reported_fault_code__isnull=False) & ~Q(reported_fault_code=0)) | Exists(in_fault)


def device_events(
    operator_id: str,
    device_id: str,
    *,
    event_type: str | None = None,
    fault_code: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[DeviceEvent]:
    """The device's event log, newest first; `since` inclusive, `until` exclusive."""
    device = get_device_for_operator(operator_id, device_id)
    queryset = in_window(DeviceEvent.objects.filter(device=device), "timestamp", since, until)
    queryset = narrow(queryset, event_type=event_type, fault_code=fault_code)
    return queryset.order_by("-timestamp", "-id")


def device_telemetry(
    operator_id: str,
    device_id: str,
    *,
    connector_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[TelemetrySample]:
    """Stored samples, newest first; `since` inclusive, `until` exclusive."""
    device = get_device_for_operator(operator_id, device_id)
    queryset = in_window(TelemetrySample.objects.filter(device=device), "timestamp", since, until)
    return narrow(queryset, connector_id=connector_id).order_by("-timestamp", "-id")
