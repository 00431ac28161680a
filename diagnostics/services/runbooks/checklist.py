"""What an escalation hands over: the items of the runbook's escalation checklist, each
gathered from live data when the run is escalated.

The items are a table (CHECKLIST): what each holds, in words for the runbook's page, and
how it is gathered. An item the table does not know is handed over empty (None)."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from diagnostics.models import FaultCode, RunbookExecution
from diagnostics.services.faults import OVER_TEMPERATURE_C, firmware_assessment
from fleet.models import ChargingRecord, Command, DeviceEvent, TelemetrySample

EVENT_LOG_FAULTS = 10
FIRMWARE_FAULTS_LOOKED_AT = 50
THERMAL_WINDOW_HOURS = 24
THERMAL_SAMPLES = 20
# Without a command to start from, the trail starts this long before the run.
TRAIL_BEFORE_RUN = timedelta(hours=1)
TRAIL_EVENTS = 100
TELEMETRY_BEFORE_FAULT_SECONDS = 60


@dataclass(frozen=True)
class ChecklistItem:
    """One item an escalation may hand over."""

    words: str  # what it holds, as the runbook's page says it
    gather: Callable[[RunbookExecution], Any]


def _own(model, execution: RunbookExecution) -> QuerySet:
    """The charger's facts of `model` from the run's operator's time (their stamp,
    fleet/models/stamps.py): an escalation hands over nothing from a previous owner."""
    return model.objects.filter(device=execution.device, operator_id=execution.operator_id)


def _faults(execution: RunbookExecution) -> QuerySet[DeviceEvent]:
    """The device's fault events, newest first."""
    return _own(DeviceEvent, execution).filter(event_type="fault").order_by("-timestamp")


def _events(queryset) -> list[dict[str, Any]]:
    return [
        {
            "event_type": e.event_type,
            "fault_code": e.fault_code or None,
            "connector_id": e.connector_id,
            "timestamp": e.timestamp.isoformat(),
            "source": e.source,
        }
        for e in queryset
    ]


def _event_log(execution: RunbookExecution) -> list[dict[str, Any]]:
    return _events(_faults(execution)[:EVENT_LOG_FAULTS])


def _firmware(execution: RunbookExecution) -> dict[str, Any]:
    device = execution.device
    codes = set(_faults(execution).values_list("fault_code", flat=True)[:FIRMWARE_FAULTS_LOOKED_AT])
    known = [
        {"code": f.code, "assessment": firmware_assessment(f, device)}
        for f in FaultCode.objects.filter(code__in=codes)
        if f.known_firmware_issues
    ]
    return {
        "firmware_version": device.firmware_version,
        "model": device.model,
        "known_issues": known,
    }


def _thermal_anomalies(execution: RunbookExecution) -> dict[str, Any]:
    device = execution.device
    limit = OVER_TEMPERATURE_C[device.kind]
    since = timezone.now() - timedelta(hours=THERMAL_WINDOW_HOURS)
    hot = _own(TelemetrySample, execution).filter(timestamp__gte=since, temperature__gt=limit)
    return {
        "limit_c": limit,
        "samples": [
            {
                "connector_id": s.connector_id,
                "timestamp": s.timestamp.isoformat(),
                "temperature": s.temperature,
            }
            for s in hot.order_by("-timestamp")[:THERMAL_SAMPLES]
        ],
    }


def _event_trail(execution: RunbookExecution) -> list[dict[str, Any]]:
    command = Command.objects.filter(command_id=execution.command_id).first()
    since = command.created_at if command else execution.created_at - TRAIL_BEFORE_RUN
    trail = _own(DeviceEvent, execution).filter(timestamp__gte=since)
    return _events(trail.order_by("timestamp")[:TRAIL_EVENTS])


def _inverter_telemetry(execution: RunbookExecution) -> list[dict[str, Any]]:
    last_fault = _faults(execution).first()
    end = last_fault.timestamp if last_fault else timezone.now()
    window = (
        _own(TelemetrySample, execution)
        .filter(
            timestamp__gte=end - timedelta(seconds=TELEMETRY_BEFORE_FAULT_SECONDS),
            timestamp__lte=end,
        )
        .order_by("timestamp")
    )
    return [
        {"timestamp": s.timestamp.isoformat(), "power": s.power, "voltage": s.voltage,
         "current": s.current, "component_health": s.component_health}
        for s in window
    ]  # fmt: skip


def _vehicle(execution: RunbookExecution) -> dict[str, Any]:
    record = _own(ChargingRecord, execution).order_by("-start_time").first()
    return {
        "from_last_record": record.vehicle_info if record else None,
        "to_fill_in": "make, model, firmware",
    }


def _connector_photos(execution: RunbookExecution) -> dict[str, Any]:
    return {"to_attach": "pictures of the connector pins"}


def _runbook_reference(execution: RunbookExecution) -> dict[str, Any]:
    return {
        "runbook": execution.runbook_id,
        "title": execution.runbook.title,
        "steps": list(execution.results.values("step_key", "outcome", "choice", "note", "by")),
    }


CHECKLIST: dict[str, ChecklistItem] = {
    "event_log": ChecklistItem(f"the charger's last {EVENT_LOG_FAULTS} fault events", _event_log),
    "firmware": ChecklistItem(
        "its firmware and model, against the known issues of its fault codes", _firmware
    ),
    "thermal_anomalies": ChecklistItem(
        f"temperatures above the warning limit in the last {THERMAL_WINDOW_HOURS} hours",
        _thermal_anomalies,
    ),
    "event_trail": ChecklistItem("every event since the run's command", _event_trail),
    "inverter_telemetry_60s": ChecklistItem(
        f"the {TELEMETRY_BEFORE_FAULT_SECONDS} seconds of telemetry before the last fault",
        _inverter_telemetry,
    ),
    "vehicle": ChecklistItem(
        "the vehicle, from the last charging record (make, model, firmware to add)", _vehicle
    ),
    "connector_photos": ChecklistItem(
        "pictures of the connector pins (to attach)", _connector_photos
    ),
    "runbook_reference": ChecklistItem(
        "this runbook and every step result of the run", _runbook_reference
    ),
}


def checklist_item(item: str, execution: RunbookExecution) -> Any:
    """One item of the checklist as gathered now; None for an item the table does not know."""
    known = CHECKLIST.get(item)
    return known.gather(execution) if known else None


def checklist_words(item: str) -> str:
    """What an item holds, in words; its own name for an item the table does not know."""
    known = CHECKLIST.get(item)
    return known.words if known else item


def checklist(execution: RunbookExecution) -> dict[str, Any]:
    """The run's runbook's escalation checklist, every item gathered now."""
    return {
        item: checklist_item(item, execution) for item in execution.runbook.escalation_checklist
    }


# Every command of the run and every check's evidence go with an escalation; a run that
# sent more than this many commands hands over its latest ones.
HANDOVER_COMMANDS = 50


def handover(execution: RunbookExecution) -> dict[str, Any]:
    """What every escalation hands over besides its runbook's checklist: where the charger
    is (site name and address), what it is (serial, model, firmware), every command sent
    to it during the run with its status history, and each check's verdict with its
    evidence. Times are ISO 8601 with their offset (UTC)."""
    device = execution.device
    site = device.site if device.site and device.site.operator_id == execution.operator_id else None
    return {
        "site": {"name": site.name, "address": site.address} if site else None,
        "charger": {
            "serial": device.sn,
            "device_id": device.device_id,
            "manufacturer": device.manufacturer,
            "model": device.model,
            "firmware_version": device.firmware_version,
            "connector_id": execution.connector_id,
            "status": device.status,
            "last_heartbeat": device.last_heartbeat.isoformat() if device.last_heartbeat else None,
        },
        "commands": _run_commands(execution),
        "checks": [
            {
                "step": result.step_key,
                "step_title": (execution.runbook.step(result.step_key) or {}).get("title", ""),
                "verdict": (result.evidence or {}).get("verdict", result.outcome),
                "summary": (result.evidence or {}).get("summary", ""),
                "at": result.at.isoformat(),
                "evidence": {
                    key: value
                    for key, value in (result.evidence or {}).items()
                    if key not in ("summary", "verdict", "check")
                },
            }
            for result in execution.results.exclude(outcome__in=("done_manually", "skipped"))
        ],
    }


def _run_commands(execution: RunbookExecution) -> list[dict[str, Any]]:
    """The charger's commands sent since the run started, by its operator or the platform,
    oldest first, each with its status history."""
    commands = (
        Command.objects.filter(device=execution.device, created_at__gte=execution.created_at)
        .filter(Q(operator_id=execution.operator_id) | Q(operator__isnull=True))
        .prefetch_related("history")
        .order_by("-created_at")[:HANDOVER_COMMANDS]
    )
    return [
        {
            "command": command.command,
            "command_id": command.command_id,
            "connector_id": command.connector_id,
            "params": command.params,
            "status": command.status,
            "sent_at": command.created_at.isoformat(),
            "history": [
                {"status": change.status, "at": change.at.isoformat(), "message": change.message}
                for change in command.history.all()
            ],
        }
        for command in reversed(list(commands))
    ]
