"""The runbooks as procedures a person can read before and while running one: each step's
instructions, whether someone must be on site, its check, its one-click command and where
each answer leads; then what an escalation gathers."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from console.web.access import ConsoleAccess, console_view
from console.web.forms.paging import PageForm
from console.web.procedure_words import procedure
from console.web.tables import Column, ListPage, filtered_table, list_context, render_list
from diagnostics.queries import runbooks as runbook_queries
from diagnostics.services.runbooks.checklist import checklist_words
from diagnostics.services.runbooks.runs import get_runbook

PAGE_SIZE = 50  # a few tens of runbooks: usually one page
RUNBOOKS = ListPage(
    url="console:runbooks",
    template="console/runbooks/list.html",
    target="runbook-table",
    noun="runbook",
    label="Runbooks table",
    table_class="runbook-table",
    columns=(
        Column("Runbook", cell="title", row_header=True),
        Column("Symptom", attr="symptom"),
        Column("Steps", cell="steps", css="num"),
        Column("Models", cell="models"),
        Column("Fault codes", cell="codes"),
        Column("Escalates to", attr="escalation_target"),
    ),
)


@console_view()
def runbook_list(request: HttpRequest, access: ConsoleAccess) -> HttpResponse:
    """Every runbook with its symptom, the models and fault codes it is for."""
    form = PageForm(request.GET)
    table = filtered_table(form, runbook_queries.runbooks, PAGE_SIZE)
    return render_list(request, RUNBOOKS, list_context(RUNBOOKS, form, table))


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
