"""Runbook runs as an API (extensions): start a run on a charger, act on its current step,
resume, escalate, resolve or close it. Every rule is the runbook engine's
(diagnostics/services/runbooks/), the same one the console's run page uses.

A run belongs to the operator under which it started, wherever the charger goes later.
Moves on one run are serialised: of two at the same moment one wins, the other is
409/4001 and leaves no trace."""

from datetime import datetime
from typing import Annotated, Any, Literal, Self

from django.http import HttpRequest
from ninja import Body, Query, Router
from pydantic import BaseModel, BeforeValidator, Field, StrictBool, StrictInt

from api.auth import operator_read, operator_write
from api.envelope import success_body
from api.operator.common import EXTENSION_TAG, QUERY_ERRORS, PageParams, extension, page_body
from api.schemas.common import EmptyAsNull, Envelope, ErrorEnvelope, Page, Related, ResponseSchema
from diagnostics.models import RunbookExecution
from diagnostics.queries import runbooks as runbook_queries
from diagnostics.services.runbooks import engine, steps
from diagnostics.services.runbooks.runs import FINISHED, get_run
from fleet.actors import actor_from_request
from fleet.contracts.common import FilterText, RequestSchema, Text
from fleet.queries.paging import paginate
from fleet.services.tenancy import get_device_for_operator

router = Router(tags=["Diagnostics", EXTENSION_TAG])

# diagnosed: the cause is known and a fix is still to be carried out (outcome_action).
RunStatus = Literal["open", "paused", "resolved", "diagnosed", "escalated", "closed"]
Note = Text(engine.NOTE_MAX_LENGTH, min_length=0)
WRITE_ERRORS = {404: ErrorEnvelope, 409: ErrorEnvelope, **QUERY_ERRORS}


# --- Schemas -----------------------------------------------------------------------------------


class RunbookRef(ResponseSchema):
    slug: str
    title: str


class StepChoice(BaseModel):
    choice: str = Field(description="The value to send as `choice` with action `choose`.")
    label: str


class StepCommand(BaseModel):
    type: str
    params: dict[str, Any]
    risk: Literal["low", "medium"] = Field(description="Medium risk needs `confirm: true`.")


class CurrentStep(BaseModel):
    key: str
    title: str
    instructions: str
    on_site: str = Field(description="no, yes or optional: someone at the charger.")
    check: str | None = Field(description="The automatic check `verify` runs, if any.")
    command: StepCommand | None = Field(description="The one-click command, if any.")
    choices: list[StepChoice]
    actions: list[Literal["verify", "continue", "done", "choose", "command"]] = Field(
        description="The actions that apply to this step."
    )

    @classmethod
    def of_run(cls, run: RunbookExecution) -> Self | None:
        """The step the run is at, read from its runbook; None once the run is finished."""
        step = run.runbook.step(run.current_step)
        if run.status in FINISHED or step is None:
            return None
        return cls(
            key=step["key"],
            title=step.get("title", ""),
            instructions=step.get("instructions", ""),
            on_site=step.get("on_site", "no"),
            check=(step.get("check") or {}).get("name"),
            command=steps.step_command_info(step),
            choices=steps.step_choices(step),
            actions=steps.offered_actions(step),
        )


class StepResultOut(ResponseSchema):
    step: str = Field(validation_alias="step_key")
    outcome: Literal["verified", "failed", "unknown", "waiting", "done_manually", "skipped"]
    evidence: dict[str, Any] | None
    choice: EmptyAsNull
    note: str
    by: str
    at: datetime


class Move(BaseModel):
    step: str | None = Field(description="The step the run left (null for a switched run's start).")
    action: str
    to: str | None = Field(description="The next step, the run's end, or the run switched to.")
    why: str
    by: str
    at: datetime


class RunSummary(ResponseSchema):
    run_id: str
    runbook: RunbookRef
    device_id: str
    connector_id: int | None
    command_id: EmptyAsNull = Field(description="The last command sent from a step.")
    status: RunStatus
    current_step: CurrentStep | None = Field(description="Null once the run is finished.")
    started_by: str
    created_at: datetime
    updated_at: datetime
    outcome_note: str
    outcome_action: dict[str, Any] | None = Field(
        default=None,
        description="Extension: for a diagnosed run, the fix still to be carried out, e.g. "
        "{kind: firmware_upgrade, model, from_version, minimum_version, target_version, "
        "fault_code, text}.",
    )

    @classmethod
    def from_run(cls, run: RunbookExecution, **computed: Any) -> Self:
        """The run; `current_step` is the step itself (CurrentStep), not the run's step key."""
        return cls.from_model(run, current_step=CurrentStep.of_run(run), **computed)


class RunOut(RunSummary):
    steps: Annotated[list[StepResultOut], Related] = Field(
        validation_alias="results", description="Every step result, oldest first."
    )
    moves: Annotated[list[Move], BeforeValidator(lambda moves: moves or [])] = Field(
        description="Every move the run made and why, oldest first."
    )
    escalation: dict[str, Any] | None = Field(
        description="Target, note and the runbook's checklist, assembled when escalated."
    )


class QueuedCommand(BaseModel):
    command_id: str
    command: str
    status: str


class StepActionOut(RunOut):
    result: StepResultOut | None = Field(
        description="The step result this action recorded (verify, done, choose)."
    )
    command: QueuedCommand | None = Field(description="The command this action sent (command).")
    switched_from: str | None = Field(
        description="When a branch switched runbooks: the run it closed (this is the new run)."
    )


class RunFilters(PageParams):
    device_id: FilterText | None = None
    status: RunStatus | None = None


class RunStart(RequestSchema):
    runbook: Text(80) = Field(description="A runbook slug (GET /v1/operator/runbooks).")
    connector_id: StrictInt | None = Field(
        None, ge=1, le=255, description="The connector concerned; steps' checks use it."
    )
    command_id: Text(40) | None = Field(
        None,
        description="For a runbook about a command (the V2G discharge runbook: a discharge "
        "command), the command the run follows; by default the charger's latest such "
        "command of the last 7 days.",
    )


class StepAction(RequestSchema):
    action: Literal["verify", "continue", "done", "choose", "command"] = Field(
        description="verify: run the step's check now and record it. continue: follow the "
        "branch for the latest check result (or the default). done: a manual step ticked, "
        "`note` required. choose: answer the step, `choice` required. command: send the "
        "step's one-click command (`confirm: true` for medium risk)."
    )
    note: Note = ""
    choice: Text(80) | None = None
    confirm: StrictBool = False


class EscalateRequest(RequestSchema):
    note: Note = ""
    target: Text(64) | None = Field(None, description="Default: the runbook's target (e.g. L2).")


class ResolveRequest(RequestSchema):
    note: Note = Field("", description="What fixed it.")


class CloseRequest(RequestSchema):
    reason: Literal[engine.CLOSE_REASONS] = "not_our_fault"  # type: ignore[valid-type]
    note: Note = ""


def _run(request: HttpRequest, run_id: str) -> RunbookExecution:
    return get_run(request.auth.operator_id, run_id)


# --- Operations ----------------------------------------------------------------------------------


@router.post(
    "/devices/{device_id}/runbook-runs",
    auth=operator_write,
    response={200: Envelope[RunOut], **WRITE_ERRORS},
    summary="Start a runbook run on a charger",
    openapi_extra=extension(),
)
def start_run(request: HttpRequest, device_id: str, payload: RunStart):
    """The run opens at the runbook's first step. An unknown device, runbook or connector
    is 404/3001; a second unfinished (open or paused) run of the same runbook on the
    device is 409/4001 with the open run's id in `details.run_id`."""
    device = get_device_for_operator(request.auth.operator_id, device_id)
    run = engine.start_run(
        actor_from_request(request),
        device,
        payload.runbook,
        payload.connector_id,
        payload.command_id,
    )
    return success_body(RunOut.from_run(run))


@router.get(
    "/runbook-runs",
    auth=operator_read,
    response={200: Envelope[Page[RunSummary]], **QUERY_ERRORS},
    summary="Your runbook runs",
    openapi_extra=extension(),
)
def runs(request: HttpRequest, filters: Query[RunFilters]):
    """The runs started on your chargers, newest first, also on a charger that has since
    moved to another operator (its runs stay yours; the new owner does not see them);
    `device_id` and `status` filter. Step results, moves and the escalation are in the run
    itself (GET /v1/operator/runbook-runs/{run_id})."""
    queryset = runbook_queries.runs(request.auth.operator_id, **filters.filter_values())
    page = paginate(queryset, filters.page, filters.size)
    return page_body(page, [RunSummary.from_run(run) for run in page.items])


@router.get(
    "/runbook-runs/{run_id}",
    auth=operator_read,
    response={200: Envelope[RunOut], 404: ErrorEnvelope, **QUERY_ERRORS},
    summary="One runbook run: its current step, step results, moves and escalation",
    openapi_extra=extension(),
)
def run_detail(request: HttpRequest, run_id: str):
    return success_body(RunOut.from_run(_run(request, run_id)))


@router.post(
    "/runbook-runs/{run_id}/steps/{step}",
    auth=operator_write,
    response={200: Envelope[StepActionOut], **WRITE_ERRORS},
    summary="Act on the run's current step",
    openapi_extra=extension(),
)
def step_action(request: HttpRequest, run_id: str, step: str, payload: StepAction):
    """`step` must be the run's current step key; otherwise, or when the run is finished or
    paused (resume it first), 409/4001 with the run's `status` and `current_step` in
    `details`. `verify` on a step without a check, `command` on one without a command, or
    an answer the step does not offer (the offered ones are in `details.choices`) are
    400/1001; `done` without a note or `choose` without a choice are 400/1002.

    The answer is the run that continues: when a branch switches to another runbook, the
    new run, with the closed one's id in `switched_from`. A switch to a runbook that
    already has an unfinished run on the charger is 409/4001 with that run's id in
    `details.run_id`, and the step stays where it was."""
    run = _run(request, run_id)
    continuing = engine.act_on_step(
        actor_from_request(request),
        run,
        step,
        payload.action,
        choice=payload.choice,
        note=payload.note,
        confirm=payload.confirm,
    )
    recorded = None
    if payload.action in ("verify", "done", "choose"):
        recorded = run.results.filter(step_key=step).order_by("-at", "-id").first()
    sent = None
    if payload.action == "command":
        sent = QueuedCommand(
            command_id=continuing.command_id,
            command=(steps.step_command_info(run.runbook.step(step)) or {}).get("type"),
            status="queued",
        )
    switched_from = run.run_id if continuing.pk != run.pk else None
    return success_body(
        StepActionOut.from_run(
            continuing, result=recorded, command=sent, switched_from=switched_from
        )
    )


@router.post(
    "/runbook-runs/{run_id}/resume",
    auth=operator_write,
    response={200: Envelope[RunOut], **WRITE_ERRORS},
    summary="Resume a paused run at the step it paused on",
    openapi_extra=extension(),
)
def resume_run(request: HttpRequest, run_id: str):
    """Only a paused run can be resumed; anything else is 409/4001."""
    run = engine.resume(actor_from_request(request), _run(request, run_id))
    return success_body(RunOut.from_run(run))


@router.post(
    "/runbook-runs/{run_id}/escalate",
    auth=operator_write,
    response={200: Envelope[RunOut], **WRITE_ERRORS},
    summary="Escalate a run, with the runbook's checklist assembled from live data",
    openapi_extra=extension(),
)
def escalate_run(
    request: HttpRequest,
    run_id: str,
    payload: EscalateRequest = Body(None),  # noqa: B008 - Ninja's way to declare a body
):
    """The run ends as escalated; a finished run is 409/4001. The body may be left out."""
    payload = payload or EscalateRequest()
    run = engine.escalate(
        actor_from_request(request), _run(request, run_id), target=payload.target,
        note=payload.note,
    )  # fmt: skip
    return success_body(RunOut.from_run(run))


@router.post(
    "/runbook-runs/{run_id}/resolve",
    auth=operator_write,
    response={200: Envelope[RunOut], **WRITE_ERRORS},
    summary="End a run as resolved: the fault is fixed",
    openapi_extra=extension(),
)
def resolve_run(
    request: HttpRequest,
    run_id: str,
    payload: ResolveRequest = Body(None),  # noqa: B008
):
    """A finished run is 409/4001. The body may be left out."""
    payload = payload or ResolveRequest()
    run = engine.resolve(actor_from_request(request), _run(request, run_id), payload.note)
    return success_body(RunOut.from_run(run))


@router.post(
    "/runbook-runs/{run_id}/close",
    auth=operator_write,
    response={200: Envelope[RunOut], **WRITE_ERRORS},
    summary="End a run without a fix of ours",
    openapi_extra=extension(),
)
def close_run(
    request: HttpRequest,
    run_id: str,
    payload: CloseRequest = Body(None),  # noqa: B008
):
    """`reason`: not_our_fault (default), vehicle, site_supply, false_alarm or other. A
    finished run is 409/4001. The body may be left out."""
    payload = payload or CloseRequest()
    run = engine.close(
        actor_from_request(request), _run(request, run_id), payload.reason, payload.note
    )
    return success_body(RunOut.from_run(run))
