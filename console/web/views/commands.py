"""The commands page: everything sent to the operator's chargers, newest first, what
became of each and who sent it."""

from django.http import HttpRequest, HttpResponse

from console.web.access import ConsoleAccess, console_view
from console.web.forms.commands import PAGE_SIZE, CommandFilterForm
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
from fleet.queries import commands as command_queries

COMMANDS = ListPage(
    url="console:commands",
    template="console/commands/list.html",
    target="command-table",
    noun="command",
    label="Commands table",
    columns=(
        Column("When", cell="when"),
        Column("Command", cell="command"),
        Column("Charger", cell="charger"),
        Column("Status and history", cell="status"),
        Column("Issued by", cell="issued-by"),
    ),
    filters=(
        Filter("status", "Status", kind="select"),
        Filter("command", "Command", kind="select"),
        Filter("device", "Charger (serial or id)", placeholder="serial or dvc_…", live="input"),
    ),
    no_match="Choose another status, command or charger.",
)


@console_view()
def command_list(request: HttpRequest, access: ConsoleAccess) -> HttpResponse:
    """The filtered, paged command table; an HTMX request gets the table alone."""
    form = CommandFilterForm(request.GET)
    return render_list(request, COMMANDS, command_table(access, form))


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
    table["chosen_charger"] = charger
    return list_context(COMMANDS, form, table, shown=shown_charger(charger))
