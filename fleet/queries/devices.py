"""An operator's devices: the list, and each device's event log and stored telemetry.
Everything is scoped to the operator; foreign ids are 3001. The list is the fleet now;
events and telemetry are history: what happened while the operator owned the charger,
readable after it has handed the charger over."""

from collections.abc import Iterable
from datetime import datetime

from django.db.models import Q, QuerySet

from fleet.models import Connector, ConnectorState, Device, DeviceEvent, TelemetrySample
from fleet.queries.filters import in_window, narrow
from fleet.services.tenancy import devices_of, get_site_for_operator, history_device


def devices(
    operator_id: str,
    *,
    site_id: str | None = None,
    status: str | None = None,
    model: str | None = None,
    firmware_version: str | None = None,
    search: str | None = None,
) -> QuerySet[Device]:
    """The operator's devices with their connectors, oldest registration first.
    `search` matches part of the serial number, device id, model or firmware version.
    Whether a charger is faulted is its state of health: diagnostics/queries/health.py."""
    queryset = devices_of(operator_id)
    if site_id:
        queryset = queryset.filter(site=get_site_for_operator(operator_id, site_id))
    queryset = narrow(queryset, status=status, model=model, firmware_version=firmware_version)
    if search:
        queryset = queryset.filter(
            Q(sn__icontains=search)
            | Q(device_id__icontains=search)
            | Q(model__icontains=search)
            | Q(firmware_version__icontains=search)
        )
    return queryset.prefetch_related("connectors").order_by("registered_at", "device_id")


# The states in which power flows; in any other a connector draws nothing.
FLOWING_STATES = (ConnectorState.CHARGING, ConnectorState.DISCHARGING)


def power_now(connectors: Iterable[Connector], *, charger_offline: bool = False) -> list[Connector]:
    """The connectors with the power (and current) they draw now: as last reported while
    charging or discharging, 0 in any other state (a stop or a fault moves the state before
    the charger's next sample, and an idle connector's last power is history, not a draw).
    A charger that fell silent (`charger_offline`, see `fell_silent`) has no live state:
    its connectors show as `unavailable`, drawing nothing known, and `reported_state` keeps
    what each last reported (decision: offline-connectors). The rows are read-only copies
    for display; the database keeps what was reported."""
    shown = list(connectors)
    for connector in shown:
        connector.reported_state = connector.state
        if charger_offline:
            connector.state = ConnectorState.UNAVAILABLE
            connector.power = connector.current = None
        elif connector.state not in FLOWING_STATES:
            if connector.power is not None:
                connector.power = 0.0
            if connector.current is not None:
                connector.current = 0.0
    return shown


def fell_silent(device: Device) -> bool:
    """Whether the platform marked the charger offline (its heartbeats stopped): what its
    connectors last reported is then no live state. A charger never heard from is not."""
    return device.status == Device.Status.OFFLINE and device.offline_since is not None


def device_by_reference(operator_id: str, reference: str) -> Device | None:
    """The operator's charger whose id, or serial number in any case, is `reference`
    (what people type in a filter); None for anything else."""
    if not reference:
        return None
    return devices_of(operator_id).filter(Q(device_id=reference) | Q(sn__iexact=reference)).first()


def device_events(
    operator_id: str,
    device_id: str,
    *,
    event_type: str | None = None,
    fault_code: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[DeviceEvent]:
    """The device's event log under the operator, newest first; `since` inclusive,
    `until` exclusive."""
    device_id = history_device(operator_id, device_id)
    events = DeviceEvent.objects.filter(device_id=device_id, operator_id=operator_id)
    queryset = in_window(events, "timestamp", since, until)
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
    """Stored samples under the operator, newest first; `since` inclusive, `until`
    exclusive."""
    device_id = history_device(operator_id, device_id)
    samples = TelemetrySample.objects.filter(device_id=device_id, operator_id=operator_id)
    queryset = in_window(samples, "timestamp", since, until)
    return narrow(queryset, connector_id=connector_id).order_by("-timestamp", "-id")
