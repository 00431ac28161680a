"""Detectors (docs/diagnostics.md, Detectors and alerts): rules over recent fleet data, run by the
Celery
sweep. Each finds its subjects and names the rows that are their facts; alerts.py opens
or refreshes one alert per subject from those facts.

Every detector, and every subject within a detector, runs on its own transaction or
savepoint: a failure is logged with its traceback and reported, and the sweep goes on.

An alert belongs to the operator owning the charger now, and counts only the facts that
happened under that operator (their stamp, fleet/models/stamps.py): a charger handed over
brings no past faults, temperatures or plug-ins into its new operator's alerts.
"""

import logging
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count, Exists, F, Max, OuterRef, Q, QuerySet, Subquery

from diagnostics.models import Alert
from diagnostics.services.alerts import (
    OPENED,
    REFRESHED,
    Detection,
    FactSummary,
    number,
    record_detection,
)
from diagnostics.services.faults import OVER_TEMPERATURE_C
from fleet.models import (
    Command,
    Connector,
    ConnectorState,
    Device,
    DeviceEvent,
    TelemetrySample,
)

logger = logging.getLogger(__name__)

REPEAT_THRESHOLD = 3
REPEAT_WINDOW = timedelta(hours=24)
CLUSTER_MIN_DEVICES = 3
CLUSTER_WINDOW = timedelta(days=7)
RECENT = timedelta(minutes=15)
DISCHARGE_GRACE = timedelta(minutes=2)
DISCHARGE_LOOKBACK = timedelta(hours=6)
# The runbooks give no "stuck" duration (decision: stuck-preparing): ten minutes is
# long past authorisation and the ISO 15118 handshake, short of a driver giving up.
STUCK_PREPARING = timedelta(minutes=10)
STUCK_LOOKBACK = timedelta(hours=24)
PLATFORM_FAULTS = {
    "F-0301": ("heartbeat_lost", "Heartbeat lost"),
    "F-0302": ("reconnect_storm", "Reconnect storm"),
}
# Every value Alert.detector takes (runbooks' suggest_when open_alert rules name these).
ALERT_DETECTORS = (
    "repeat_fault",
    "firmware_cluster",
    "heartbeat_lost",
    "reconnect_storm",
    "over_temperature",
    "discharge_no_power",
    "stuck_preparing",
)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _devices(device_ids: set[str]) -> dict[str, Device]:
    """The devices still on a site (alerts belong to the site's operator)."""
    found = Device.objects.select_related("site").in_bulk(device_ids, field_name="device_id")
    return {device_id: device for device_id, device in found.items() if device.site_id}


# Facts stamped with the operator owning their charger now (so the charger is on a site).
UNDER_CURRENT_OWNER = Q(operator_id=F("device__site__operator_id"))


def _owned_by(device: Device) -> dict[str, Any]:
    """The filter keeping a device's facts from its current operator's time."""
    return {"device": device, "operator_id": device.site.operator_id}


def _active(detector: str) -> QuerySet:
    return Alert.objects.filter(detector=detector, status__in=Alert.ACTIVE)


# --- Repeat fault -----------------------------------------------------------------------------


def repeat_fault(now: datetime) -> list[Detection]:
    """The same code reported at least REPEAT_THRESHOLD times by one device in 24 h. Facts:
    those fault events. Subjects with an open alert are looked at on every sweep, so the
    alert keeps counting new events even when the last 24 h hold fewer than three."""
    rows = (
        DeviceEvent.objects.filter(
            UNDER_CURRENT_OWNER, event_type="fault", timestamp__gte=now - REPEAT_WINDOW
        )
        .exclude(fault_code="")
        .values("device_id", "fault_code")
        .annotate(count=Count("id"))
        .filter(count__gte=REPEAT_THRESHOLD)
        .order_by()
    )
    subjects = {(row["device_id"], row["fault_code"]) for row in rows}
    subjects |= set(
        _active("repeat_fault").exclude(device=None).values_list("device_id", "fault_code")
    )
    devices = _devices({device_id for device_id, _ in subjects})
    return [
        _repeat_fault(devices[device_id], code)
        for device_id, code in sorted(subjects)
        if device_id in devices
    ]


def _repeat_fault(device: Device, code: str) -> Detection:
    def describe(facts: QuerySet, summary: FactSummary) -> tuple[str, dict[str, Any]]:
        return f"{code} reported {summary.count} times", {
            "count": summary.count,
            "first": _iso(summary.first),
            "last": _iso(summary.last),
        }

    return Detection(
        detector="repeat_fault",
        subject=f"{device.device_id}:{code}",  # ≤ 32 + 1 + 32: fits Alert.subject
        operator_id=device.site.operator_id,
        device=device,
        fault_code=code,
        facts=DeviceEvent.objects.filter(**_owned_by(device), event_type="fault", fault_code=code),
        window=REPEAT_WINDOW,
        threshold=REPEAT_THRESHOLD,
        describe=describe,
    )


# --- Firmware cluster -------------------------------------------------------------------------


def firmware_cluster(now: datetime) -> list[Detection]:
    """One code on CLUSTER_MIN_DEVICES or more devices on one firmware version in 7 days
    (the F-0421 pattern), per operator. Facts: the devices reporting the code (their
    fault events, counted once per device)."""
    rows = (
        DeviceEvent.objects.filter(
            UNDER_CURRENT_OWNER, event_type="fault", timestamp__gte=now - CLUSTER_WINDOW
        )
        .exclude(fault_code="")
        .values("fault_code", "device__firmware_version", "operator_id")
        .annotate(devices=Count("device", distinct=True))
        .filter(devices__gte=CLUSTER_MIN_DEVICES)
        .order_by()
    )
    subjects = {
        (row["fault_code"], row["device__firmware_version"], row["operator_id"]) for row in rows
    }
    for code, subject, operator_id in _active("firmware_cluster").values_list(
        "fault_code", "subject", "operator_id"
    ):
        subjects.add((code, subject[len(code) + 1 :], operator_id))  # subject: code@firmware
    return [_firmware_cluster(*subject) for subject in sorted(subjects)]


def _firmware_cluster(code: str, firmware: str, operator_id: str) -> Detection:
    def describe(facts: QuerySet, summary: FactSummary) -> tuple[str, dict[str, Any]]:
        sites = facts.order_by().aggregate(sites=Count("device__site", distinct=True))["sites"]
        return f"{code} on {summary.count} chargers running firmware {firmware}", {
            "firmware_version": firmware,
            "devices": summary.count,
            "sites": sites,
            "first": _iso(summary.first),
            "last": _iso(summary.last),
        }

    return Detection(
        detector="firmware_cluster",
        subject=f"{code}@{firmware}",  # ≤ 32 + 1 + 64: fits Alert.subject
        operator_id=operator_id,
        fault_code=code,
        severity=Alert.Severity.HIGH,
        facts=DeviceEvent.objects.filter(
            event_type="fault",
            fault_code=code,
            device__firmware_version=firmware,
            device__site__operator_id=operator_id,
            operator_id=operator_id,
        ),
        fact_key="device_id",
        window=CLUSTER_WINDOW,
        threshold=CLUSTER_MIN_DEVICES,
        describe=describe,
    )


# --- Platform-derived connectivity faults -------------------------------------------------------


def platform_faults(now: datetime) -> list[Detection]:
    """Heartbeat lost (F-0301) and reconnect storms (F-0302) derived by the platform.
    Facts: those platform events on the device."""
    rows = (
        DeviceEvent.objects.filter(
            source=DeviceEvent.Source.PLATFORM,
            fault_code__in=PLATFORM_FAULTS,
            timestamp__gte=now - RECENT,
        )
        .filter(UNDER_CURRENT_OWNER)
        .values_list("device_id", "fault_code")
        .order_by()
        .distinct()
    )
    subjects = set(rows)
    devices = _devices({device_id for device_id, _ in subjects})
    return [
        _platform_fault(devices[device_id], code)
        for device_id, code in sorted(subjects)
        if device_id in devices
    ]


def _platform_fault(device: Device, code: str) -> Detection:
    detector, title = PLATFORM_FAULTS[code]

    def describe(facts: QuerySet, summary: FactSummary) -> tuple[str, dict[str, Any]]:
        newest = facts.order_by("-timestamp", "-id").first()
        data = newest.data if newest is not None and isinstance(newest.data, dict) else {}
        times = "" if summary.count == 1 else f" ({summary.count} times)"
        return f"{title}{times}", {
            "count": summary.count,
            "first": _iso(summary.first),
            "last": _iso(summary.last),
            "details": data.get("details", {}),
        }

    return Detection(
        detector=detector,
        subject=device.device_id,
        operator_id=device.site.operator_id,
        device=device,
        fault_code=code,
        facts=DeviceEvent.objects.filter(
            **_owned_by(device), source=DeviceEvent.Source.PLATFORM, fault_code=code
        ),
        window=RECENT,
        describe=describe,
    )


# --- Over-temperature -------------------------------------------------------------------------


def over_temperature(now: datetime) -> list[Detection]:
    """Connector temperature above 65 °C (AC) or 75 °C (DC) in recent telemetry. Facts:
    the samples over the limit. NaN and infinite readings are no temperature at all
    (PostgreSQL sorts NaN above every number, hence the upper bound)."""
    rows = (
        TelemetrySample.objects.filter(
            UNDER_CURRENT_OWNER,
            timestamp__gte=now - RECENT,
            temperature__gt=min(OVER_TEMPERATURE_C.values()),
            temperature__lt=math.inf,
        )
        .values("device_id", "connector_id")
        .annotate(peak=Max("temperature"))
        .order_by()
    )
    rows = list(rows)
    devices = _devices({row["device_id"] for row in rows})
    detections = []
    for row in sorted(rows, key=lambda row: (row["device_id"], row["connector_id"])):
        device = devices.get(row["device_id"])
        if device is not None and row["peak"] > OVER_TEMPERATURE_C[device.kind]:
            detections.append(_over_temperature(device, row["connector_id"]))
    return detections


def _over_temperature(device: Device, connector_id: int) -> Detection:
    limit = OVER_TEMPERATURE_C[device.kind]

    def describe(facts: QuerySet, summary: FactSummary) -> tuple[str, dict[str, Any]]:
        peak = facts.order_by("-temperature", "-timestamp").first()
        return f"Connector {connector_id} at {number(peak.temperature)} °C", {
            "connector_id": connector_id,
            "temperature": peak.temperature,
            "limit_c": limit,
            "timestamp": _iso(peak.timestamp),
            "samples": summary.count,
            "first": _iso(summary.first),
            "last": _iso(summary.last),
        }

    return Detection(
        detector="over_temperature",
        subject=f"{device.device_id}#{connector_id}",
        operator_id=device.site.operator_id,
        device=device,
        fault_code="F-0203",
        severity=Alert.Severity.MEDIUM,
        facts=TelemetrySample.objects.filter(
            **_owned_by(device),
            connector_id=connector_id,
            temperature__gt=limit,
            temperature__lt=math.inf,
        ),
        window=RECENT,
        describe=describe,
    )


# --- Discharge without power ------------------------------------------------------------------


def discharge_without_power(now: datetime) -> list[Detection]:
    """A discharge the charger accepted more than DISCHARGE_GRACE ago, with no negative
    power on that connector since (the V2G runbook's symptom). Fact: the command."""
    power_flowed = TelemetrySample.objects.filter(
        device_id=OuterRef("device_id"),
        operator_id=OuterRef("device__site__operator_id"),
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
            updated_at__gte=now - DISCHARGE_LOOKBACK,
            device__site__isnull=False,
        )
        # sent by the platform, or by the operator that still owns the charger
        .filter(Q(operator_id__isnull=True) | Q(operator_id=F("device__site__operator_id")))
        .exclude(Exists(power_flowed))
        .select_related("device__site")
        .order_by("command_id")
    )
    return [_discharge_without_power(command) for command in stalled]


def _discharge_without_power(command: Command) -> Detection:
    def describe(facts: QuerySet, summary: FactSummary) -> tuple[str, dict[str, Any]]:
        return f"Discharge accepted, no power flowing (connector {command.connector_id})", {
            "command_id": command.command_id,
            "accepted_at": _iso(summary.last),
        }

    return Detection(
        detector="discharge_no_power",
        subject=command.command_id,
        operator_id=command.device.site.operator_id,
        device=command.device,
        severity=Alert.Severity.HIGH,
        facts=Command.objects.filter(command_id=command.command_id),
        # A command's facts are its acceptance: when it was accepted, and when we learnt it.
        time_field="updated_at",
        received_field="updated_at",
        window=DISCHARGE_LOOKBACK,
        describe=describe,
    )


# --- Stuck in preparing ------------------------------------------------------------------------


def stuck_preparing(now: datetime) -> list[Detection]:
    """A connector still in `preparing` more than STUCK_PREPARING after its latest
    plug-in, with no charging since (the stuck-preparing runbook's trigger). Facts: its
    preparing samples since that plug-in."""
    latest_plug_in = DeviceEvent.objects.filter(
        device_id=OuterRef("device_id"),
        operator_id=OuterRef("device__site__operator_id"),
        connector_id=OuterRef("connector_id"),
        event_type="plug_in",
        timestamp__gte=now - STUCK_LOOKBACK,
    ).order_by("-timestamp")
    connectors = (
        Connector.objects.filter(state=ConnectorState.PREPARING, device__site__isnull=False)
        .annotate(plugged_in=Subquery(latest_plug_in.values("timestamp")[:1]))
        .filter(plugged_in__lte=now - STUCK_PREPARING)
        .select_related("device__site")
        .order_by("device_id", "connector_id")
    )
    detections = []
    for connector in connectors:
        charged = TelemetrySample.objects.filter(
            **_owned_by(connector.device),
            connector_id=connector.connector_id,
            state__in=["charging", "discharging"],
            timestamp__gte=connector.plugged_in,
        )
        if not charged.exists():
            detections.append(_stuck_preparing(connector))
    return detections


def _stuck_preparing(connector: Connector) -> Detection:
    device = connector.device

    def describe(facts: QuerySet, summary: FactSummary) -> tuple[str, dict[str, Any]]:
        return f"Connector {connector.connector_id} stuck in preparing", {
            "connector_id": connector.connector_id,
            "plugged_in": _iso(connector.plugged_in),
            "preparing_samples": summary.count,
            "last_preparing": _iso(summary.last),
        }

    return Detection(
        detector="stuck_preparing",
        subject=f"{device.device_id}#{connector.connector_id}",
        operator_id=device.site.operator_id,
        device=device,
        severity=Alert.Severity.MEDIUM,
        facts=TelemetrySample.objects.filter(
            **_owned_by(device),
            connector_id=connector.connector_id,
            state="preparing",
            timestamp__gte=connector.plugged_in,
        ),
        window=STUCK_LOOKBACK,
        describe=describe,
    )


# --- The sweep --------------------------------------------------------------------------------

DETECTORS: tuple[Callable[[datetime], list[Detection]], ...] = (
    repeat_fault,
    firmware_cluster,
    platform_faults,
    over_temperature,
    discharge_without_power,
    stuck_preparing,
)


@dataclass
class DetectorReport:
    opened: int = 0
    refreshed: int = 0
    failed: list[str] = field(default_factory=list)  # subjects whose detection failed
    error: bool = False  # the detector itself failed: no subject was looked at


def run_detector(detector: Callable[[datetime], list[Detection]], now: datetime) -> DetectorReport:
    """One detector, isolated from the others and each subject from the rest: failures
    are logged and reported, never raised."""
    report = DetectorReport()
    name = detector.__name__
    try:
        with transaction.atomic():  # a savepoint, so a failed read leaves the connection usable
            detections = detector(now)
    except Exception:
        logger.exception("detector %s failed", name)
        report.error = True
        return report
    for detection in detections:
        try:
            _, outcome = record_detection(detection, now)
        except Exception:
            logger.exception("detector %s failed on subject %s", name, detection.subject)
            report.failed.append(detection.subject)
            continue
        report.opened += outcome == OPENED
        report.refreshed += outcome == REFRESHED
    return report


def run_detectors(now: datetime) -> dict[str, dict[str, Any]]:
    """Every detector, each isolated; per detector: alerts opened and refreshed, failed
    subjects and whether the detector itself failed."""
    return {detector.__name__: asdict(run_detector(detector, now)) for detector in DETECTORS}
