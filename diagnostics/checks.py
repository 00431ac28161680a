"""Auto-verify checks for runbook steps: small named functions over fleet data.

Each returns a CheckResult: `pass`, `fail` or `unknown` (the data needed to decide is missing —
never a guess) and the evidence it looked at, so an engineer can see why. Parameters that the vendor
leaves open (decision: open-thresholds) are arguments with defaults.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from django.db import models
from django.db.models import Count
from django.db.models.functions import Coalesce, NullIf
from django.utils import timezone

from diagnostics.models import Alert, FaultCode
from diagnostics.services.faults import firmware_assessment
from diagnostics.versions import compare, parse_version
from diagnostics.words import PATTERNS, counted
from fleet.models import Command, Device, DeviceEvent, FirmwareUpdate, TelemetrySample

PASS, FAIL, UNKNOWN, WAITING = "pass", "fail", "unknown", "waiting"
# The firmware-cohort rule (the power-up runbook's firmware-cluster step): one code on one
# firmware version at CLUSTER_MIN_DEVICES or more chargers spanning CLUSTER_MIN_SITES or more
# sites within CLUSTER_DAYS. The fleet_cluster check and the firmware-cluster detector both
# judge by it.
CLUSTER_MIN_DEVICES = 2
CLUSTER_MIN_SITES = 2
CLUSTER_DAYS = 7
V2G_CODES = ("F-0701", "F-0702")
CHECKS: dict[str, Callable[..., "CheckResult"]] = {}
# A verdict in the step's terms: "pass" of a check that looks for a problem (a fault
# pattern, a code, a cluster) reads backwards, so each check names its own outcomes.
VERDICTS = {PASS: "Pass", FAIL: "Fail", UNKNOWN: "Cannot decide", WAITING: "Waiting"}
VERDICT_WORDS: dict[str, dict[str, str]] = {
    "voltage_in_envelope": {PASS: "Supply within range", FAIL: "Supply out of range"},
    "heartbeat_fresh": {PASS: "Online", FAIL: "Not online"},
    "fault_pattern": {PASS: "No known pattern", FAIL: "Pattern found"},
    "firmware_current": {PASS: "Firmware current", FAIL: "Upgrade needed"},
    "firmware_at_least": {PASS: "Recent enough", FAIL: "Too old"},
    "auth_before_preparing": {PASS: "Authorised", FAIL: "Not authorised"},
    "command_status": {PASS: "Reached the charger", FAIL: "Did not go through"},
    "fleet_cluster": {PASS: "Cluster found", FAIL: "No cluster"},
    "code_present": {PASS: "Not reported", FAIL: "Reported"},
    "soc_above_floor": {PASS: "Above the floor", FAIL: "At or below the floor"},
    "back_online_after_reboot": {PASS: "Back online", FAIL: "Not back online"},
    "remote_start_worked": {PASS: "Charging", FAIL: "Still not charging"},
    "inverter_synced_before_discharge": {PASS: "Synced", FAIL: "Not synced"},
    "fault_gone_after_upgrade": {PASS: "Fixed", FAIL: "Still faulting"},
}


def verdict_words(check_name: str, outcome: str) -> str:
    """A check's outcome as the step would say it ("Cluster found", "Waiting")."""
    return VERDICT_WORDS.get(check_name, {}).get(outcome) or VERDICTS.get(outcome, outcome)


@dataclass
class CheckResult:
    outcome: str
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "summary": self.summary, "evidence": self.evidence}


def check(name: str):
    def register(function):
        CHECKS[name] = function
        return function

    return register


def run_check(name: str, device: Device, **params: Any) -> CheckResult:
    return CHECKS[name](device, **params)


@cache
def model_catalogue() -> dict[str, dict[str, Any]]:
    path = Path(__file__).resolve().parent / "data" / "models.yaml"
    return yaml.safe_load(path.read_text()) or {}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _history(model, device: Device):
    """The device's facts of `model` from its current operator's time (fleet/models/
    stamps.py): a charger handed over is checked on what happened since it arrived."""
    return model.objects.filter(device=device, operator_id=_owner(device))


def _owner(device: Device) -> str | None:
    return device.site.operator_id if device.site_id else None


def _latest_sample(device: Device, connector_id: int | None = None) -> TelemetrySample | None:
    samples = _history(TelemetrySample, device)
    if connector_id is not None:
        samples = samples.filter(connector_id=connector_id)
    return samples.order_by("-timestamp", "-id").first()


@check("voltage_in_envelope")
def voltage_in_envelope(
    device: Device,
    connector_id: int | None = None,
    envelope: tuple[float, float] | None = None,
    phase_balance_pct: float = 5.0,
) -> CheckResult:
    """Latest telemetry voltage inside the model's nominal envelope; with phase details,
    every phase within ±phase_balance_pct of the mean of the three."""
    sample = _latest_sample(device, connector_id)
    envelope = envelope or (model_catalogue().get(device.model) or {}).get("voltage_envelope_v")
    if sample is None:
        return CheckResult(UNKNOWN, "No telemetry received yet")
    evidence: dict[str, Any] = {"voltage": sample.voltage, "timestamp": _iso(sample.timestamp)}
    if not envelope:
        evidence["model"] = device.model
        return CheckResult(UNKNOWN, f"No voltage envelope configured for {device.model}", evidence)
    low, high = envelope
    evidence["envelope"] = [low, high]
    if not low <= sample.voltage <= high:
        return CheckResult(FAIL, f"{sample.voltage} V is outside {low}-{high} V", evidence)
    phases = sample.phase_details or {}
    if phases:
        volts = {
            name: (phases.get(name) or {}).get("voltage")
            for name in ("phase_a", "phase_b", "phase_c")
        }
        evidence["phases"] = volts
        if any(v is None for v in volts.values()):
            return CheckResult(FAIL, "A phase is missing from the phase details", evidence)
        mean = sum(volts.values()) / 3
        worst = max(abs(v - mean) / mean * 100 for v in volts.values()) if mean else 0.0
        evidence["imbalance_pct"] = round(worst, 2)
        if worst > phase_balance_pct:
            return CheckResult(
                FAIL, f"Phase imbalance {worst:.1f} % exceeds ±{phase_balance_pct} %", evidence
            )
    return CheckResult(PASS, f"{sample.voltage} V within {low}-{high} V", evidence)


@check("heartbeat_fresh")
def heartbeat_fresh(
    device: Device, max_age_seconds: int = 60, now: datetime | None = None
) -> CheckResult:
    """Online, with the last heartbeat younger than max_age_seconds."""
    now = now or timezone.now()
    evidence = {"status": device.status, "last_heartbeat": _iso(device.last_heartbeat)}
    if device.last_heartbeat is None:
        return CheckResult(FAIL, "The device has never sent a heartbeat", evidence)
    age = (now - device.last_heartbeat).total_seconds()
    evidence["age_seconds"] = round(age, 1)
    if device.status == Device.Status.ONLINE and age < max_age_seconds:
        return CheckResult(PASS, f"Online, heartbeat {age:.0f} s ago", evidence)
    return CheckResult(FAIL, f"{device.status}, heartbeat {age:.0f} s ago", evidence)


@check("fault_pattern")
def fault_pattern(device: Device, last: int = 10, cluster_min: int = 2) -> CheckResult:
    """Classify the device's newest fault events. Priority when several apply (decision:
    open-thresholds): F-0204 (safety) > V2G codes > F-0421 cluster > a single F-0411 > none."""
    events = list(
        _history(DeviceEvent, device)
        .filter(event_type="fault")
        .order_by("-timestamp", "-id")
        .values("id", "fault_code", "timestamp", "source")[:last]
    )
    codes = [e["fault_code"] for e in events]
    evidence = {
        "events": [
            {
                "event_id": e["id"],
                "fault_code": e["fault_code"],
                "timestamp": _iso(e["timestamp"]),
                "source": e["source"],
            }
            for e in events
        ],
        "counts": {code: codes.count(code) for code in sorted(set(codes))},
    }
    if "F-0204" in codes:
        pattern = "f0204"
    elif any(code in V2G_CODES for code in codes):
        pattern = "v2g"
    elif codes.count("F-0421") >= cluster_min:
        pattern = "f0421_cluster"
    elif codes.count("F-0411") == 1:
        pattern = "f0411_single"
    else:
        pattern = "none"
    evidence["pattern"] = pattern
    outcome = PASS if pattern == "none" else FAIL
    summary = f"{counted(len(events), 'fault event')}; pattern: {PATTERNS[pattern]}"
    return CheckResult(outcome, summary, evidence)


def _minor_gap(device_version: str, latest: str) -> int | None:
    """How many minor versions behind; a lower major counts as more than two."""
    mine, newest = parse_version(device_version), parse_version(latest)
    if mine is None or newest is None or mine.scheme != "dotted" or newest.scheme != "dotted":
        return None
    major, minor = (*mine.parts, 0)[:2]
    latest_major, latest_minor = (*newest.parts, 0)[:2]
    if major < latest_major:
        return 99
    if major > latest_major:
        return 0
    return max(0, latest_minor - minor)


def _known_issues(device: Device, codes: tuple[str, ...]) -> list[dict[str, Any]]:
    """The known firmware issues of the dictionary entries `codes` whose affected range
    holds the device's firmware (and whose models include its model, if they name any):
    the fault entry's own assessment, where it is sure."""
    return [
        {"fault_code": fault.code, "affected_from": issue["affected_from"],
         "affected_to": issue["affected_to"], "fixed_in": issue["fixed_in"]}
        for fault in FaultCode.objects.filter(code__in=codes).order_by("code")
        for issue in firmware_assessment(fault, device)
        if issue["affected"] is True
    ]  # fmt: skip


@check("firmware_current")
def firmware_current(
    device: Device, max_minor_behind: int = 2, known_issue_codes: tuple[str, ...] = ()
) -> CheckResult:
    """Fails when the device runs more than max_minor_behind minor versions behind the
    model's latest stable build, or runs a build inside the affected range of a known
    firmware issue of one of `known_issue_codes` (F-0421: 3.0.0-3.0.2, however close to
    the latest build that is)."""
    latest = (model_catalogue().get(device.model) or {}).get("latest_stable")
    evidence = {
        "firmware_version": device.firmware_version,
        "model": device.model,
        "latest_stable": latest,
    }
    issues = _known_issues(device, known_issue_codes)
    if issues:
        issue = issues[0]
        evidence["known_issues"] = issues
        return CheckResult(
            FAIL,
            f"{device.firmware_version} is affected by the known {issue['fault_code']} issue "
            f"({issue['affected_from']}-{issue['affected_to']}, fixed in {issue['fixed_in']})",
            evidence,
        )
    if not latest:
        return CheckResult(UNKNOWN, f"No latest stable build known for {device.model}", evidence)
    gap = _minor_gap(device.firmware_version, latest)
    if gap is None:
        return CheckResult(UNKNOWN, "Versions use different numbering schemes", evidence)
    evidence["minor_versions_behind"] = gap
    if gap > max_minor_behind:
        return CheckResult(
            FAIL,
            f"{device.firmware_version} is over {max_minor_behind} minor versions behind {latest}",
            evidence,
        )
    if (
        compare(device.firmware_version, latest) is not None
        and compare(device.firmware_version, latest) >= 0
    ):
        return CheckResult(
            PASS, f"{device.firmware_version} is the latest stable build or newer", evidence
        )
    if gap == 0:
        return CheckResult(
            PASS, f"{device.firmware_version} is on the latest stable line ({latest})", evidence
        )
    return CheckResult(
        PASS,
        f"{device.firmware_version} is {counted(gap, 'minor version')} behind {latest}, "
        f"within the {max_minor_behind} allowed",
        evidence,
    )


@check("firmware_at_least")
def firmware_at_least(device: Device, minimum: str) -> CheckResult:
    """The device's firmware is at least `minimum` (same numbering scheme only)."""
    order = compare(device.firmware_version, minimum)
    evidence = {"firmware_version": device.firmware_version, "minimum": minimum}
    if order is None:
        return CheckResult(
            UNKNOWN, f"{device.firmware_version} cannot be compared with {minimum}", evidence
        )
    if order >= 0:
        return CheckResult(PASS, f"{device.firmware_version} ≥ {minimum}", evidence)
    return CheckResult(FAIL, f"{device.firmware_version} < {minimum}", evidence)


@check("auth_before_preparing")
def auth_before_preparing(device: Device, connector_id: int) -> CheckResult:
    """An auth_ok event precedes the current preparing state (and follows its plug_in)."""
    preparing = (
        _history(TelemetrySample, device)
        .filter(connector_id=connector_id, state="preparing")
        .order_by("timestamp", "id")
    )
    plug_in = (
        _history(DeviceEvent, device).filter(connector_id=connector_id, event_type="plug_in")
        .order_by("-timestamp").first()
    )  # fmt: skip
    if plug_in is not None:
        preparing = preparing.filter(timestamp__gte=plug_in.timestamp)
    first_preparing = preparing.first()
    evidence = {
        "plug_in": _iso(plug_in.timestamp) if plug_in else None,
        "preparing_since": _iso(first_preparing.timestamp) if first_preparing else None,
    }
    if first_preparing is None:
        return CheckResult(UNKNOWN, "No preparing state recorded on this connector", evidence)
    auth = _history(DeviceEvent, device).filter(
        connector_id=connector_id,
        event_type="auth_ok",
        timestamp__lt=first_preparing.timestamp,
    )
    if plug_in is not None:
        auth = auth.filter(timestamp__gte=plug_in.timestamp)
    found = auth.order_by("-timestamp").first()
    evidence["auth_ok"] = _iso(found.timestamp) if found else None
    if found:
        return CheckResult(PASS, "Authorisation reached the charger before preparing", evidence)
    return CheckResult(FAIL, "No auth_ok before the connector started preparing", evidence)


@check("command_status")
def command_status(
    device: Device, command_id: str, expected: tuple[str, ...] = ("accepted", "completed")
) -> CheckResult:
    """The operator-facing status of one of the device's commands."""
    command = (
        Command.objects.filter(command_id=command_id, device=device).first() if command_id else None
    )
    if command is None:
        return CheckResult(
            UNKNOWN,
            "This run follows no command: none of that kind was sent to this charger in the "
            "last 7 days",
        )
    evidence = {
        "command_id": command.command_id,
        "command": command.command,
        "status": command.status,
        "device_status": command.device_status,
        "delivered_at": _iso(command.delivered_at),
        "result": command.result,
    }
    code = (command.result or {}).get("fault_code") if isinstance(command.result, dict) else None
    if isinstance(code, str) and code:  # the charger named the fault that stopped it
        evidence["fault_code"] = code[:32]
    outcome = PASS if command.status in expected else FAIL
    return CheckResult(outcome, f"Command is {command.status}", evidence)


# The firmware a fault was raised on: as stored with the event, else (an event stored
# before that was kept) the version the charger runs now.
RAISED_ON = Coalesce(NullIf("firmware_version", models.Value("")), "device__firmware_version")


@check("fleet_cluster")
def fleet_cluster(
    device: Device,
    fault_code: str = "F-0421",
    days: int = CLUSTER_DAYS,
    min_devices: int = CLUSTER_MIN_DEVICES,
    min_sites: int = CLUSTER_MIN_SITES,
    now: datetime | None = None,
) -> CheckResult:
    """Firmware-related pattern: the code on at least min_devices devices spanning at
    least min_sites sites, all on one firmware version, within `days` — searched in the
    device's operator fleet."""
    since = (now or timezone.now()) - timedelta(days=days)
    operator_id = _owner(device)
    if operator_id is None:
        return CheckResult(UNKNOWN, "The device is on no site")
    rows = (
        DeviceEvent.objects.filter(
            fault_code=fault_code,
            timestamp__gte=since,
            device__site__operator_id=operator_id,
            operator_id=operator_id,
        )
        .annotate(raised_on=RAISED_ON)
        .values("raised_on")
        .annotate(
            devices=Count("device", distinct=True), sites=Count("device__site", distinct=True)
        )
        .order_by("-devices", "raised_on")
    )
    groups = [
        {"firmware_version": r["raised_on"], "devices": r["devices"], "sites": r["sites"]}
        for r in rows
    ]
    evidence = {"fault_code": fault_code, "since": since.isoformat(), "by_firmware": groups}
    clustered = [g for g in groups if g["devices"] >= min_devices and g["sites"] >= min_sites]
    # The step's condition is "firmware-related": it passes when a cluster is found.
    if clustered:
        found = clustered[0]
        evidence["cluster_firmware"] = found["firmware_version"]
        return CheckResult(
            PASS,
            f"Found: {fault_code} on {counted(found['devices'], 'charger')} running "
            f"{found['firmware_version']} at {counted(found['sites'], 'site')} in the last "
            f"{counted(days, 'day')}",
            evidence,
        )
    return CheckResult(
        FAIL,
        f"Not found: no firmware version has {fault_code} on {min_devices} or more chargers "
        f"at {min_sites} or more sites in the last {counted(days, 'day')}",
        evidence,
    )


@check("code_present")
def code_present(
    device: Device,
    fault_codes: tuple[str, ...],
    since: datetime | None = None,
    connector_id: int | None = None,
    since_required: bool = False,
) -> CheckResult:
    """Fails when any of the codes appears in the device's events since `since`. With
    `since_required`, a search with no start (a run following no command) cannot decide:
    an old report of the code says nothing about this attempt."""
    if since is None and since_required:
        return CheckResult(
            UNKNOWN,
            "This run follows no command, so there is no attempt to search from",
            {"fault_codes": list(fault_codes)},
        )
    events = _history(DeviceEvent, device).filter(fault_code__in=fault_codes)
    if since is not None:
        events = events.filter(timestamp__gte=since)
    if connector_id is not None:
        events = events.filter(connector_id__in=[0, connector_id])
    found = list(events.order_by("-timestamp").values("id", "fault_code", "timestamp")[:20])
    evidence = {
        "fault_codes": list(fault_codes),
        "since": _iso(since),
        "found": [
            {"event_id": e["id"], "fault_code": e["fault_code"], "timestamp": _iso(e["timestamp"])}
            for e in found
        ],
    }
    if found:
        return CheckResult(FAIL, f"{found[0]['fault_code']} reported", evidence)
    return CheckResult(PASS, "None of the codes reported", evidence)


@check("soc_above_floor")
def soc_above_floor(device: Device, connector_id: int, floor: int = 20) -> CheckResult:
    """The vehicle's latest state of charge is above the discharge floor."""
    sample = _latest_sample(device, connector_id)
    if sample is None or sample.soc is None:
        return CheckResult(UNKNOWN, "No state of charge reported on this connector")
    evidence = {"soc": sample.soc, "floor": floor, "timestamp": _iso(sample.timestamp)}
    if sample.soc > floor:
        return CheckResult(PASS, f"SOC {sample.soc} % above the {floor} % floor", evidence)
    return CheckResult(FAIL, f"SOC {sample.soc} % at or below the {floor} % floor", evidence)


# The reboot's boot sequence (runbook 1, step 4): the check judges the charger only this
# long after the reboot completed.
REBOOT_WAIT_SECONDS = 90


@check("back_online_after_reboot")
def back_online_after_reboot(
    device: Device,
    command_id: str = "",
    wait_seconds: int = REBOOT_WAIT_SECONDS,
    max_age_seconds: int = 60,
    now: datetime | None = None,
) -> CheckResult:
    """At least `wait_seconds` after the run's reboot completed: online, with a heartbeat
    younger than max_age_seconds. Before then, or without a completed reboot, it cannot
    decide (an on-site power cycle is confirmed by the engineer)."""
    now = now or timezone.now()
    command = (
        Command.objects.filter(command_id=command_id, device=device, command="reboot").first()
        if command_id
        else None
    )
    if command is None:
        return CheckResult(
            WAITING,
            "Waiting for the reboot: send it from this step, or power-cycle on site and answer",
            {"waiting_for": "reboot"},
        )
    evidence: dict[str, Any] = {"command_id": command.command_id, "reboot_status": command.status}
    if command.status == Command.Status.FAILED:
        reason = str((command.result or {}).get("message") or command.device_status or "")[:200]
        return CheckResult(
            UNKNOWN,
            f"The charger did not carry out the reboot{f' ({reason})' if reason else ''}: "
            "power-cycle on site and answer",
            evidence,
        )
    if command.status != Command.Status.COMPLETED:
        return CheckResult(
            WAITING,
            f"Waiting for the reboot to complete (it is {command.status})",
            {**evidence, "waiting_for": "reboot"},
        )
    ready_at = command.updated_at + timedelta(seconds=wait_seconds)
    evidence.update({"rebooted_at": _iso(command.updated_at), "judged_from": _iso(ready_at)})
    if now < ready_at:
        left = (ready_at - now).total_seconds()
        return CheckResult(
            WAITING,
            f"Waiting {wait_seconds} s for the charger to boot: check again in {left:.0f} s",
            {**evidence, "waiting_for": "boot"},
        )
    fresh = heartbeat_fresh(device, max_age_seconds, now)
    return CheckResult(fresh.outcome, fresh.summary, {**evidence, **fresh.evidence})


# "The stuck-preparing condition recurs 3 times within 7 days on this connector":
# escalate (runbook 2, step 3). Each stuck-in-preparing alert is one occurrence.
STUCK_RECURRENCE = 3
STUCK_RECURRENCE_WINDOW = timedelta(days=7)
# How long after an accepted start the connector has to report charging.
START_CHARGING_WAIT = timedelta(seconds=60)


@check("remote_start_worked")
def remote_start_worked(
    device: Device,
    connector_id: int | None = None,
    since: datetime | None = None,
    now: datetime | None = None,
) -> CheckResult:
    """The second attempt succeeded: the run's latest remote start on the connector (sent
    since `since`, the run's start) was accepted or completed, and the connector reported
    state charging after it. Says how often the connector got stuck in preparing in the
    last 7 days (`recurring` from three times on)."""
    now = now or timezone.now()
    if connector_id is None:
        return CheckResult(UNKNOWN, "The run names no connector")
    starts = Command.objects.filter(device=device, command="start_charging")
    starts = starts.filter(connector_id=connector_id)
    if since is not None:
        starts = starts.filter(created_at__gte=since)
    start = starts.order_by("-created_at").first()
    if start is None:
        return CheckResult(
            WAITING,
            "Waiting for the remote start: send it from this step",
            {"waiting_for": "start_charging"},
        )
    stuck = Alert.objects.filter(
        detector="stuck_preparing",
        subject=f"{device.device_id}#{connector_id}",
        operator_id=_owner(device),
        created_at__gte=now - STUCK_RECURRENCE_WINDOW,
    ).count()
    evidence: dict[str, Any] = {
        "command_id": start.command_id,
        "status": start.status,
        "result": start.result,
        "stuck_in_7_days": stuck,
        "recurring": stuck >= STUCK_RECURRENCE,
    }
    if start.status == Command.Status.FAILED:
        return CheckResult(FAIL, "The remote start failed", evidence)
    if start.status not in (Command.Status.ACCEPTED, Command.Status.COMPLETED):
        return CheckResult(
            WAITING,
            f"Waiting for the charger to take the remote start (it is {start.status})",
            {**evidence, "waiting_for": "start_charging"},
        )
    charging = (
        _history(TelemetrySample, device)
        .filter(connector_id=connector_id, state="charging", timestamp__gte=start.created_at)
        .order_by("timestamp")
        .first()
    )
    evidence["charging_since"] = _iso(charging.timestamp) if charging else None
    if charging is not None:
        return CheckResult(PASS, f"Start {start.status}; the connector is charging", evidence)
    if now < start.updated_at + START_CHARGING_WAIT:
        return CheckResult(
            WAITING,
            f"Start {start.status}; waiting for the connector to report charging",
            {**evidence, "waiting_for": "charging"},
        )
    return CheckResult(
        FAIL, f"Start {start.status}, but the connector has not reported charging", evidence
    )


@check("inverter_synced_before_discharge")
def inverter_synced_before_discharge(
    device: Device, command_id: str = "", connector_id: int | None = None
) -> CheckResult:
    """F-0701 since the discharge was asked for fails at once. Otherwise the latest
    telemetry on the connector at or before the discharge started (the command accepted)
    must read inverter_sync_status 'synced'. v1.3 defines no such field: a charger that
    does not send it leaves the check undecided, and the engineer asks."""
    command = Command.objects.filter(command_id=command_id, device=device).first()
    if command is None or command.command != "discharge":
        return CheckResult(UNKNOWN, "This run follows no discharge command")
    lost = code_present(device, ("F-0701",), since=command.created_at, connector_id=connector_id)
    if lost.outcome == FAIL:
        return CheckResult(
            FAIL, "F-0701: the inverter lost grid sync", {**lost.evidence, "pattern": "f0701"}
        )
    started = command.delivered_at or command.updated_at
    samples = _history(TelemetrySample, device).filter(timestamp__lte=started)
    if connector_id is not None:
        samples = samples.filter(connector_id=connector_id)
    sample = samples.order_by("-timestamp", "-id").first()
    reading = (sample.extra or {}).get("inverter_sync_status") if sample else None
    evidence = {"discharge_started": _iso(started), "inverter_sync_status": reading}
    if not isinstance(reading, str):
        return CheckResult(
            UNKNOWN,
            "The charger does not report its inverter's grid sync; no F-0701 either",
            evidence,
        )
    evidence["timestamp"] = _iso(sample.timestamp)
    if reading == "synced":
        return CheckResult(PASS, "The inverter was synced before the discharge", evidence)
    return CheckResult(FAIL, f"The inverter read {reading[:40]!r} before the discharge", evidence)


# The fix of a firmware regression is verified on the new build: the charger has charged
# since its upgrade (the codes show when a session starts) and raised none of the codes.
@check("fault_gone_after_upgrade")
def fault_gone_after_upgrade(
    device: Device,
    fault_codes: tuple[str, ...],
    known_issue_codes: tuple[str, ...] = (),
    max_age_seconds: int = 300,
    now: datetime | None = None,
) -> CheckResult:
    """After the charger's latest firmware upgrade (a `success` report): it runs a build
    outside the known issues of `known_issue_codes`, has charged at least once since, has
    raised none of `fault_codes` since, and is online (heartbeat under max_age_seconds).
    Without an upgrade, or before a session on the new build, it waits."""
    now = now or timezone.now()
    issues = _known_issues(device, known_issue_codes)
    evidence: dict[str, Any] = {
        "firmware_version": device.firmware_version,
        "fault_codes": list(fault_codes),
    }
    if issues:
        issue = issues[0]
        return CheckResult(
            WAITING,
            f"Waiting for the upgrade: {device.firmware_version} is still inside the known "
            f"{issue['fault_code']} issue ({issue['affected_from']}-{issue['affected_to']})",
            {**evidence, "known_issues": issues, "waiting_for": "firmware_upgrade"},
        )
    upgrade = (
        _history(FirmwareUpdate, device)
        .filter(status=FirmwareUpdate.Status.SUCCESS)
        .order_by("-updated_at", "-id")
        .first()
    )
    if upgrade is None:
        return CheckResult(
            WAITING,
            "Waiting for a firmware upgrade: none has completed on this charger",
            {**evidence, "waiting_for": "firmware_upgrade"},
        )
    since = upgrade.updated_at
    evidence.update(
        {"upgraded_to": upgrade.firmware_version, "upgraded_from": upgrade.previous_version,
         "upgraded_at": _iso(since)}
    )  # fmt: skip
    again = code_present(device, fault_codes, since=since)
    if again.outcome == FAIL:
        found = again.evidence["found"]
        return CheckResult(
            FAIL,
            f"{found[0]['fault_code']} again since the upgrade to {upgrade.firmware_version} "
            f"({counted(len(found), 'time')})",
            {**evidence, "found": found},
        )
    charged = (
        _history(TelemetrySample, device)
        .filter(state="charging", timestamp__gte=since)
        .order_by("timestamp")
        .first()
    )
    evidence["charging_since_upgrade"] = _iso(charged.timestamp) if charged else None
    if charged is None:
        return CheckResult(
            WAITING,
            f"Waiting for a charging session on {upgrade.firmware_version}: the fault shows "
            "when a session starts",
            {**evidence, "waiting_for": "charging"},
        )
    online = heartbeat_fresh(device, max_age_seconds, now)
    evidence.update(online.evidence)
    if online.outcome != PASS:
        return CheckResult(FAIL, f"Not online since the upgrade: {online.summary}", evidence)
    return CheckResult(
        PASS,
        f"No {' or '.join(fault_codes)} since the upgrade to {upgrade.firmware_version}; "
        f"charged since, and {online.summary.lower()}",
        evidence,
    )
