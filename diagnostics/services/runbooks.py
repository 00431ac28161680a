"""The runbook engine: start a run on a device, verify the current step with its check,
move on by the step's branch rules (first match wins), and end resolved, closed, paused
or escalated — with every step result and its evidence recorded."""

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from diagnostics.checks import run_check
from diagnostics.models import FaultCode, Runbook, RunbookExecution, StepResult
from diagnostics.services.faults import firmware_assessment
from fleet.errors import Conflict, InvalidParameter, NotFound
from fleet.models import ChargingRecord, Command, Device, DeviceEvent, TelemetrySample
from fleet.services import audit

OUTCOME_TO_RESULT = {
    "pass": StepResult.Outcome.VERIFIED,
    "fail": StepResult.Outcome.FAILED,
    "unknown": StepResult.Outcome.UNKNOWN,
}
RESULT_TO_OUTCOME = {v: k for k, v in OUTCOME_TO_RESULT.items()}
FINISHED = {
    RunbookExecution.Status.RESOLVED,
    RunbookExecution.Status.ESCALATED,
    RunbookExecution.Status.CLOSED,
}


def get_runbook(slug: str) -> Runbook:
    runbook = Runbook.objects.filter(slug=slug).first()
    if runbook is None:
        raise NotFound(f"Runbook '{slug}' not found")
    return runbook


def start(
    device: Device,
    slug: str,
    started_by: str,
    connector_id: int | None = None,
    command_id: str = "",
) -> RunbookExecution:
    runbook = get_runbook(slug)
    return RunbookExecution.objects.create(
        device=device,
        runbook=runbook,
        connector_id=connector_id,
        command_id=command_id,
        current_step=runbook.steps[0]["key"],
        started_by=started_by,
    )


def _open(execution: RunbookExecution) -> dict[str, Any]:
    if execution.status in FINISHED:
        raise Conflict(f"This run is already {execution.status}")
    return execution.runbook.step(execution.current_step)


def _params(step: dict[str, Any], execution: RunbookExecution) -> dict[str, Any]:
    context = execution.context()
    params = dict((step.get("check") or {}).get("params") or {})
    resolved = {}
    for name, value in params.items():
        value = context.get(value, value) if isinstance(value, str) else value
        resolved[name] = tuple(value) if isinstance(value, list) else value
    return resolved


def verify(execution: RunbookExecution, by: str) -> StepResult:
    """Run the current step's automatic check and record what it found."""
    step = _open(execution)
    check = step.get("check")
    if not check:
        raise InvalidParameter("step", step["key"], "This step has no automatic check")
    execution.device.refresh_from_db()  # checks judge the device as it is now
    result = run_check(check["name"], execution.device, **_params(step, execution))
    _audit(execution, by, "step_result", {"step": step["key"], "outcome": result.outcome})
    return StepResult.objects.create(
        execution=execution,
        step_key=step["key"],
        outcome=OUTCOME_TO_RESULT[result.outcome],
        evidence={"check": check["name"], "summary": result.summary, **result.evidence},
        by=by,
    )


def _matches(when: dict[str, Any], last: StepResult | None, choice: str | None) -> bool:
    if when.get("default"):
        return True
    if "choice" in when:
        return choice == when["choice"]
    if last is None or last.outcome not in RESULT_TO_OUTCOME:
        return False
    if "outcome" in when and RESULT_TO_OUTCOME[last.outcome] != when["outcome"]:
        return False
    for key, value in (when.get("evidence") or {}).items():
        if (last.evidence or {}).get(key) != value:
            return False
    return "outcome" in when or "evidence" in when


@transaction.atomic
def advance(
    execution: RunbookExecution,
    by: str,
    choice: str | None = None,
    note: str = "",
    done_manually: bool = False,
) -> RunbookExecution:
    """Apply the current step's first matching branch (a check result, an engineer's
    choice, or the default) and move the run on. Returns the run that continues — a
    new one when the branch switches runbooks."""
    step = _open(execution)
    choices = [b["when"]["choice"] for b in step.get("branches", []) if "choice" in b["when"]]
    if choice is not None and choice not in choices:
        raise InvalidParameter("choice", choice, f"Choose one of: {', '.join(choices) or 'none'}")
    if choice is not None or done_manually:
        _audit(execution, by, "step_result", {"step": step["key"], "choice": choice, "note": note})
        StepResult.objects.create(
            execution=execution, step_key=step["key"], outcome=StepResult.Outcome.MANUAL,
            choice=choice or "", note=note, by=by,
        )  # fmt: skip
    last = (
        execution.results.filter(step_key=step["key"])
        .exclude(outcome=StepResult.Outcome.MANUAL)
        .order_by("-at", "-id")
        .first()
    )
    then = {"action": "next"}
    for branch in step.get("branches", []):
        if _matches(branch["when"], last, choice):
            then = branch["then"]
            break
    return _apply(execution, then, by, note)


def _apply(
    execution: RunbookExecution, then: dict[str, Any], by: str, note: str
) -> RunbookExecution:
    action = then["action"]
    note = note or then.get("note", "")
    if action in ("next", "goto"):
        target = (
            then.get("step")
            if action == "goto"
            else execution.runbook.next_step_key(execution.current_step)
        )
        if target is None:
            execution.status, execution.outcome_note = RunbookExecution.Status.RESOLVED, note
        else:
            execution.current_step = target
    elif action == "pause":
        execution.status, execution.outcome_note = RunbookExecution.Status.PAUSED, note
    elif action == "resolve":
        execution.status, execution.outcome_note = RunbookExecution.Status.RESOLVED, note
    elif action == "close":
        execution.status = RunbookExecution.Status.CLOSED
        execution.outcome_note = f"{then.get('reason', 'closed')}: {note}".strip(": ")
    elif action == "escalate":
        execution.save()
        return escalate(execution, by, target=then.get("target"), note=note)
    elif action == "switch":
        execution.status = RunbookExecution.Status.CLOSED
        execution.outcome_note = f"switched to {then['runbook']}"
        execution.save()
        return start(
            execution.device, then["runbook"], by, execution.connector_id, execution.command_id
        )
    execution.save()
    return execution


def send_step_command(
    execution: RunbookExecution, issued_by_operator: str | None = None
) -> Command:
    """The current step's one-click remote command; the run then follows that command
    (its `$command_id`), so the step's check can read its outcome."""
    from fleet.services.commands import queue_command

    step = _open(execution)
    spec = step.get("command")
    if not spec:
        raise InvalidParameter("step", step["key"], "This step offers no remote command")
    command = queue_command(
        execution.device,
        spec["type"],
        dict(spec.get("params") or {}),
        connector_id=execution.connector_id if spec["type"] not in ("reboot",) else None,
        operator_id=issued_by_operator,
    )
    execution.command_id = command.command_id
    execution.save(update_fields=["command_id", "updated_at"])
    return command


def resume(execution: RunbookExecution) -> RunbookExecution:
    if execution.status != RunbookExecution.Status.PAUSED:
        raise Conflict("Only a paused run can be resumed")
    execution.status = RunbookExecution.Status.OPEN
    execution.save(update_fields=["status", "updated_at"])
    return execution


# --- Escalation ------------------------------------------------------------------------------


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


def _checklist_item(item: str, execution: RunbookExecution) -> Any:
    device = execution.device
    faults = DeviceEvent.objects.filter(device=device, event_type="fault").order_by("-timestamp")
    if item == "event_log":
        return _events(faults[:10])
    if item == "firmware":
        codes = set(faults.values_list("fault_code", flat=True)[:50])
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
    if item == "thermal_anomalies":
        limit = 75.0 if device.kind == "DC" else 65.0  # F-0203 warning temperatures
        since = timezone.now() - timedelta(hours=24)
        hot = TelemetrySample.objects.filter(
            device=device, timestamp__gte=since, temperature__gt=limit
        )
        return {
            "limit_c": limit,
            "samples": [
                {
                    "connector_id": s.connector_id,
                    "timestamp": s.timestamp.isoformat(),
                    "temperature": s.temperature,
                }
                for s in hot.order_by("-timestamp")[:20]
            ],
        }
    if item == "event_trail":
        command = Command.objects.filter(command_id=execution.command_id).first()
        since = command.created_at if command else execution.created_at - timedelta(hours=1)
        return _events(
            DeviceEvent.objects.filter(device=device, timestamp__gte=since).order_by("timestamp")[
                :100
            ]
        )
    if item == "inverter_telemetry_60s":
        last_fault = faults.first()
        end = last_fault.timestamp if last_fault else timezone.now()
        window = TelemetrySample.objects.filter(
            device=device, timestamp__gte=end - timedelta(seconds=60), timestamp__lte=end
        ).order_by("timestamp")
        return [
            {"timestamp": s.timestamp.isoformat(), "power": s.power, "voltage": s.voltage,
             "current": s.current, "component_health": s.component_health}
            for s in window
        ]  # fmt: skip
    if item == "vehicle":
        record = ChargingRecord.objects.filter(device=device).order_by("-start_time").first()
        return {
            "from_last_record": record.vehicle_info if record else None,
            "to_fill_in": "make, model, firmware",
        }
    if item == "connector_photos":
        return {"to_attach": "pictures of the connector pins"}
    if item == "runbook_reference":
        return {
            "runbook": execution.runbook_id,
            "title": execution.runbook.title,
            "steps": list(execution.results.values("step_key", "outcome", "choice", "note", "by")),
        }
    return None


@transaction.atomic
def escalate(
    execution: RunbookExecution, by: str, target: str | None = None, note: str = ""
) -> RunbookExecution:
    """Close the run as escalated, with the runbook's checklist assembled from live data."""
    if execution.status in FINISHED:
        raise Conflict(f"This run is already {execution.status}")
    runbook = execution.runbook
    execution.escalation = {
        "target": target or runbook.escalation_target,
        "note": note,
        "by": by,
        "at": timezone.now().isoformat(),
        "device": {"device_id": execution.device_id, "model": execution.device.model},
        "checklist": {
            item: _checklist_item(item, execution) for item in runbook.escalation_checklist
        },
    }
    execution.status = RunbookExecution.Status.ESCALATED
    execution.outcome_note = note
    execution.save()
    _audit(execution, by, "escalate", {"target": execution.escalation["target"], "note": note})
    return execution


def _audit(execution: RunbookExecution, by: str, action: str, details: dict[str, Any]) -> None:
    site = execution.device.site
    audit.record(
        actor=by, action=action, resource_type="runbook_run", resource_id=str(execution.pk),
        operator_id=site.operator_id if site else None,
        details={"runbook": execution.runbook_id, "device_id": execution.device_id, **details},
    )  # fmt: skip


# --- Suggestions --------------------------------------------------------------------------------


def suggest(device: Device, days: int = 7) -> list[dict[str, Any]]:
    """Runbooks ranked for a device by its recent fault codes, its state and its model."""
    since = timezone.now() - timedelta(days=days)
    recent = set(
        DeviceEvent.objects.filter(
            device=device, event_type="fault", timestamp__gte=since
        ).values_list("fault_code", flat=True)
    )
    preparing = device.connectors.filter(state="preparing").exists()
    discharge_pending = Command.objects.filter(
        device=device, command="discharge", created_at__gte=since
    ).exists()
    ranked = []
    for runbook in Runbook.objects.all():
        score, reasons = 0, []
        matched = sorted(recent & set(runbook.linked_fault_codes))
        if matched:
            score += 3 * len(matched)
            reasons.append(f"recent fault codes: {', '.join(matched)}")
        if runbook.slug == "connector-stuck-preparing" and preparing:
            score, reasons = score + 4, [*reasons, "a connector is in preparing"]
        if runbook.slug == "charger-faulting-on-power-up" and device.status != "online":
            score, reasons = score + 2, [*reasons, "the device is not online"]
        if runbook.slug == "v2g-discharge-not-flowing" and discharge_pending:
            score, reasons = score + 3, [*reasons, "a discharge was requested recently"]
        models = runbook.applicable_models
        if score and models and not any(device.model.startswith(m.split()[0]) for m in models):
            score -= 1
            reasons.append(f"not listed for model {device.model}")
        if score > 0:
            ranked.append(
                {"slug": runbook.slug, "title": runbook.title, "score": score, "reasons": reasons}
            )
    return sorted(ranked, key=lambda r: (-r["score"], r["slug"]))
