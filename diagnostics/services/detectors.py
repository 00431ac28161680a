"""Detectors (proposed-extensions §10): rules over recent fleet data, run by the Celery
sweep, each opening or refreshing one alert per subject."""

from datetime import datetime, timedelta

from django.db.models import Count, Exists, Max, Min, OuterRef, Q

from diagnostics.models import Alert
from diagnostics.services.alerts import raise_alert, severity_for_code
from diagnostics.services.runbooks import suggest_for_alert
from fleet.models import Command, Device, DeviceEvent, TelemetrySample

REPEAT_THRESHOLD = 3
REPEAT_WINDOW = timedelta(hours=24)
CLUSTER_MIN_DEVICES = 3
CLUSTER_WINDOW = timedelta(days=7)
RECENT = timedelta(minutes=15)
OVER_TEMPERATURE_C = {"AC": 65.0, "DC": 75.0}  # F-0203 warning temperatures
DISCHARGE_GRACE = timedelta(minutes=2)
# Every value Alert.detector takes (runbooks' suggest_when open_alert rules name these).
ALERT_DETECTORS = (
    "repeat_fault",
    "firmware_cluster",
    "heartbeat_lost",
    "reconnect_storm",
    "over_temperature",
    "discharge_no_power",
)


def repeat_fault(now: datetime) -> int:
    """The same code reported at least REPEAT_THRESHOLD times by one device in 24 h."""
    rows = (
        DeviceEvent.objects.filter(
            event_type="fault", timestamp__gte=now - REPEAT_WINDOW, device__site__isnull=False
        )
        .exclude(fault_code="")
        .values("device_id", "fault_code", "device__site__operator_id")
        .annotate(count=Count("id"), first=Min("timestamp"), last=Max("timestamp"))
        .filter(count__gte=REPEAT_THRESHOLD)
    )
    rows = list(rows)
    devices = Device.objects.in_bulk([row["device_id"] for row in rows], field_name="device_id")
    for row in rows:
        device = devices[row["device_id"]]
        code = row["fault_code"]
        raise_alert(
            detector="repeat_fault",
            subject=f"{device.device_id}:{code}",
            operator_id=row["device__site__operator_id"],
            device=device,
            fault_code=code,
            title=f"{code} reported {row['count']} times in 24 h",
            severity=severity_for_code(code),
            evidence={
                "count": row["count"],
                "first": row["first"].isoformat(),
                "last": row["last"].isoformat(),
            },
            seen_at=row["last"],
            suggested_runbook=suggest_for_alert(device, "repeat_fault", code),
        )
    return len(rows)


def firmware_cluster(now: datetime) -> int:
    """One code on CLUSTER_MIN_DEVICES or more devices on one firmware version in 7 days
    (the F-0421 pattern), per operator."""
    rows = (
        DeviceEvent.objects.filter(
            event_type="fault", timestamp__gte=now - CLUSTER_WINDOW, device__site__isnull=False
        )
        .exclude(fault_code="")
        .values("fault_code", "device__firmware_version", "device__site__operator_id")
        .annotate(
            devices=Count("device", distinct=True),
            sites=Count("device__site", distinct=True),
            last=Max("timestamp"),
        )
        .filter(devices__gte=CLUSTER_MIN_DEVICES)
    )
    for row in rows:
        code, firmware = row["fault_code"], row["device__firmware_version"]
        raise_alert(
            detector="firmware_cluster",
            subject=f"{code}@{firmware}",
            operator_id=row["device__site__operator_id"],
            fault_code=code,
            title=f"{code} on {row['devices']} chargers running firmware {firmware}",
            severity=Alert.Severity.HIGH,
            evidence={
                "firmware_version": firmware,
                "devices": row["devices"],
                "sites": row["sites"],
            },
            seen_at=row["last"],
            suggested_runbook=suggest_for_alert(None, "firmware_cluster", code),
        )
    return len(rows)


def platform_faults(now: datetime) -> int:
    """Heartbeat lost (F-0301) and reconnect storms (F-0302) derived by the platform."""
    titles = {"F-0301": "Heartbeat lost", "F-0302": "Reconnect storm"}
    events = DeviceEvent.objects.filter(
        source=DeviceEvent.Source.PLATFORM, fault_code__in=titles, timestamp__gte=now - RECENT,
        device__site__isnull=False,
    ).select_related("device__site")  # fmt: skip
    for event in events:
        raise_alert(
            detector="heartbeat_lost" if event.fault_code == "F-0301" else "reconnect_storm",
            subject=event.device_id,
            operator_id=event.device.site.operator_id,
            device=event.device,
            fault_code=event.fault_code,
            title=titles[event.fault_code],
            severity=severity_for_code(event.fault_code),
            evidence=event.data.get("details", {}),
            seen_at=event.timestamp,
            suggested_runbook=suggest_for_alert(
                event.device,
                "heartbeat_lost" if event.fault_code == "F-0301" else "reconnect_storm",
                event.fault_code,
            ),
        )
    return len(events)


def over_temperature(now: datetime) -> int:
    """Connector temperature above 65 °C (AC) or 75 °C (DC) in recent telemetry."""
    hot = (
        TelemetrySample.objects.filter(timestamp__gte=now - RECENT, device__site__isnull=False)
        .filter(Q(temperature__gt=min(OVER_TEMPERATURE_C.values())))
        .select_related("device__site")
        .order_by("timestamp")
    )
    peaks: dict[tuple[str, int], TelemetrySample] = {}
    for sample in hot:
        if sample.temperature > OVER_TEMPERATURE_C[sample.device.kind]:
            key = (sample.device_id, sample.connector_id)
            if key not in peaks or sample.temperature > peaks[key].temperature:
                peaks[key] = sample
    for (device_id, connector_id), sample in peaks.items():
        device = sample.device
        raise_alert(
            detector="over_temperature",
            subject=f"{device_id}#{connector_id}",
            operator_id=device.site.operator_id,
            device=device,
            fault_code="F-0203",
            title=f"Connector {connector_id} at {sample.temperature:.1f} °C",
            severity=Alert.Severity.MEDIUM,
            evidence={
                "connector_id": connector_id,
                "temperature": sample.temperature,
                "limit_c": OVER_TEMPERATURE_C[device.kind],
                "timestamp": sample.timestamp.isoformat(),
            },
            seen_at=sample.timestamp,
            suggested_runbook=suggest_for_alert(device, "over_temperature", "F-0203"),
        )
    return len(peaks)


def discharge_without_power(now: datetime) -> int:
    """A discharge the charger accepted more than DISCHARGE_GRACE ago, with no negative
    power on that connector since (the V2G runbook's symptom)."""
    power_flowed = TelemetrySample.objects.filter(
        device_id=OuterRef("device_id"),
        connector_id=OuterRef("connector_id"),
        timestamp__gte=OuterRef("updated_at"),
        power__lt=0,
    )
    stalled = (
        Command.objects.filter(
            command="discharge",
            device_status="accepted",
            status=Command.Status.ACCEPTED,
            updated_at__lte=now - DISCHARGE_GRACE,
            updated_at__gte=now - timedelta(hours=6),
            device__site__isnull=False,
        )
        .exclude(Exists(power_flowed))
        .select_related("device__site")
    )
    found = 0
    for command in stalled:
        found += 1
        raise_alert(
            detector="discharge_no_power",
            subject=command.command_id,
            operator_id=command.device.site.operator_id,
            device=command.device,
            title=f"Discharge accepted, no power flowing (connector {command.connector_id})",
            severity=Alert.Severity.HIGH,
            evidence={
                "command_id": command.command_id,
                "accepted_at": command.updated_at.isoformat(),
            },
            seen_at=now,
            suggested_runbook=suggest_for_alert(command.device, "discharge_no_power"),
        )
    return found


DETECTORS = (
    repeat_fault,
    firmware_cluster,
    platform_faults,
    over_temperature,
    discharge_without_power,
)


def run_detectors(now: datetime) -> dict[str, int]:
    return {detector.__name__: detector(now) for detector in DETECTORS}
