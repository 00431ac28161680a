"""The one thing to do next on a run, as the console's primary button offers it: send the
step's command when its check waits for it, run the check (again, when the charger's
commands moved since), follow the route its verdict gives, or answer the step by hand
when no route follows. An engineer pressing it at every step walks the check-driven path."""

from typing import Any

from diagnostics.models import RunbookExecution, StepResult
from diagnostics.services.runbooks.engine import arrived_at, check_route, is_stale, latest_check
from diagnostics.services.runbooks.runs import FINISHED
from fleet.models import Command

# What a waiting check names (evidence "waiting_for") → the step command that ends the wait.
ENDS_WAIT = {"reboot": "reboot", "start_charging": "start_charging"}


def primary_action(run: RunbookExecution) -> dict[str, Any] | None:
    """{action, label, why} for the run's current step (action: one of the engine's step
    actions, or "resume"); None for a finished run."""
    if run.status in FINISHED:
        return None
    if run.status == RunbookExecution.Status.PAUSED:
        return {"action": "resume", "label": "Resume the run", "why": run.outcome_note}
    step = run.runbook.step(run.current_step) or {}
    command = (step.get("command") or {}).get("type")
    sent = _sent_this_visit(run, command)
    if step.get("check"):
        last = latest_check(run, run.current_step)
        if last is None:
            return {"action": "verify", "label": "Run the check", "why": ""}
        if is_stale(last, run.device_id):
            return {
                "action": "verify",
                "label": "Check again",
                "why": "A command on the charger moved since this verdict",
            }
        summary = (last.evidence or {}).get("summary", "")
        if last.outcome == StepResult.Outcome.WAITING:
            waiting_for = (last.evidence or {}).get("waiting_for")
            if command and ENDS_WAIT.get(waiting_for) == command and not sent:
                return {"action": "command", "label": _send_words(command), "why": summary}
            return {"action": "verify", "label": "Check again", "why": summary}
        if check_route(step, last) is not None:
            return {"action": "continue", "label": "Follow the check's result", "why": summary}
        return {"action": "choose", "label": "Answer the step", "why": summary}
    if command and not sent:
        return {"action": "command", "label": _send_words(command), "why": ""}
    if any(branch["when"].get("default") for branch in step.get("branches", [])):
        return {"action": "continue", "label": "Go on to the next step", "why": ""}
    return {"action": "choose", "label": "Answer the step", "why": ""}


def _sent_this_visit(run: RunbookExecution, command: str | None) -> bool:
    """Whether the run sent the step's command since it reached the step."""
    if not command or not run.command_id:
        return False
    return Command.objects.filter(
        command_id=run.command_id,
        device_id=run.device_id,
        command=command,
        created_at__gte=arrived_at(run),
    ).exists()


def _send_words(command: str) -> str:
    return {
        "reboot": "Send the reboot",
        "start_charging": "Send the remote start",
        "stop_charging": "Send the remote stop",
        "reset_connector": "Reset the connector",
    }.get(command, f"Send the {command.replace('_', ' ')}")
