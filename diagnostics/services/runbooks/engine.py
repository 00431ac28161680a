"""The runbook engine: start a run on a device, verify the current step with its check,
move on by the step's branch rules (first match wins), and end resolved, closed, paused
or escalated — with every step result and its evidence recorded.

A run belongs to the operator that owned the device when it started. Every move on a run
locks the device's row, then the run's, reads the run afresh and decides on what it finds
(`_moving`): of two concurrent moves one wins and the other is refused (Conflict), so the
run's status, its moves and the audit trail tell the same story."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from diagnostics.checks import model_catalogue, run_check, verdict_words
from diagnostics.models import Runbook, RunbookExecution, StepResult
from diagnostics.services.runbooks.checklist import checklist, handover
from diagnostics.services.runbooks.runs import (
    FINISHED,
    UNFINISHED,
    audit_run,
    get_runbook,
    record_move,
)
from diagnostics.services.runbooks.steps import STEP_ACTIONS, require_confirmation, step_choices
from diagnostics.words import value_words
from fleet.actors import Actor
from fleet.errors import Conflict, InvalidParameter, MissingParameter, NotFound
from fleet.models import Command, CommandStatusChange, Connector, Device
from fleet.services.commands import queue_command

OUTCOME_TO_RESULT = {
    "pass": StepResult.Outcome.VERIFIED,
    "fail": StepResult.Outcome.FAILED,
    "unknown": StepResult.Outcome.UNKNOWN,
    "waiting": StepResult.Outcome.WAITING,
}
RESULT_TO_OUTCOME = {v: k for k, v in OUTCOME_TO_RESULT.items()}
# Why a run is closed by hand without a fix of ours (close()).
CLOSE_REASONS = ("not_our_fault", "vehicle", "site_supply", "false_alarm", "other")
# Longest note an engineer may attach to a step, an escalation or the end of a run.
NOTE_MAX_LENGTH = 2000


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
    audit_run(actor, execution, "start_runbook", {"connector_id": connector_id})
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


# How far back a run of a runbook about a command (Runbook.follows_command) looks for
# the charger's latest such command when it is started for none in particular.
FOLLOWED_COMMAND_DAYS = 7


def start_run(
    actor: Actor,
    device: Device,
    slug: str,
    connector_id: int | None = None,
    command_id: str | None = None,
) -> RunbookExecution:
    """Start a run asked for by a person: the connector must be one the device has, and
    the device must have no unfinished (open or paused) run of the same runbook. A run of
    a runbook about a command (FOLLOWED_COMMANDS) follows `command_id`, one of the
    device's commands of that type the actor may see, or else the device's latest such
    command of the last 7 days (on the connector, if one is named)."""
    runbook = get_runbook(slug)
    if (
        connector_id is not None
        and not Connector.objects.filter(device=device, connector_id=connector_id).exists()
    ):
        raise NotFound(f"Connector {connector_id} of device '{device.device_id}' not found")
    command = _followed_command(actor, device, runbook, connector_id, command_id)
    if command is not None:
        if connector_id is not None and command.connector_id not in (None, connector_id):
            raise InvalidParameter(
                "connector_id", connector_id,
                f"Command '{command.command_id}' was sent to connector {command.connector_id}",
            )  # fmt: skip
        connector_id = connector_id if connector_id is not None else command.connector_id
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
        return start(actor, device, slug, connector_id, command.command_id if command else "")


def _followed_command(
    actor: Actor,
    device: Device,
    runbook: Runbook,
    connector_id: int | None,
    command_id: str | None,
) -> Command | None:
    commands = Command.objects.filter(device=device)
    if actor.operator_id is not None:  # the platform's own commands count for the owner
        commands = commands.filter(Q(operator_id=actor.operator_id) | Q(operator__isnull=True))
    kind = runbook.follows_command
    if command_id:
        command = commands.filter(command_id=command_id).first()
        if command is None:
            raise NotFound(f"Command '{command_id}' of device '{device.device_id}' not found")
        if kind is None or command.command != kind:
            raise InvalidParameter(
                "command_id", command_id,
                f"This runbook follows {kind + ' commands' if kind else 'no command'}",
            )  # fmt: skip
        return command
    if kind is None:
        return None
    recent = commands.filter(
        command=kind, created_at__gte=timezone.now() - timedelta(days=FOLLOWED_COMMAND_DAYS)
    )
    if connector_id is not None:
        recent = recent.filter(connector_id=connector_id)
    return recent.order_by("-created_at").first()


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
    context = _context(execution)
    params = dict((step.get("check") or {}).get("params") or {})
    resolved = {}
    for name, value in params.items():
        value = context.get(value, value) if isinstance(value, str) else value
        resolved[name] = tuple(value) if isinstance(value, list) else value
    return resolved


def _context(execution: RunbookExecution) -> dict[str, Any]:
    """What a step's check parameters may name: the run's connector and command, when
    the run started and when its command was asked for."""
    command = (
        Command.objects.filter(command_id=execution.command_id, device_id=execution.device_id)
        .values_list("created_at", flat=True)
        .first()
        if execution.command_id
        else None
    )
    return {
        **execution.context(),
        "$run_started_at": execution.created_at,
        "$command_created_at": command,
    }


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
    audit_run(actor, execution, "step_result", {"step": step["key"], "outcome": result.outcome})
    return StepResult.objects.create(
        execution=execution,
        step_key=step["key"],
        outcome=OUTCOME_TO_RESULT[result.outcome],
        evidence={
            "check": check["name"],
            "summary": result.summary,
            "verdict": verdict_words(check["name"], result.outcome),
            **result.evidence,
        },
        by=actor.label,
    )


def is_stale(result: StepResult | None, device_id: str) -> bool:
    """A check's verdict is stale once a command on the charger was sent, or changed
    status, after it: what it judged (a reboot under way, a start not yet taken) may no
    longer hold. A stale verdict is run again before anything follows from it."""
    if result is None or result.outcome not in RESULT_TO_OUTCOME:
        return False
    return CommandStatusChange.objects.filter(
        command__device_id=device_id, at__gt=result.at
    ).exists()


def latest_check(execution: RunbookExecution, step_key: str) -> StepResult | None:
    """The step's latest automatic verdict in this visit of the step (a result from an
    earlier visit, before the run came back to it, is not this visit's)."""
    return (
        execution.results.filter(step_key=step_key, outcome__in=list(RESULT_TO_OUTCOME))
        .filter(at__gte=arrived_at(execution))
        .order_by("-at", "-id")
        .first()
    )


def arrived_at(execution: RunbookExecution) -> datetime:
    """When the run reached its current step."""
    for move in reversed(execution.moves or []):
        if move.get("to") == execution.current_step:
            return parse_datetime(move["at"]) or execution.created_at
    return execution.created_at


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
        audit_run(
            actor, execution, "step_result", {"step": step["key"], "choice": choice, "note": note}
        )
        StepResult.objects.create(
            execution=execution, step_key=step["key"], outcome=StepResult.Outcome.MANUAL,
            choice=choice or "", note=note, by=actor.label,
        )  # fmt: skip
    last = latest_check(execution, step["key"])
    if (
        choice is None
        and not done_manually
        and step.get("check")
        and is_stale(last, execution.device_id)
    ):
        # Judged before the charger's last command moved: judge again before following.
        last = _verify(actor, execution)
    then, why = {"action": "next"}, "no branch matched: on to the next step"
    for branch in step.get("branches", []):
        if _matches(branch["when"], last, choice):
            then, why = branch["then"], _reason(branch["when"], last)
            break
    else:
        if step.get("check"):
            raise _undecided(step, last)
    return _apply(actor, execution, then, note, why)


def check_route(step: dict[str, Any], result: StepResult | None) -> dict[str, Any] | None:
    """Where a check result takes the run on this step ("then"), or None when the step
    gives it no route and the engineer has to answer."""
    for branch in step.get("branches", []):
        if "choice" not in branch["when"] and _matches(branch["when"], result, None):
            return branch["then"]
    return None


def _undecided(step: dict[str, Any], last: StepResult | None) -> Conflict:
    """The refusal to move a checked step on when no route follows from its verdict: a
    check that cannot decide (or a verdict the runbook gives no route) is never taken for
    a pass; the engineer confirms by hand, on site if need be."""
    choices = step_choices(step)
    answers = "; ".join(f"“{c['label']}”" for c in choices) or "none"
    if last is None:
        what = "The step's check has not been run"
    elif last.outcome == StepResult.Outcome.WAITING:
        what = (last.evidence or {}).get("summary", "The check is waiting")
    elif last.outcome == StepResult.Outcome.UNKNOWN:
        what = f"The check could not decide ({(last.evidence or {}).get('summary', '')})"
    else:
        verdict = RESULT_TO_OUTCOME.get(last.outcome, last.outcome)
        what = f"The check's verdict ({verdict}) has no route of its own"
    return Conflict(
        f"{what}: answer the step by hand. Answers: {answers}",
        {"choices": [c["choice"] for c in choices], "reason": "undecided"},
    )


def _reason(when: dict[str, Any], last: StepResult | None) -> str:
    """Why a branch was taken, in words for the run's history."""
    if "choice" in when:
        return f"chosen: {when.get('label') or when['choice']}"
    if when.get("default"):
        return "default route"
    parts = []
    if "outcome" in when:
        words = (last.evidence or {}).get("verdict") if last else None
        parts.append(f"check: {words or when['outcome']}")
    for key, value in (when.get("evidence") or {}).items():
        parts.append(f"its {key.replace('_', ' ')} is {value_words(key, value)}")
    summary = (last.evidence or {}).get("summary") if last else None
    return ", ".join(parts) + (f" ({summary})" if summary else "")


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
        record_move(actor, execution, action, target or "resolved", why)
        if target is None:
            execution.status, execution.outcome_note = RunbookExecution.Status.RESOLVED, note
        else:
            execution.current_step = target
    elif action == "diagnose":
        record_move(actor, execution, action, "diagnosed", why)
        execution.status = RunbookExecution.Status.DIAGNOSED
        execution.outcome_note = note
        execution.outcome_action = diagnose_action(execution, then)
    elif action in ("pause", "resolve"):
        record_move(actor, execution, action, f"{action}d", why)
        status = {
            "pause": RunbookExecution.Status.PAUSED,
            "resolve": RunbookExecution.Status.RESOLVED,
        }
        execution.status, execution.outcome_note = status[action], note
    elif action == "close":
        record_move(actor, execution, action, "closed", why)
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
        record_move(actor, execution, action, successor.run_id, why)
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


def diagnose_action(execution: RunbookExecution, then: dict[str, Any]) -> dict[str, Any]:
    """What a diagnosed run leaves to do, from its runbook's branch and the evidence of the
    step's check. `fix: firmware_upgrade`: upgrade the charger (and every charger of its
    model on the same build) out of the known issue, to the model's latest stable build."""
    device = execution.device
    fix = then.get("fix", "")
    if fix != "firmware_upgrade":
        return {"kind": fix or "action", "text": then.get("note", "")}
    last = latest_check(execution, execution.current_step)
    issues = ((last.evidence or {}).get("known_issues") if last else None) or []
    issue = issues[0] if issues else {}
    latest = (model_catalogue().get(device.model) or {}).get("latest_stable") or ""
    minimum = issue.get("fixed_in") or latest
    words = f"Upgrade to {minimum} or later" if minimum else "Upgrade the firmware"
    if latest:
        words += f" (the latest stable build for {device.model} is {latest})"
    return {
        "kind": "firmware_upgrade",
        "model": device.model,
        "from_version": device.firmware_version,
        "minimum_version": minimum,
        "target_version": latest or minimum,
        "fault_code": issue.get("fault_code", ""),
        "affected": [issue["affected_from"], issue["affected_to"]] if issue else None,
        "text": words,
    }


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


def resume(actor: Actor, execution: RunbookExecution) -> RunbookExecution:
    """Reopen a paused run at the step it paused on."""
    with _moving(execution) as run:
        if run.status != RunbookExecution.Status.PAUSED:
            raise Conflict(
                f"Only a paused run can be resumed: this one is {run.status}",
                {"status": run.status, "current_step": run.current_step},
            )
        record_move(actor, run, "resume", run.current_step, "resumed by hand")
        run.status = RunbookExecution.Status.OPEN
        run.save(update_fields=["status", "moves", "updated_at"])
        audit_run(actor, run, "resume_runbook", {"step": run.current_step})
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
        record_move(actor, run, action.removesuffix("_runbook"), status, "ended by hand")
        run.status, run.outcome_note = status, note
        run.save(update_fields=["status", "outcome_note", "moves", "updated_at"])
        audit_run(actor, run, action, {"note": note})
    return run


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
        **handover(execution),
        "checklist": checklist(execution),
    }
    record_move(actor, execution, "escalate", "escalated", why)
    execution.status = RunbookExecution.Status.ESCALATED
    execution.outcome_note = note
    execution.save()
    audit_run(
        actor, execution, "escalate", {"target": execution.escalation["target"], "note": note}
    )
    return execution
