"""The fleet page: what is wrong across the operator's chargers, and the device table."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from console.web.access import STAFF_OPERATOR_KEY, ConsoleAccess, console_view
from console.web.forms.fleet import PAGE_SIZE, DeviceFilterForm
from console.web.live_paths import live_path
from console.web.tables import filtered_table, wants_fragment
from diagnostics.queries.health import chargers, detailed
from diagnostics.queries.overview import fleet_overview
from fleet.errors import NotFound
from fleet.models import Device, Operator
from fleet.queries.paging import Page
from fleet.queries.sites import sites


@console_view()
def home(request: HttpRequest, access: ConsoleAccess) -> HttpResponse:
    """Fleet overview with the device table; an HTMX request gets the table alone."""
    form = DeviceFilterForm(request.GET)
    table = device_table(access, form)
    if wants_fragment(request):
        return render(request, "console/fleet/overview.html#device-table", table)
    context = {
        **table,
        "overview": fleet_overview(access.operator_id),
        "site_choices": list(sites(access.operator_id).values_list("site_id", "name")),
        "live_path": live_path("fleet", filters=request.GET.urlencode()),
    }
    return render(request, "console/fleet/overview.html", context)


def device_table(access: ConsoleAccess, form: DeviceFilterForm) -> dict:
    """The chargers the filters select, each with its health, a page at a time."""
    return with_details(filtered_table(form, lambda: charger_rows(access, form), PAGE_SIZE))


def with_details(table: dict) -> dict:
    """The table's page of chargers read with what the table shows (their health column,
    site and connectors)."""
    page = table["page"]
    if page is not None:
        items = detailed([device.pk for device in page.items])
        table = {**table, "page": Page(items, page.total, page.page, page.size)}
    return table


def charger_rows(access: ConsoleAccess, form: DeviceFilterForm):
    """The chargers a valid form selects, with their health (the Chargers list and the
    fleet table share it)."""
    try:
        return chargers(access.operator_id, **form.query_filters())
    except NotFound:  # a site id not of this operator: nothing matches, nothing is told
        return Device.objects.none()


@require_POST
@console_view()
def choose_operator(request: HttpRequest, access: ConsoleAccess) -> HttpResponse:
    """Platform staff switch the operator the console shows."""
    if access.is_staff:
        chosen = Operator.objects.filter(pk=request.POST.get("operator_id", "")).first()
        if chosen is not None:
            request.session[STAFF_OPERATOR_KEY] = chosen.operator_id
    return redirect("console:home")
