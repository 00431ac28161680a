"""A charger changing hands: the runs its previous operator left unfinished on it close."""

from typing import Any

from diagnostics.models import RunbookExecution
from diagnostics.services.runbooks.runs import UNFINISHED, audit_run, record_move
from fleet.actors import Actor

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
        record_move(platform, run, "close", "closed", MOVED_AWAY)
        run.status = RunbookExecution.Status.CLOSED
        run.outcome_note = f"Closed by the platform: {MOVED_AWAY}."
        run.save(update_fields=["status", "outcome_note", "moves", "updated_at"])
        # Who moved the charger is in both operators' trails already (assign_device).
        audit_run(
            platform, run, "close_runbook",
            {"note": run.outcome_note, "reason": "charger_moved", "moved_by": actor.label},
        )  # fmt: skip
