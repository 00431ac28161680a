"""The runbooks as procedures a person can read before and while running one: each step's
instructions, whether someone must be on site, its check, its one-click command and where
each answer leads; then what an escalation gathers."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from console.web.access import ConsoleAccess, console_view
from console.web.procedure_words import procedure
from diagnostics.queries import runbooks as runbook_queries
from diagnostics.services.runbooks import get_runbook

CHECKLIST_WORDS = {
    "event_log": "the charger's last 10 fault events",
    "firmware": "its firmware and model, against the known issues of its fault codes",
    "thermal_anomalies": "temperatures above the warning limit in the last 24 hours",
    "event_trail": "every event since the run's command",
    "inverter_telemetry_60s": "the 60 seconds of telemetry before the last fault",
    "vehicle": "the vehicle, from the last charging record (make, model, firmware to add)",
    "connector_photos": "pictures of the connector pins (to attach)",
    "runbook_reference": "this runbook and every step result of the run",
}


@console_view()
def runbook_list(request: HttpRequest, access: ConsoleAccess) -> HttpResponse:
    """Every runbook with its symptom, the models and fault codes it is for."""
    return render(
        request, "console/runbooks/list.html", {"runbooks": list(runbook_queries.runbooks())}
    )


@console_view()
def runbook_page(request: HttpRequest, access: ConsoleAccess, slug: str) -> HttpResponse:
    """One runbook as a procedure: steps, checks, branches and the escalation checklist."""
    runbook = get_runbook(slug[:80])
    checklist = [(item, CHECKLIST_WORDS.get(item, item)) for item in runbook.escalation_checklist]
    return render(
        request,
        "console/runbooks/runbook.html",
        {"runbook": runbook, "steps": procedure(runbook.steps), "checklist": checklist},
    )
