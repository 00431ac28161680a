"""What every job on a run shares: the statuses that end a run, finding a runbook or a
run, and the two records each move leaves — a line in the run's history (`record_move`)
and an entry in its operator's audit trail (`audit_run`)."""

import re
from typing import Any

from django.utils import timezone

from diagnostics.models import Runbook, RunbookExecution
from fleet.actors import Actor
from fleet.errors import NotFound
from fleet.services import audit

FINISHED = {
    RunbookExecution.Status.RESOLVED,
    RunbookExecution.Status.DIAGNOSED,
    RunbookExecution.Status.ESCALATED,
    RunbookExecution.Status.CLOSED,
}
UNFINISHED = {RunbookExecution.Status.OPEN, RunbookExecution.Status.PAUSED}


def get_runbook(slug: str) -> Runbook:
    runbook = Runbook.objects.filter(slug=slug).first()
    if runbook is None:
        raise NotFound(f"Runbook '{slug}' not found")
    return runbook


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


def record_move(
    actor: Actor, execution: RunbookExecution, action: str, to: str | None, why: str
) -> None:
    """A line in the run's history: from its current step, what was done, where it led and why."""
    execution.moves = [
        *(execution.moves or []),
        {"step": execution.current_step, "action": action, "to": to, "why": why,
         "by": actor.label, "at": timezone.now().isoformat()},
    ]  # fmt: skip


def audit_run(
    actor: Actor, execution: RunbookExecution, action: str, details: dict[str, Any]
) -> None:
    """An entry in the trail of the operator whose run it is."""
    audit.record(
        actor, action=action, resource_type="runbook_run", resource_id=execution.run_id,
        operator_id=execution.operator_id,
        details={"run_id": execution.run_id, "runbook": execution.runbook_id,
                 "device_id": execution.device_id, **details},
    )  # fmt: skip
