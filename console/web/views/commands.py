"""The commands page: everything sent to the operator's chargers, newest first, what
became of each and who sent it."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from console.web.access import ConsoleAccess, console_view
from console.web.forms.commands import PAGE_SIZE, CommandFilterForm
from console.web.tables import chosen_charger, filtered_table, wants_fragment, with_charger
from fleet.queries import commands as command_queries


@console_view()
def command_list(request: HttpRequest, access: ConsoleAccess) -> HttpResponse:
    """The filtered, paged command table; an HTMX request gets the table alone."""
    table = command_table(access, CommandFilterForm(request.GET))
    if wants_fragment(request):
        return render(request, "console/commands/list.html#command-table", table)
    return render(request, "console/commands/list.html", table)


def command_table(access: ConsoleAccess, form: CommandFilterForm) -> dict:
    # The API's query: the operator's own commands only; a foreign device id matches nothing.
    # The charger may be given by its id or its serial number.
    charger = chosen_charger(access.operator_id, form)
    table = filtered_table(
        form,
        lambda: command_queries.commands(
            access.operator_id, **with_charger(form.query_filters(), charger)
        ),
        PAGE_SIZE,
    )
    return {**table, "chosen_charger": charger}
