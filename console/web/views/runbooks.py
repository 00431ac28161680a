"""The runbooks as procedures a person can read before and while running one: each step's
instructions, whether someone must be on site, its check, its one-click command and where
each answer leads; then what an escalation gathers."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from console.web.access import ConsoleAccess, console_view
from console.web.procedure_words import procedure
from diagnostics.queries import runbooks as runbook_queries
from diagnostics.services.runbooks.checklist import checklist_words
from diagnostics.services.runbooks.runs import get_runbook


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
    checklist = [(item, checklist_words(item)) for item in runbook.escalation_checklist]
    return render(
        request,
        "console/runbooks/runbook.html",
        {"runbook": runbook, "steps": procedure(runbook.steps), "checklist": checklist},
    )
