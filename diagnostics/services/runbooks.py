"""The runbook engine: start a run on a device, verify the current step with its check,
move on by the step's branch rules (first match wins), and end resolved, closed, paused
or escalated — with every step result and its evidence recorded.

A run belongs to the operator that owned the device when it started. Every move on a run
locks the device's row, then the run's, reads the run afresh and decides on what it finds
(`_moving`): of two concurrent moves one wins and the other is refused (Conflict), so the
run's status, its moves and the audit trail tell the same story."""

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from diagnostics.checks import run_check
from diagnostics.models import Alert, FaultCode, Runbook, RunbookExecution, StepResult
from diagnostics.services.faults import firmware_assessment
from diagnostics.services.remote_commands import DIAGNOSTIC_COMMANDS
from diagnostics.words import DETECTORS, value_words
from fleet.actors import Actor
from fleet.errors import Conflict, InvalidParameter, MissingParameter, NotFound
from fleet.models import (
    ChargingRecord,
    Command,
    Connector,
    Device,
    DeviceEvent,
    TelemetrySample,
)
from fleet.services import audit
from fleet.services.commands import queue_command

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
UNFINISHED = {RunbookExecution.Status.OPEN, RunbookExecution.Status.PAUSED}
# Why a run is closed by hand without a fix of ours (close()).
CLOSE_REASONS = ("not_our_fault", "vehicle", "site_supply", "false_alarm", "other")
# Longest note an engineer may attach to a step, an escalation or the end of a run.
NOTE_MAX_LENGTH = 2000


def get_runbook(slug: str) -> Runbook:
    runbook = Runbook.objects.filter(slug=slug).first()
    if runbook is None:
        raise NotFound(f"Runbook '{slug}' not found")
    return runbook


def start(
    actor: Actor,
    device: Device,
    slug: str,
    connector_id: int | None = None,
    command_id: str = "",
) -> RunbookExecution:
    """Open a run of `slug` on `device` at its first step (audited), for the operator that
    owns the device now. A second unfinished run of the runbook on the device is refused
    (the database's constraint; start_run and switches check first, under the device's
    lock, to say which run is in the way)."""
    runbook = get_runbook(slug)
    owner = Device.objects.filter(pk=device.pk).values_list("site__operator_id", flat=True)
    try:
        with transaction.atomic():
            execution = RunbookExecution.objects.create(
                device=device,
                operator_id=owner.first(),
                runbook=runbook,
                connector_id=connector_id,
                command_id=command_id,
                current_step=runbook.steps[0]["key"],
                started_by=actor.label,
            )
    except IntegrityError:
        raise _under_way(device, runbook) from None
    _audit(actor, execution, "start_runbook", {"connector_id": connector_id})
    return execution


def _under_way(device: Device, runbook: Runbook) -> Conflict:
    """The refusal of a second unfinished run of `runbook` on `device`, naming the first."""
    unfinished = (
        RunbookExecution.objects.filter(device=device, runbook=runbook, status__in=UNFINISHED)
        .order_by("-created_at")
        .first()
    )
    if unfinished is None:
        return Conflict(f"A run of “{runbook.title}” was started at the same moment")
    return Conflict(
        f"Run '{unfinished.run_id}' of “{runbook.title}” is already {unfinished.status} on "
        f"this charger: carry on with it or end it first",
        {"run_id": unfinished.run_id, "status": unfinished.status},
    )


def _ensure_none_under_way(device: Device, runbook: Runbook) -> None:
    if RunbookExecution.objects.filter(
        device=device, runbook=runbook, status__in=UNFINISHED
    ).exists():
        raise _under_way(device, runbook)


def start_run(
    actor: Actor, device: Device, slug: str, connector_id: int | None = None
) -> RunbookExecution:
    """Start a run asked for by a person: the connector must be one the device has, and
    the device must have no unfinished (open or paused) run of the same runbook."""
    runbook = get_runbook(slug)
    if (
        connector_id is not None
        and not Connector.objects.filter(device=device, connector_id=connector_id).exists()
    ):
        raise NotFound(f"Connector {connector_id} of device '{device.device_id}' not found")
    with transaction.atomic():
        # Two people pressing start at once (or a start and a switch, or the charger
        # changing hands): the device row serialises them.
        locked = (
            Device.objects.select_for_update(no_key=True, of=("self",))
            .select_related("site")
            .filter(pk=device.pk)
            .first()
        )
        owner = locked.site.operator_id if locked and locked.site else None
        if locked is None or (actor.operator_id is not None and owner != actor.operator_id):
            raise NotFound(f"Device '{device.device_id}' not found")
        _ensure_none_under_way(device, runbook)
        return start(actor, device, slug, connector_id)


RUN_ID = re.compile(r"run_[0-9a-f]{1,32}")


def get_run(operator_id: str | None, run_id: str) -> RunbookExecution:
    """One of the operator's runs (started while the device was theirs, wherever the device
    is now); any other id (or no id of ours) is not found."""
    if not isinstance(run_id, str) or not RUN_ID.fullmatch(run_id):
        raise NotFound(f"Runbook run '{str(run_id)[:40]}' not found")
    execution = (
        RunbookExecution.objects.select_related("runbook", "device")
        .filter(run_id=run_id, operator_id=operator_id)
        .first()
        if operator_id
        else None
    )
    if execution is None:
        raise NotFound(f"Runbook run '{run_id}' not found")
    return execution


@contextmanager
def _moving(execution: RunbookExecution) -> Iterator[RunbookExecution]:
    """A move on the run, in one transaction: the device's row, then the run's, locked
    until it commits (the order start_run and a change of owner lock them in), and the run
    as it is now — every decision is taken on that copy, never on the caller's. A run whose
    device has moved to another operator since it started makes no more moves."""
    with transaction.atomic():
        device = (
            Device.objects.select_for_update(no_key=True, of=("self",))
            .select_related("site")
            .filter(pk=execution.device_id)
            .first()
        )
        run = (
            RunbookExecution.objects.select_for_update(of=("self",))
            .select_related("runbook")
            .filter(pk=execution.pk)
            .first()
        )
        if device is None or run is None:
            raise NotFound(f"Runbook run '{execution.run_id}' not found")
        run.device = device
        owner = device.site.operator_id if device.site else None
        if run.operator_id != owner and run.status not in FINISHED:
            raise Conflict(
                "The charger has moved to another operator: this run can no longer act on it",
                {"status": run.status, "current_step": run.current_step},
            )
        yield run


def _open(execution: RunbookExecution) -> dict[str, Any]:
    if execution.status in FINISHED:
        raise Conflict(
            f"This run is already {execution.status}",
            {"status": execution.status, "current_step": execution.current_step},
        )
    return execution.runbook.step(execution.current_step)


def _params(step: dict[str, Any], execution: RunbookExecution) -> dict[str, Any]:
    context = execution.context()
    params = dict((step.get("check") or {}).get("params") or {})
    resolved = {}
    for name, value in params.items():
        value = context.get(value, value) if isinstance(value, str) else value
        resolved[name] = tuple(value) if isinstance(value, list) else value
    return resolved


def verify(actor: Actor, execution: RunbookExecution) -> StepResult:
    """Run the current step's automatic check and record what it found."""
    with _moving(execution) as run:
        return _verify(actor, run)


def _verify(actor: Actor, execution: RunbookExecution) -> StepResult:
    step = _open(execution)
    check = step.get("check")
    if not check:
        raise InvalidParameter("step", step["key"], "This step has no automatic check")
    # The device was read under its lock by _moving: checks judge it as it is now.
    result = run_check(check["name"], execution.device, **_params(step, execution))
    _audit(actor, execution, "step_result", {"step": step["key"], "outcome": result.outcome})
    return StepResult.objects.create(
        execution=execution,
        step_key=step["key"],
        outcome=OUTCOME_TO_RESULT[result.outcome],
        evidence={"check": check["name"], "summary": result.summary, **result.evidence},
        by=actor.label,
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


def advance(
    actor: Actor,
    execution: RunbookExecution,
    choice: str | None = None,
    note: str = "",
    done_manually: bool = False,
) -> RunbookExecution:
    """Apply the current step's first matching branch (a check result, an engineer's
    choice, or the default) and move the run on. Returns the run that continues — a
    new one when the branch switches runbooks."""
    with _moving(execution) as run:
        return _advance(actor, run, choice, note, done_manually)


def _advance(
    actor: Actor,
    execution: RunbookExecution,
    choice: str | None = None,
    note: str = "",
    done_manually: bool = False,
) -> RunbookExecution:
    step = _open(execution)
    choices = [b["when"]["choice"] for b in step.get("branches", []) if "choice" in b["when"]]
    if choice is not None and choice not in choices:
        raise InvalidParameter(
            "choice", choice, f"Choose one of: {', '.join(choices) or 'none'}", choices=choices
        )
    if choice is not None or done_manually:
        _audit(
            actor, execution, "step_result", {"step": step["key"], "choice": choice, "note": note}
        )
        StepResult.objects.create(
            execution=execution, step_key=step["key"], outcome=StepResult.Outcome.MANUAL,
            choice=choice or "", note=note, by=actor.label,
        )  # fmt: skip
    last = (
        execution.results.filter(step_key=step["key"])
        .exclude(outcome=StepResult.Outcome.MANUAL)
        .order_by("-at", "-id")
        .first()
    )
    then, why = {"action": "next"}, "no branch matched: on to the next step"
    for branch in step.get("branches", []):
        if _matches(branch["when"], last, choice):
            then, why = branch["then"], _reason(branch["when"], last)
            break
    return _apply(actor, execution, then, note, why)


def _reason(when: dict[str, Any], last: StepResult | None) -> str:
    """Why a branch was taken, in words for the run's history."""
    if "choice" in when:
        return f"chosen: {when.get('label') or when['choice']}"
    if when.get("default"):
        return "default route"
    parts = []
    if "outcome" in when:
        parts.append(f"check {when['outcome']}")
    for key, value in (when.get("evidence") or {}).items():
        parts.append(f"its {key.replace('_', ' ')} is {value_words(key, value)}")
    summary = (last.evidence or {}).get("summary") if last else None
    return ", ".join(parts) + (f" ({summary})" if summary else "")


def _move(actor: Actor, execution: RunbookExecution, action: str, to: str | None, why: str) -> None:
    execution.moves = [
        *(execution.moves or []),
        {"step": execution.current_step, "action": action, "to": to, "why": why,
         "by": actor.label, "at": timezone.now().isoformat()},
    ]  # fmt: skip


def _apply(
    actor: Actor, execution: RunbookExecution, then: dict[str, Any], note: str, why: str = ""
) -> RunbookExecution:
    action = then["action"]
    note = note or then.get("note", "")
    if action in ("next", "goto"):
        target = (
            then.get("step")
            if action == "goto"
            else execution.runbook.next_step_key(execution.current_step)
        )
        _move(actor, execution, action, target or "resolved", why)
        if target is None:
            execution.status, execution.outcome_note = RunbookExecution.Status.RESOLVED, note
        else:
            execution.current_step = target
    elif action in ("pause", "resolve"):
        _move(actor, execution, action, f"{action}d", why)
        status = {
            "pause": RunbookExecution.Status.PAUSED,
            "resolve": RunbookExecution.Status.RESOLVED,
        }
        execution.status, execution.outcome_note = status[action], note
    elif action == "close":
        _move(actor, execution, action, "closed", why)
        execution.status = RunbookExecution.Status.CLOSED
        execution.outcome_note = f"{then.get('reason', 'closed')}: {note}".strip(": ")
    elif action == "escalate":
        return _escalate(actor, execution, target=then.get("target"), note=note, why=why)
    elif action == "switch":
        # One unfinished run of a runbook per device: the device is locked (_moving), so
        # no start or other switch slips in between this look and the start.
        _ensure_none_under_way(execution.device, get_runbook(then["runbook"]))
        successor = start(
            actor, execution.device, then["runbook"], execution.connector_id, execution.command_id
        )
        _move(actor, execution, action, successor.run_id, why)
        execution.status = RunbookExecution.Status.CLOSED
        execution.outcome_note = f"switched to {then['runbook']} ({successor.run_id})"
        execution.save()
        successor.moves = [{"step": None, "action": "started", "to": successor.current_step,
                            "why": f"switched from {execution.runbook_id} ({execution.run_id}) "
                                   f"at step {execution.current_step}: {why}",
                            "by": actor.label, "at": timezone.now().isoformat()}]  # fmt: skip
        successor.save(update_fields=["moves"])
        return successor
    execution.save()
    return execution


STEP_ACTIONS = ("verify", "continue", "done", "choose", "command")


def act_on_step(
    actor: Actor,
    execution: RunbookExecution,
    step_key: str,
    action: str,
    choice: str | None = None,
    note: str = "",
    confirm: bool | None = None,
) -> RunbookExecution:
    """One action on the run's current step, as the console and the API take it: run its
    check (`verify`), follow its route (`continue`), tick it done with a note (`done`),
    answer it (`choose`) or send its command (`command`). The step named must be the
    current one of an open run (two engineers on one run: the second is told where it
    is). Returns the run that continues. `confirm` says whether the person confirmed a
    medium-risk command (None: the caller asked for the confirmation itself)."""
    if action not in STEP_ACTIONS:
        raise InvalidParameter("action", action, f"One of: {', '.join(STEP_ACTIONS)}")
    if action == "choose" and not choice:
        raise MissingParameter("choice", "Choose one of the step's answers")
    if action == "done" and not note.strip():
        raise MissingParameter("note", "Say what was done or found: a ticked step needs a note")
    with _moving(execution) as locked:
        where = {"status": locked.status, "current_step": locked.current_step}
        if locked.status in FINISHED:
            raise Conflict(f"This run is already {locked.status}", where)
        if locked.status == RunbookExecution.Status.PAUSED:
            raise Conflict("The run is paused: resume it first", where)
        if locked.current_step != step_key:
            raise Conflict(f"The run is at step '{locked.current_step}', not '{step_key}'", where)
        if action == "verify":
            _verify(actor, locked)
            return locked
        if action == "command":
            if confirm is not None:
                require_confirmation(locked.runbook.step(step_key), confirm)
            _send_step_command(actor, locked)
            return locked
        return _advance(
            actor, locked, choice=choice if action == "choose" else None, note=note,
            done_manually=action == "done",
        )  # fmt: skip


def send_step_command(actor: Actor, execution: RunbookExecution) -> Command:
    """The current step's one-click remote command, issued by whoever runs the step; the
    run then follows that command (its `$command_id`), so the step's check can read its
    outcome."""
    with _moving(execution) as run:
        return _send_step_command(actor, run)


def _send_step_command(actor: Actor, execution: RunbookExecution) -> Command:
    step = _open(execution)
    spec = step.get("command")
    if not spec:
        raise InvalidParameter("step", step["key"], "This step offers no remote command")
    context = execution.context()
    params = {
        name: context.get(value, value) if isinstance(value, str) else value
        for name, value in (spec.get("params") or {}).items()
    }
    if None in params.values():  # "$connector_id" of a run started without a connector
        raise MissingParameter(
            "connector_id", f"This step's {spec['type']} command needs the run's connector: "
            "start the run with a connector_id",
        )  # fmt: skip
    command = queue_command(
        actor,
        execution.device,
        spec["type"],
        params,
        connector_id=execution.connector_id if spec["type"] not in ("reboot",) else None,
    )
    execution.command_id = command.command_id
    execution.save(update_fields=["command_id", "updated_at"])
    return command


def step_command_info(step: dict[str, Any]) -> dict[str, Any] | None:
    """A step's one-click command and its risk: the diagnostic table's, and medium for
    anything outside it (start, stop: they change what a vehicle does)."""
    spec = step.get("command")
    if not spec:
        return None
    risk = DIAGNOSTIC_COMMANDS.get(spec["type"], ("medium", ""))[0]
    return {"type": spec["type"], "params": dict(spec.get("params") or {}), "risk": risk}


def require_confirmation(step: dict[str, Any] | None, confirm: bool) -> None:
    """A medium-risk step command goes out only when the person confirmed it."""
    info = step_command_info(step or {})
    if info and info["risk"] != "low" and not confirm:
        raise InvalidParameter(
            "confirm", confirm, f"{info['type']} is a {info['risk']}-risk command: confirm it",
            reason="confirmation_required",
        )  # fmt: skip


def step_choices(step: dict[str, Any]) -> list[dict[str, str]]:
    """The answers a step offers the engineer, with their labels."""
    return [
        {"choice": when["choice"], "label": when.get("label") or when["choice"]}
        for when in (branch["when"] for branch in step.get("branches", []))
        if "choice" in when
    ]


def offered_actions(step: dict[str, Any]) -> list[str]:
    """The actions of STEP_ACTIONS that make sense on a step."""
    actions = ["verify"] if step.get("check") else []
    actions += ["command"] if step.get("command") else []
    actions += ["choose"] if step_choices(step) else []
    return [*actions, "continue", "done"]


def resume(actor: Actor, execution: RunbookExecution) -> RunbookExecution:
    """Reopen a paused run at the step it paused on."""
    with _moving(execution) as run:
        if run.status != RunbookExecution.Status.PAUSED:
            raise Conflict(
                f"Only a paused run can be resumed: this one is {run.status}",
                {"status": run.status, "current_step": run.current_step},
            )
        _move(actor, run, "resume", run.current_step, "resumed by hand")
        run.status = RunbookExecution.Status.OPEN
        run.save(update_fields=["status", "moves", "updated_at"])
        _audit(actor, run, "resume_runbook", {"step": run.current_step})
    return run


def resolve(actor: Actor, execution: RunbookExecution, note: str = "") -> RunbookExecution:
    """End the run as resolved: the fault is fixed (what fixed it goes in the note)."""
    return _finish(actor, execution, RunbookExecution.Status.RESOLVED, note, "resolve_runbook")


def close(
    actor: Actor, execution: RunbookExecution, reason: str = "not_our_fault", note: str = ""
) -> RunbookExecution:
    """End the run without a fix of ours (the vehicle, the site supply, a false alarm)."""
    if reason not in CLOSE_REASONS:
        raise InvalidParameter("reason", reason, f"One of: {', '.join(CLOSE_REASONS)}")
    text = f"{reason}: {note}".strip(": ")
    return _finish(actor, execution, RunbookExecution.Status.CLOSED, text, "close_runbook")


def _finish(
    actor: Actor, execution: RunbookExecution, status: str, note: str, action: str
) -> RunbookExecution:
    with _moving(execution) as run:
        _open(run)
        _move(actor, run, action.removesuffix("_runbook"), status, "ended by hand")
        run.status, run.outcome_note = status, note
        run.save(update_fields=["status", "outcome_note", "moves", "updated_at"])
        _audit(actor, run, action, {"note": note})
    return run


# --- A device changing hands ------------------------------------------------------------------

MOVED_AWAY = "the charger moved to another operator"


def close_runs_of_moved_devices(
    sender: Any = None,
    *,
    device_ids: list[str],
    operator_before: str | None,
    operator_after: str | None,
    actor: Actor,
    **kwargs: Any,
) -> None:
    """Receiver of fleet.signals.device_owner_changed, in the transaction that moved the
    devices: their unfinished runs of any operator but the new owner are closed by the
    platform, with the reason in their history and their operator's trail. The runs stay
    their operator's to read; nothing more is done to a device it no longer owns."""
    runs = (
        RunbookExecution.objects.select_for_update(of=("self",))
        .select_related("runbook", "device")
        .filter(device_id__in=list(device_ids), status__in=UNFINISHED)
        .order_by("pk")
    )
    if operator_after is not None:
        runs = runs.exclude(operator_id=operator_after)
    for run in runs:
        platform = Actor.platform(run.operator_id)
        _move(platform, run, "close", "closed", MOVED_AWAY)
        run.status = RunbookExecution.Status.CLOSED
        run.outcome_note = f"Closed by the platform: {MOVED_AWAY}."
        run.save(update_fields=["status", "outcome_note", "moves", "updated_at"])
        # Who moved the charger is in both operators' trails already (assign_device).
        _audit(
            platform, run, "close_runbook",
            {"note": run.outcome_note, "reason": "charger_moved", "moved_by": actor.label},
        )  # fmt: skip


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


def escalate(
    actor: Actor,
    execution: RunbookExecution,
    target: str | None = None,
    note: str = "",
    why: str = "escalated by hand",
) -> RunbookExecution:
    """Close the run as escalated, with the runbook's checklist assembled from live data."""
    with _moving(execution) as run:
        return _escalate(actor, run, target, note, why)


def _escalate(
    actor: Actor, execution: RunbookExecution, target: str | None, note: str, why: str
) -> RunbookExecution:
    _open(execution)
    runbook = execution.runbook
    execution.escalation = {
        "target": target or runbook.escalation_target,
        "note": note,
        "by": actor.label,
        "at": timezone.now().isoformat(),
        "device": {"device_id": execution.device_id, "model": execution.device.model},
        "checklist": {
            item: _checklist_item(item, execution) for item in runbook.escalation_checklist
        },
    }
    _move(actor, execution, "escalate", "escalated", why)
    execution.status = RunbookExecution.Status.ESCALATED
    execution.outcome_note = note
    execution.save()
    _audit(actor, execution, "escalate", {"target": execution.escalation["target"], "note": note})
    return execution


def _audit(actor: Actor, execution: RunbookExecution, action: str, details: dict[str, Any]) -> None:
    """An entry in the trail of the operator whose run it is."""
    audit.record(
        actor, action=action, resource_type="runbook_run", resource_id=execution.run_id,
        operator_id=execution.operator_id,
        details={"run_id": execution.run_id, "runbook": execution.runbook_id,
                 "device_id": execution.device_id, **details},
    )  # fmt: skip


# --- Ranking ----------------------------------------------------------------------------------
# One ranking, driven by the runbook data (linked_fault_codes, suggest_when, applicable_models),
# serves the suggestions endpoint and the runbook an alert suggests.

FAULT_CODE_SCORE = 3
MODEL_MISMATCH_PENALTY = 1
SUGGESTION_DAYS = 7
REASONS = {
    "device_status": "the device is {}",
    "connector_state": "a connector is in {}",
    "recent_command": "a recent {} command has not completed",
    "open_alert": "an open alert: {}",
}


@dataclass(frozen=True)
class Signals:
    """What the ranking looks at: recent fault codes, device and connector state,
    unfinished commands and open alerts (by detector)."""

    fault_codes: frozenset[str] = frozenset()
    device_status: str | None = None
    connector_states: frozenset[str] = frozenset()
    recent_commands: frozenset[str] = frozenset()
    open_alerts: frozenset[str] = frozenset()
    model: str | None = None

    def observed(self, condition: str) -> frozenset[str]:
        return {
            "device_status": frozenset({self.device_status} if self.device_status else ()),
            "connector_state": self.connector_states,
            "recent_command": self.recent_commands,
            "open_alert": self.open_alerts,
        }[condition]


@dataclass(frozen=True)
class Suggestion:
    slug: str
    title: str
    score: int
    reasons: tuple[str, ...]
    matched: frozenset[str]  # "fault_code:F-0421", "open_alert:firmware_cluster", …

    def as_dict(self) -> dict[str, Any]:
        return {"slug": self.slug, "title": self.title, "score": self.score,
                "reasons": list(self.reasons)}  # fmt: skip


def _fits_model(runbook: Runbook, model: str) -> bool:
    return any(model.startswith(listed.split()[0]) for listed in runbook.applicable_models)


def rank(runbooks: Iterable[Runbook], signals: Signals) -> list[Suggestion]:
    """Score runbooks by their data against the signals; best first, ties by slug.
    Runbooks that score nothing are left out."""
    ranked = []
    for runbook in runbooks:
        score, reasons, matched = 0, [], set()
        codes = sorted(signals.fault_codes & set(runbook.linked_fault_codes))
        if codes:
            score += FAULT_CODE_SCORE * len(codes)
            reasons.append(f"recent fault codes: {', '.join(codes)}")
            matched |= {f"fault_code:{code}" for code in codes}
        for rule in runbook.suggest_when:
            condition = next(key for key in rule if key != "score")
            hits = sorted(signals.observed(condition) & set(rule[condition]))
            if hits:
                score += rule["score"]
                named = [DETECTORS.get(hit, hit) for hit in hits]
                reasons.append(REASONS[condition].format(" / ".join(named)))
                matched |= {f"{condition}:{hit}" for hit in hits}
        if score and signals.model and runbook.applicable_models:
            if not _fits_model(runbook, signals.model):
                score -= MODEL_MISMATCH_PENALTY
                reasons.append(f"not listed for model {signals.model}")
        if score > 0:
            ranked.append(
                Suggestion(runbook.slug, runbook.title, score, tuple(reasons), frozenset(matched))
            )
    return sorted(ranked, key=lambda suggestion: (-suggestion.score, suggestion.slug))


def device_signals(
    device: Device, now: datetime | None = None, days: int = SUGGESTION_DAYS
) -> Signals:
    """A device's signals: fault codes and unfinished commands of the last `days`, its
    status, its connectors' states and the detectors of its open alerts — all under its
    current operator (a charger handed over brings none of its previous operator's)."""
    since = (now or timezone.now()) - timedelta(days=days)
    owner = device.site.operator_id if device.site_id else None
    codes = (
        DeviceEvent.objects.filter(
            device=device, operator_id=owner, event_type="fault", timestamp__gte=since
        )
        .exclude(fault_code="")
        .values_list("fault_code", flat=True)
    )
    commands = (
        # The platform's own commands (no operator) count for whoever owns it now.
        Command.objects.filter(device=device, created_at__gte=since)
        .filter(Q(operator_id=owner) | Q(operator__isnull=True))
        .exclude(status=Command.Status.COMPLETED)
        .values_list("command", flat=True)
    )
    alerts = Alert.objects.filter(device=device, operator_id=owner, status__in=Alert.ACTIVE)
    return Signals(
        fault_codes=frozenset(codes),
        device_status=device.status,
        connector_states=frozenset(device.connectors.values_list("state", flat=True)),
        recent_commands=frozenset(commands),
        open_alerts=frozenset(alerts.values_list("detector", flat=True)),
        model=device.model,
    )


def suggest(device: Device, days: int = SUGGESTION_DAYS) -> list[dict[str, Any]]:
    """Runbooks ranked for a device by its recent fault codes, its state and its model."""
    signals = device_signals(device, days=days)
    return [suggestion.as_dict() for suggestion in rank(Runbook.objects.all(), signals)]


def suggest_for_alert(device: Device | None, detector: str, fault_code: str = "") -> str:
    """The runbook an alert suggests: the best-ranked one (the alert counting as an open
    alert of its detector) that matches the alert's own fault code or detector."""
    signals = device_signals(device) if device else Signals()
    own = {f"open_alert:{detector}"} | ({f"fault_code:{fault_code}"} if fault_code else set())
    signals = replace(
        signals,
        fault_codes=signals.fault_codes | ({fault_code} if fault_code else set()),
        open_alerts=signals.open_alerts | {detector},
    )
    ranked = rank(Runbook.objects.all(), signals)
    return next((suggestion.slug for suggestion in ranked if suggestion.matched & own), "")
