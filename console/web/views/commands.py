"""The commands page: everything sent to the operator's chargers, newest first, what
became of each and who sent it."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from console.web.access import ConsoleAccess, console_view
from console.web.forms.commands import PAGE_SIZE, CommandFilterForm
from fleet.queries import commands as command_queries
from fleet.queries.paging import paginate


@console_view()
def command_list(request: HttpRequest, access: ConsoleAccess) -> HttpResponse:
    """The filtered, paged command table; an HTMX request gets the table alone."""
    table = command_table(access, CommandFilterForm(request.GET))
    if request.htmx and not request.htmx.history_restore_request:  # a restore needs the page
        return render(request, "console/commands/list.html#command-table", table)
    return render(request, "console/commands/list.html", table)


def command_table(access: ConsoleAccess, form: CommandFilterForm) -> dict:
    if not form.is_valid():
        return {"form": form, "page": None, "pages": 0, "query": ""}
    # The API's query: the operator's own commands only; a foreign device id matches nothing.
    queryset = command_queries.commands(access.operator_id, **form.query_filters())
    page = paginate(queryset, form.cleaned_data["page"] or 1, PAGE_SIZE)
    query = form.data.copy()
    query.pop("page", None)
    return {
        "form": form,
        "page": page,
        "pages": max(1, -(-page.total // PAGE_SIZE)),
        "query": query.urlencode(),
    }
