"""A runbook run, step by step, built for a tablet beside the charger: the current step's
instructions, its check run on arrival with the verdict and the evidence it looked at, the
answers that lead on, the step's one-click command with its live status, the run's
history, and resolving, closing or escalating it. Every action goes through the runbook
engine (diagnostics/services/runbooks/), as the API's run endpoints do."""

from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from console.web.access import ConsoleAccess, console_view
from console.web.forms.runs import (
    CLOSE_REASONS,
    PAGE_SIZE,
    EndForm,
    RunFilterForm,
    RunStartForm,
    StepForm,
)
from console.web.live_paths import live_path
from console.web.procedure_words import describe_then, evidence_items, label_of, procedure
from console.web.roles import Role
from console.web.tables import (
    Column,
    Filter,
    ListPage,
    chosen_charger,
    filtered_table,
    list_context,
    render_list,
    shown_charger,
    with_charger,
)
from console.web.wording import form_problems
from diagnostics.checks import verdict_words
from diagnostics.models import RunbookExecution, StepResult
from diagnostics.queries import runbooks as runbook_queries
from diagnostics.services.runbooks import engine
from diagnostics.services.runbooks.checklist import checklist_words
from diagnostics.services.runbooks.next_action import primary_action
from diagnostics.services.runbooks.runs import FINISHED, get_run
from diagnostics.services.runbooks.steps import step_command_info
from fleet.errors import Conflict, TellusError
from fleet.models import Command
from fleet.services.tenancy import get_device_for_operator

TEMPLATE = "console/runs/run.html"
VERDICT = {"verified": "pass", "failed": "fail", "unknown": "unknown", "waiting": "waiting"}
MANUAL = {"done_manually": "answered by hand", "skipped": "skipped"}
# How each end of a run reads to the person on the page.
STATUS_WORDS = {
    "resolved": "Resolved",
    "diagnosed": "Diagnosed — action needed",
    "escalated": "Escalated",
    "closed": "Closed",
}


RUNS = ListPage(
    url="console:runs",
    template="console/runs/list.html",
    target="run-table",
    noun="run",
    label="Runs table",
    columns=(
        Column("Started", cell="started"),
        Column("Runbook", cell="runbook"),
        Column("Charger", cell="charger"),
        Column("Status", cell="status"),
        Column("At step", cell="step"),
        Column("By", cell="by"),
    ),
    filters=(
        Filter("status", "Status", kind="select"),
        Filter("device", "Charger (serial or id)", placeholder="serial or dvc_…", live="input"),
    ),
    no_match="Choose another status or charger.",
)


@console_view()
def run_list(request: HttpRequest, access: ConsoleAccess) -> HttpResponse:
    """The operator's runs, newest first, by status and charger."""
    form = RunFilterForm(request.GET)
    charger = chosen_charger(access.operator_id, form)  # by its id or its serial number
    table = filtered_table(
        form,
        lambda: runbook_queries.runs(
            access.operator_id, **with_charger(form.query_filters(), charger)
        ),
        PAGE_SIZE,
    )
    context = list_context(
        RUNS, form, {**table, "chosen_charger": charger}, shown=shown_charger(charger)
    )
    return render_list(request, RUNS, context)


@require_POST
@console_view(needs=Role.ENGINEER)
def run_start(request: HttpRequest, access: ConsoleAccess, device_id: str) -> HttpResponse:
    """Start a run of a runbook on this charger and open it at its first step."""
    device = get_device_for_operator(access.operator_id, device_id)
    form = RunStartForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"No run was started: {form_problems(form)}")
        return redirect("console:device", device_id=device.device_id)
    try:
        run = engine.start_run(
            access.actor,
            device,
            form.cleaned_data["runbook"],
            form.cleaned_data["connector_id"],
            form.cleaned_data["command_id"] or None,
        )
    except TellusError as refused:
        messages.error(request, f"No run was started: {refused.message}")
        return redirect("console:device", device_id=device.device_id)
    return redirect("console:run", run_id=run.run_id)


@console_view()
def run_page(request: HttpRequest, access: ConsoleAccess, run_id: str) -> HttpResponse:
    run = get_run(access.operator_id, run_id[:40])
    return render(request, TEMPLATE, run_context(access, run))


def run_context(access: ConsoleAccess, run: RunbookExecution) -> dict:
    """Everything the run page shows; its fragments are built from the same."""
    steps = procedure(run.runbook.steps)
    finished = run.status in FINISHED
    left = {move.get("step") for move in run.moves or []}
    for step in steps:
        if step["key"] == run.current_step and not finished:
            step["state"] = "current"
        elif step["key"] in left:
            step["state"] = "done"
        else:
            step["state"] = "not reached"
    current = next((s for s in steps if s["key"] == run.current_step), None)
    results = list(run.results.all())
    latest = None if finished else engine.latest_check(run, run.current_step)
    stale = engine.is_stale(latest, run.device_id)
    may_act = access.can(Role.ENGINEER) and run.status == RunbookExecution.Status.OPEN
    return {
        "run": run,
        "device": run.device,
        "in_fleet": in_fleet(access, run),
        "steps": steps,
        "current": None if finished else current,
        "check": check_context(
            latest, run.runbook.step(run.current_step) if current else None, stale
        ),
        "auto_check": may_act and current and current["check_name"] and (latest is None or stale),
        "primary": primary_action(run) if may_act else None,
        "status_words": status_words(run),
        "rollout_link": rollout_link(run),
        "command": step_command_context(run),
        "results": [
            {
                "result": r,
                "verdict": VERDICT.get(r.outcome),
                "words": verdict_of(r),
                "manual": MANUAL.get(r.outcome),
                "items": evidence_items(r.evidence),
            }
            for r in reversed(results)
        ],
        "moves": list(reversed(run.moves or [])),
        "may_act": may_act,
        "may_end": access.can(Role.ENGINEER) and not finished,
        "may_end_rerun": access.can(Role.ENGINEER) and finished and in_fleet(access, run),
        "may_medium": access.can(Role.OPERATOR),
        "close_reasons": CLOSE_REASONS,
        "successor": successor(run),
        "live_path": live_path("run", run.run_id),
    }


def in_fleet(access: ConsoleAccess, run: RunbookExecution) -> bool:
    """Whether the run's charger is still the operator's (a run stays its operator's when
    the charger moves to another one)."""
    site = run.device.site
    return site is not None and site.operator_id == access.operator_id


# Why a closed run closed, from the reason its outcome note starts with.
CLOSED_WORDS = {
    "switched to": "Closed — carried on in another runbook",
    "command_failed": "Closed — the charger rejected the command",
    "vehicle_side": "Closed — not our fault: the vehicle",
    "vehicle": "Closed — not our fault: the vehicle",
    "site_supply": "Closed — not our fault: the site's supply",
    "false_alarm": "Closed — a false alarm",
    "not_our_fault": "Closed — not our fault",
    "other": "Closed",
    "the charger moved": "Closed — the charger moved to another operator",
}


def status_words(run: RunbookExecution) -> str:
    """How the run ended, in words; for a closed run, why it closed."""
    if run.status != RunbookExecution.Status.CLOSED:
        return STATUS_WORDS.get(run.status, run.status)
    note = run.outcome_note or ""
    return next(
        (words for start, words in CLOSED_WORDS.items() if note.startswith(start)), "Closed"
    )


def verdict_of(result: StepResult) -> str:
    """A check's verdict in its step's terms ("Cluster found"), as recorded with it."""
    evidence = result.evidence or {}
    if result.outcome not in VERDICT:
        return ""
    return evidence.get("verdict") or verdict_words(
        evidence.get("check", ""), {"verified": "pass", "failed": "fail"}.get(
            result.outcome, result.outcome)
    )  # fmt: skip


def rollout_link(run: RunbookExecution) -> str:
    """Where to start the firmware rollout a diagnosed run leaves to do, prefilled."""
    action = run.outcome_action or {}
    if run.status != RunbookExecution.Status.DIAGNOSED or action.get("kind") != "firmware_upgrade":
        return ""
    query = {
        key: action[key]
        for key in ("model", "from_version", "target_version", "fault_code")
        if action.get(key)
    }
    return f"{reverse('console:firmware-new')}?{urlencode(query)}"


def check_context(
    result: StepResult | None, step: dict | None = None, stale: bool = False
) -> dict | None:
    """The latest check of the current step in words; `routed` says where following it
    leads ("" when the step gives the verdict no route and asks for an answer, and while
    the verdict is stale: it is judged again first)."""
    if result is None:
        return None
    then = engine.check_route(step, result) if step and not stale else None
    return {
        "routed": f"The runbook's route for this verdict: {describe_then(then)}" if then else "",
        "stale": stale,
        "words": verdict_of(result),
        "result": result,
        "verdict": VERDICT[result.outcome],
        "summary": (result.evidence or {}).get("summary", ""),
        "name": (result.evidence or {}).get("check", ""),
        "items": evidence_items(result.evidence),
    }


def step_command_context(run: RunbookExecution) -> dict:
    """The run's last one-click command with its status history (the live part)."""
    command = (
        Command.objects.filter(command_id=run.command_id).prefetch_related("history").first()
        if run.command_id
        else None
    )
    return {"run": run, "sent": command}


def summary_of(result: StepResult) -> str:
    return (result.evidence or {}).get("summary", "")


def successor(run: RunbookExecution) -> str | None:
    """The run this one switched to, if a branch switched runbooks."""
    last = (run.moves or [])[-1:] or [{}]
    target = last[0].get("to") or ""
    return target if last[0].get("action") == "switch" and target.startswith("run_") else None


@require_POST
@console_view(needs=Role.ENGINEER)
def run_step(request: HttpRequest, access: ConsoleAccess, run_id: str) -> HttpResponse:
    """Act on the current step: run its check, follow its route, tick it done with a note,
    choose an answer, or send its command (medium risk: operator role, confirmed)."""
    run = get_run(access.operator_id, run_id[:40])
    form = StepForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Nothing was recorded: {form_problems(form)}")
        return redirect("console:run", run_id=run.run_id)
    data = form.cleaned_data
    action = data["action"]
    if action == "command":
        info = step_command_info(run.runbook.step(run.current_step) or {})
        if info and info["risk"] != "low" and not access.can(Role.OPERATOR):
            raise PermissionDenied("This step's command needs the operator role.")
        if info and info["risk"] != "low" and request.POST.get("confirmed") != "yes":
            context = run_context(access, run)
            context["confirm"] = info
            return render(request, TEMPLATE, context)
    try:
        continuing = engine.act_on_step(
            access.actor, run, data["step"], action, choice=data["choice"] or None,
            note=data["note"], confirm=request.POST.get("confirmed") == "yes",
        )  # fmt: skip
    except TellusError as refused:
        messages.error(request, f"Nothing was recorded: {refused.message}{meanwhile(refused)}")
        if request.htmx:  # the swap would nest a page: reload it, with the message
            return HttpResponse(status=204, headers={"HX-Refresh": "true"})
        return redirect("console:run", run_id=run.run_id)
    if action == "verify" and request.htmx:
        context = run_context(access, continuing)
        return render(request, f"{TEMPLATE}#step-check", context)
    if continuing.run_id != run.run_id:
        messages.info(request, f"{run.runbook.title} led to this runbook; the run goes on here.")
    return redirect("console:run", run_id=continuing.run_id)


def meanwhile(refused: TellusError) -> str:
    """What a refusal for the run's state means to someone looking at an older page."""
    if isinstance(refused, Conflict):
        return ". Someone may have moved the run on meanwhile: it is shown as it is now."
    return ""


ENDINGS = {"resolve": engine.resolve, "close": engine.close, "escalate": engine.escalate}


@require_POST
@console_view(needs=Role.ENGINEER)
def run_end(request: HttpRequest, access: ConsoleAccess, run_id: str, how: str) -> HttpResponse:
    """Resolve, close (with a reason) or escalate the run; or resume a paused one."""
    run = get_run(access.operator_id, run_id[:40])
    form = EndForm(request.POST)
    if how not in (*ENDINGS, "resume") or not form.is_valid():
        problem = form_problems(form) if form.errors else f"unknown ending '{how[:20]}'"
        messages.error(request, f"Nothing was changed: {problem}")
        return redirect("console:run", run_id=run.run_id)
    note = form.cleaned_data["note"]
    try:
        if how == "resume":
            engine.resume(access.actor, run)
        elif how == "close":
            engine.close(access.actor, run, form.cleaned_data["reason"] or "not_our_fault", note)
        else:
            ENDINGS[how](access.actor, run, note=note)
    except TellusError as refused:
        messages.error(request, f"Nothing was changed: {refused.message}{meanwhile(refused)}")
        return redirect("console:run", run_id=run.run_id)
    if how == "escalate":
        return redirect("console:run-escalation", run_id=run.run_id)
    return redirect("console:run", run_id=run.run_id)


@console_view()
def escalation_page(request: HttpRequest, access: ConsoleAccess, run_id: str) -> HttpResponse:
    """The escalation checklist as a page that prints cleanly (to PDF from the browser)."""
    run = get_run(access.operator_id, run_id[:40])
    if not run.escalation:
        messages.info(request, "This run was not escalated: there is no checklist yet.")
        return redirect("console:run", run_id=run.run_id)
    checklist = [
        {"item": item, "title": label_of(item).capitalize(),
         "words": checklist_words(item), "items": evidence_items(
            {item: value} if not isinstance(value, dict) else value)}
        for item, value in (run.escalation.get("checklist") or {}).items()
    ]  # fmt: skip
    results = [
        {
            "result": r,
            "verdict": VERDICT.get(r.outcome),
            "words": verdict_of(r),
            "manual": MANUAL.get(r.outcome),
            "summary": summary_of(r),
        }
        for r in run.results.all()
    ]
    escalation = run.escalation
    checks = [
        {**check, "items": evidence_items(check.get("evidence"))}
        for check in escalation.get("checks") or []
    ]
    return render(
        request,
        "console/runs/escalation.html",
        {
            "run": run,
            "device": run.device,
            "charger": escalation.get("charger"),
            "site": escalation.get("site"),
            "commands": escalation.get("commands"),
            "checks": checks,
            "checklist": checklist,
            "results": results,
        },
    )


@console_view()
def escalation_json(request: HttpRequest, access: ConsoleAccess, run_id: str) -> HttpResponse:
    """The same checklist as a JSON file to attach to a ticket."""
    run = get_run(access.operator_id, run_id[:40])
    if not run.escalation:
        return JsonResponse({"error": "This run was not escalated."}, status=404)
    body = {
        "run_id": run.run_id,
        "runbook": {"slug": run.runbook_id, "title": run.runbook.title},
        "device": {"device_id": run.device_id, "sn": run.device.sn,
                   "model": run.device.model, "firmware_version": run.device.firmware_version},
        "connector_id": run.connector_id,
        "started_by": run.started_by,
        "started_at": run.created_at.isoformat(),
        "escalation": run.escalation,
        "steps": [
            {"step": r.step_key, "outcome": r.outcome, "evidence": r.evidence, "choice": r.choice,
             "note": r.note, "by": r.by, "at": r.at.isoformat()}
            for r in run.results.all()
        ],
        "moves": run.moves,
    }  # fmt: skip
    response = JsonResponse(body, json_dumps_params={"indent": 2})
    response["Content-Disposition"] = f'attachment; filename="escalation-{run.run_id}.json"'
    return response
