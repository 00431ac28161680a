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
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count, Exists, F, Max, OuterRef, Q, QuerySet, Subquery

from diagnostics.checks import CLUSTER_DAYS, CLUSTER_MIN_DEVICES, CLUSTER_MIN_SITES, RAISED_ON
from diagnostics.models import Alert, FaultCode
from diagnostics.services.alerts import (
    OPENED,
    REFRESHED,
    Detection,
    FactSummary,
    number,
    record_detection,
    resolve_by_platform,
)
from diagnostics.services.faults import OVER_TEMPERATURE_C
from fleet.models import (
    Command,
    Connector,
    ConnectorState,
    Device,
    DeviceEvent,
    FirmwareCampaign,
    TelemetrySample,
)

logger = logging.getLogger(__name__)

# A code repeating: REPEAT_THRESHOLD events in REPEAT_WINDOW, unless its dictionary entry
# states its own recurrence rule (see repeat_rules).
REPEAT_THRESHOLD = 3
REPEAT_WINDOW = timedelta(hours=24)
# A dictionary threshold named "<action>_above_<what>_per_day" is a code's recurrence rule:
# more than that many of its events a day call for <action> (F-0411's
# site_visit_above_timeouts_per_day: 1, "more than once a day: a site visit"; decision:
# recurrence-rules).
RECURRENCE_KEY = re.compile(r"^(?P<action>[a-z0-9]+(?:_[a-z0-9]+)*?)_above_[a-z0-9_]+_per_day$")
# The codes whose dictionary entry documents the firmware-cohort rule: F-0421, where the
# same code on several chargers on one firmware version points to a firmware regression.
# Other codes shared by several chargers point elsewhere (F-0301 and F-0302 at a site's
# network, F-0702 at the vehicles) and raise no firmware alert (decision: firmware-cohort).
FIRMWARE_COHORT_CODES = ("F-0421",)
CLUSTER_WINDOW = timedelta(days=CLUSTER_DAYS)
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


@dataclass(frozen=True)
class AtOnce:
    detector: str
    severity: str
    title: str
    advice: str


# Codes a single event of which calls for action (the fault dictionary), whatever event
# type carries them: F-0204, the charger has cut its output or shut down to protect itself;
# F-0601, a cabinet fan below its nominal speed, which usually leads to F-0204 if ignored
# (decision: at-once-faults). The repeat detector leaves them to these alerts.
AT_ONCE_FAULTS = {
    "F-0204": AtOnce(
        "cabinet_over_temperature",
        Alert.Severity.HIGH,
        "Cabinet over-temperature",
        "the charger cut its output or shut down to protect itself",
    ),
    "F-0601": AtOnce(
        "cooling_fan_slow",
        Alert.Severity.MEDIUM,
        "Cooling fan below its nominal speed",
        "book a visit to replace the fan before the cabinet overheats",
    ),
}
AT_ONCE_WINDOW = timedelta(hours=24)
# Every value Alert.detector takes (runbooks' suggest_when open_alert rules name these).
ALERT_DETECTORS = (
    "repeat_fault",
    "firmware_cluster",
    "heartbeat_lost",
    "reconnect_storm",
    "cabinet_over_temperature",
    "cooling_fan_slow",
    "over_temperature",
    "discharge_no_power",
    "stuck_preparing",
    "firmware_rollout_halted",
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


@dataclass(frozen=True)
class RepeatRule:
    """How often a code may come back before it is a repeat fault: `threshold` events in
    REPEAT_WINDOW, and what the dictionary says that many call for (`action`), if it says."""

    threshold: int = REPEAT_THRESHOLD
    action: str = ""
    per_day_above: float | None = None

    def words(self) -> str:
        if self.per_day_above is None:
            return f"{self.threshold} or more times within 24 hours"
        times = "once" if self.per_day_above == 1 else f"{self.per_day_above:g} times"
        return f"more than {times} a day calls for a {self.action}"


DEFAULT_REPEAT = RepeatRule()


def repeat_rules() -> dict[str, RepeatRule]:
    """The recurrence rules the fault dictionary states, by code (the loaded entries'
    thresholds named like RECURRENCE_KEY; the strictest where an entry names several)."""
    rules: dict[str, RepeatRule] = {}
    for code, thresholds in FaultCode.objects.values_list("code", "thresholds"):
        for name, value in (thresholds if isinstance(thresholds, dict) else {}).items():
            match = RECURRENCE_KEY.match(str(name))
            if match is None or not _count_limit(value):
                continue
            rule = RepeatRule(math.floor(value) + 1, match["action"].replace("_", " "), value)
            if code not in rules or rule.threshold < rules[code].threshold:
                rules[code] = rule
    return rules


def _count_limit(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0 <= value < 1e6
    )


def repeat_fault(now: datetime) -> list[Detection]:
    """One code reported by one device as often as its rule says in 24 h (REPEAT_THRESHOLD
    times, or more than the dictionary's recurrence threshold for the code), whatever event
    type carried it. Facts: those events. Codes with an alert of their own at the first
    event (AT_ONCE_FAULTS) are left to it. Subjects with an open alert are looked at on
    every sweep, so the alert keeps counting new events even when the last 24 h hold fewer
    than the threshold."""
    rules = repeat_rules()
    lowest = min([REPEAT_THRESHOLD, *(rule.threshold for rule in rules.values())])
    rows = (
        DeviceEvent.objects.filter(UNDER_CURRENT_OWNER, timestamp__gte=now - REPEAT_WINDOW)
        .exclude(fault_code="")
        .exclude(fault_code__in=AT_ONCE_FAULTS)
        .values("device_id", "fault_code")
        .annotate(count=Count("id"))
        .filter(count__gte=lowest)
        .order_by()
    )
    subjects = {
        (row["device_id"], row["fault_code"])
        for row in rows
        if row["count"] >= rules.get(row["fault_code"], DEFAULT_REPEAT).threshold
    }
    subjects |= set(
        _active("repeat_fault").exclude(device=None).values_list("device_id", "fault_code")
    )
    devices = _devices({device_id for device_id, _ in subjects})
    return [
        _repeat_fault(devices[device_id], code, rules.get(code, DEFAULT_REPEAT))
        for device_id, code in sorted(subjects)
        if device_id in devices
    ]


def _repeat_fault(device: Device, code: str, rule: RepeatRule) -> Detection:
    def describe(facts: QuerySet, summary: FactSummary) -> tuple[str, dict[str, Any]]:
        title = f"{code} reported {summary.count} times"
        if rule.action:
            title += f": {rule.words()}"
        return title, {
            "count": summary.count,
            "first": _iso(summary.first),
            "last": _iso(summary.last),
            "rule": rule.words(),
        }

    return Detection(
        detector="repeat_fault",
        subject=f"{device.device_id}:{code}",  # ≤ 32 + 1 + 32: fits Alert.subject
        operator_id=device.site.operator_id,
        device=device,
        fault_code=code,
        facts=DeviceEvent.objects.filter(**_owned_by(device), fault_code=code),
        window=REPEAT_WINDOW,
        threshold=rule.threshold,
        describe=describe,
    )


# --- Firmware cluster -------------------------------------------------------------------------

NOT_A_FIRMWARE_CODE = (
    "Closed by the platform: the fault dictionary ties this code to no firmware version, "
    "so chargers sharing it do not point to a firmware fault."
)


def firmware_cluster(now: datetime) -> list[Detection]:
    """A firmware-cohort code (FIRMWARE_COHORT_CODES) on CLUSTER_MIN_DEVICES or more
    devices spanning CLUSTER_MIN_SITES or more sites, all on one firmware version, in
    CLUSTER_DAYS (the power-up runbook's firmware-cluster rule), per operator. Facts: the
    devices reporting the code (their events, counted once per device).

    Alerts this detector opened for other codes, before it kept to the cohort codes, are
    resolved by the platform, each with a note saying why."""
    resolve_by_platform(
        _active("firmware_cluster").exclude(fault_code__in=FIRMWARE_COHORT_CODES),
        NOT_A_FIRMWARE_CODE,
        "not_a_firmware_code",
    )
    rows = (
        DeviceEvent.objects.filter(
            UNDER_CURRENT_OWNER,
            fault_code__in=FIRMWARE_COHORT_CODES,
            timestamp__gte=now - CLUSTER_WINDOW,
        )
        .annotate(raised_on=RAISED_ON)
        .values("fault_code", "raised_on", "operator_id")
        .annotate(
            devices=Count("device", distinct=True), sites=Count("device__site", distinct=True)
        )
        .filter(devices__gte=CLUSTER_MIN_DEVICES, sites__gte=CLUSTER_MIN_SITES)
        .order_by()
    )
    subjects = {(row["fault_code"], row["raised_on"], row["operator_id"]) for row in rows}
    for code, subject, operator_id in _active("firmware_cluster").values_list(
        "fault_code", "subject", "operator_id"
    ):
        subjects.add((code, subject[len(code) + 1 :], operator_id))  # subject: code@firmware
    return [_firmware_cluster(*subject) for subject in sorted(subjects)]


def _sites(facts: QuerySet) -> int:
    return facts.order_by().aggregate(sites=Count("device__site", distinct=True))["sites"]


def _firmware_cluster(code: str, firmware: str, operator_id: str) -> Detection:
    def describe(facts: QuerySet, summary: FactSummary) -> tuple[str, dict[str, Any]]:
        sites = _sites(facts)
        title = f"{code} on {summary.count} chargers at {sites} sites running firmware {firmware}"
        return title, {
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
        facts=DeviceEvent.objects.annotate(raised_on=RAISED_ON).filter(
            fault_code=code,
            raised_on=firmware,
            device__site__operator_id=operator_id,
            operator_id=operator_id,
        ),
        fact_key="device_id",
        window=CLUSTER_WINDOW,
        threshold=CLUSTER_MIN_DEVICES,
        qualifies=lambda facts: _sites(facts) >= CLUSTER_MIN_SITES,
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


# --- Faults that need action at the first event ----------------------------------------------


def at_once_faults(now: datetime) -> list[Detection]:
    """F-0204 and F-0601 (AT_ONCE_FAULTS) open an alert at their first event, whether a
    charger sends them as a fault or as a warning. Facts: those events on the device."""
    rows = (
        DeviceEvent.objects.filter(
            UNDER_CURRENT_OWNER,
            fault_code__in=AT_ONCE_FAULTS,
            timestamp__gte=now - AT_ONCE_WINDOW,
        )
        .values_list("device_id", "fault_code")
        .order_by()
        .distinct()
    )
    subjects = set(rows)
    for code, at_once in AT_ONCE_FAULTS.items():
        subjects |= {
            (device_id, code)
            for device_id in _active(at_once.detector)
            .exclude(device=None)
            .values_list("device_id", flat=True)
        }
    devices = _devices({device_id for device_id, _ in subjects})
    return [
        _at_once_fault(devices[device_id], code)
        for device_id, code in sorted(subjects)
        if device_id in devices
    ]


def _at_once_fault(device: Device, code: str) -> Detection:
    at_once = AT_ONCE_FAULTS[code]

    def describe(facts: QuerySet, summary: FactSummary) -> tuple[str, dict[str, Any]]:
        newest = facts.order_by("-timestamp", "-id").first()
        data = newest.data if newest is not None and isinstance(newest.data, dict) else {}
        details = data.get("details")
        if not isinstance(details, dict):  # what else the event said, beside the code
            details = {k: v for k, v in data.items() if k not in ("fault_code", "fault_message")}
        times = "" if summary.count == 1 else f" ({summary.count} times)"
        evidence = {
            "count": summary.count,
            "first": _iso(summary.first),
            "last": _iso(summary.last),
            "details": details,  # a cabinet's fault: no connector to name, though one is sent
        }
        if code == "F-0601":
            evidence |= _fan_speeds(data, details)
            if "fan_rpm" in evidence:  # shown on its own, with its unit
                evidence["details"] = {
                    key: value for key, value in details.items() if key not in FAN_SPEED_KEYS
                }
        return f"{at_once.title}{times}: {at_once.advice}", evidence

    return Detection(
        detector=at_once.detector,
        subject=device.device_id,
        operator_id=device.site.operator_id,
        device=device,
        fault_code=code,
        severity=at_once.severity,
        facts=DeviceEvent.objects.filter(**_owned_by(device), fault_code=code),
        window=AT_ONCE_WINDOW,
        describe=describe,
    )


FAN_SPEED_KEYS = ("cooling_fan_rpm", "fan_rpm", "rpm")


def _fan_speeds(data: dict[str, Any], details: dict[str, Any]) -> dict[str, Any]:
    """The fan speed the event reported, if it did, and the nominal speed the dictionary
    gives (F-0601's cabinet_fan_nominal_rpm)."""
    speeds = {}
    for source in (details, data):
        found = next((source[key] for key in FAN_SPEED_KEYS if _count_limit(source.get(key))), None)
        if found is not None:
            speeds["fan_rpm"] = found
            break
    thresholds = FaultCode.objects.filter(code="F-0601").values_list("thresholds", flat=True)
    nominal = next(iter(thresholds), None) or {}
    if isinstance(nominal, dict) and _count_limit(nominal.get("cabinet_fan_nominal_rpm")):
        speeds["nominal_fan_rpm"] = nominal["cabinet_fan_nominal_rpm"]
    return speeds


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
    """A discharge requested more than DISCHARGE_GRACE ago, whatever its command's status
    now (queued, accepted, failed or completed), with no power flowing on that connector
    since the request: no sample in state `discharging` or with negative power (the V2G
    runbook's trigger; decision: discharge-trigger). Fact: the command."""
    power_flowed = TelemetrySample.objects.filter(
        Q(state=ConnectorState.DISCHARGING) | Q(power__lt=0),
        device_id=OuterRef("device_id"),
        operator_id=OuterRef("device__site__operator_id"),
        connector_id=OuterRef("connector_id"),
        timestamp__gte=OuterRef("created_at"),
    )
    stalled = (
        Command.objects.filter(
            command="discharge",
            created_at__lte=now - DISCHARGE_GRACE,
            created_at__gte=now - DISCHARGE_LOOKBACK,
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
        return f"Discharge requested, no power flowing (connector {command.connector_id})", {
            "command_id": command.command_id,
            "requested_at": _iso(command.created_at),
            "command_status": command.status,
        }

    return Detection(
        detector="discharge_no_power",
        subject=command.command_id,
        operator_id=command.device.site.operator_id,
        device=command.device,
        severity=Alert.Severity.HIGH,
        facts=Command.objects.filter(command_id=command.command_id),
        # A command's fact is the request: when it was made, which is also when we learnt
        # of it (a later change of its status is the same fact).
        time_field="created_at",
        received_field="created_at",
        window=DISCHARGE_LOOKBACK,
        describe=describe,
    )


# --- Stuck in preparing ------------------------------------------------------------------------


def stuck_preparing(now: datetime) -> list[Detection]:
    """A connector of an online charger still in `preparing` more than STUCK_PREPARING
    after its latest plug-in, with no charging since (the stuck-preparing runbook's
    trigger). Facts: its preparing samples since that plug-in. A charger that falls silent
    opens no such alert, and one already open stays open, unchanged, until the charger is
    back (decision: offline-connectors)."""
    latest_plug_in = DeviceEvent.objects.filter(
        device_id=OuterRef("device_id"),
        operator_id=OuterRef("device__site__operator_id"),
        connector_id=OuterRef("connector_id"),
        event_type="plug_in",
        timestamp__gte=now - STUCK_LOOKBACK,
    ).order_by("-timestamp")
    connectors = (
        Connector.objects.filter(
            state=ConnectorState.PREPARING,
            device__site__isnull=False,
            # An offline charger's last reported state is not a live one (decision:
            # offline-connectors).
            device__status=Device.Status.ONLINE,
        )
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


# --- Halted firmware rollouts ---------------------------------------------------------------

ROLLOUT_HALTED = "firmware_rollout_halted"
# A halt stays an alert however long the campaign stays halted.
ROLLOUT_WINDOW = timedelta(days=3650)
ROLLOUT_GONE = {
    FirmwareCampaign.Status.RUNNING: "Resolved by the platform: the rollout was resumed.",
    FirmwareCampaign.Status.PAUSED: "Resolved by the platform: the rollout was resumed.",
    FirmwareCampaign.Status.CANCELLED: "Resolved by the platform: the rollout was cancelled.",
    FirmwareCampaign.Status.COMPLETED: "Resolved by the platform: the rollout completed.",
}


def firmware_rollout_halted(now: datetime) -> list[Detection]:
    """One alert per halted firmware campaign (its subject the campaign id), opened with
    the halt's reason in words; resolved by the platform once the campaign is resumed or
    cancelled (also at once, by resolve_rollout_alerts on the campaign's change)."""
    resolve_rollout_alerts()
    halted = FirmwareCampaign.objects.filter(
        status=FirmwareCampaign.Status.HALTED, halted_at__isnull=False
    ).order_by("campaign_id")
    return [_rollout_halted(campaign) for campaign in halted]


def resolve_rollout_alerts(campaign_ids: list[str] | None = None) -> int:
    """Resolve the active halt alerts of campaigns no longer halted, each with a note
    saying what became of the rollout."""
    active = _active(ROLLOUT_HALTED)
    if campaign_ids is not None:
        active = active.filter(subject__in=campaign_ids)
    subjects = set(active.values_list("subject", flat=True))
    statuses = dict(
        FirmwareCampaign.objects.filter(campaign_id__in=subjects).values_list(
            "campaign_id", "status"
        )
    )
    resolved = 0
    for subject in sorted(subjects):
        status = statuses.get(subject)
        if status == FirmwareCampaign.Status.HALTED:
            continue
        note = ROLLOUT_GONE.get(status, "Resolved by the platform: the rollout is gone.")
        resolved += resolve_by_platform(
            active.filter(subject=subject), note, f"rollout_{status or 'deleted'}"
        )
    return resolved


def _rollout_halted(campaign: FirmwareCampaign) -> Detection:
    def describe(facts: QuerySet, summary: FactSummary) -> tuple[str, dict[str, Any]]:
        current = facts.first() or campaign
        return f"Firmware rollout “{current.name}” halted: {current.halt_reason}", {
            "campaign_id": current.campaign_id,
            "target_version": current.target_version,
            "reason": current.halt_reason,
            "halted_at": _iso(current.halted_at),
        }

    return Detection(
        detector=ROLLOUT_HALTED,
        subject=campaign.campaign_id,
        operator_id=campaign.operator_id,
        severity=Alert.Severity.HIGH,
        facts=FirmwareCampaign.objects.filter(
            campaign_id=campaign.campaign_id, status=FirmwareCampaign.Status.HALTED
        ),
        fact_key="campaign_id",
        time_field="halted_at",
        received_field="halted_at",
        window=ROLLOUT_WINDOW,
        describe=describe,
    )


# --- The sweep --------------------------------------------------------------------------------

# The firmware-cluster detector runs before the per-charger ones: a charger's repeat-fault
# alert ranks the runbooks with the cluster's alert already open (a cluster points to the
# power-up runbook's firmware route, whatever a connector happens to be doing).
DETECTORS: tuple[Callable[[datetime], list[Detection]], ...] = (
    firmware_cluster,
    repeat_fault,
    platform_faults,
    at_once_faults,
    over_temperature,
    discharge_without_power,
    stuck_preparing,
    firmware_rollout_halted,
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


def on_campaign_changed(sender: object, campaign_id: str, **kwargs: object) -> None:
    """firmware_campaign_changed receiver (after commit): a campaign no longer halted has
    its halt alert resolved now rather than at the next sweep. A failure here is the
    sweep's to repair, never the operator's request's."""
    try:
        with transaction.atomic():
            resolve_rollout_alerts([campaign_id])
    except Exception:
        logger.exception("resolving the halt alert of campaign %s failed", campaign_id)
