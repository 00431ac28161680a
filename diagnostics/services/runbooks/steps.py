"""What a runbook step offers the person running it: the actions that make sense on it,
its answers, and its one-click remote command with that command's risk."""

from typing import Any

from diagnostics.services.remote_commands import DIAGNOSTIC_COMMANDS
from fleet.errors import InvalidParameter

STEP_ACTIONS = ("verify", "continue", "done", "choose", "command")


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
