"""The Chargers list (sortable, filtered, paged, exported as CSV) and a charger's page:
its health and open alerts, identity and firmware, live connector state, the last 15
minutes of power, its events, commands, records and upgrades, suggested runbooks, and the
remote actions the viewer's role allows."""

from collections import defaultdict
from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from console.web.access import ConsoleAccess, console_view
from console.web.charts import power_chart
from console.web.csv_export import EXPORT_CHUNK, csv_chunks, refused_export, streamed_csv, utc_iso
from console.web.forms.control import DAYS, FORMS
from console.web.forms.diagnostics import DiagnosticCommandForm, commands_by_risk, risk_of
from console.web.forms.fleet import PAGE_SIZE, DeviceFilterForm
from console.web.forms.flexibility import MAX_MINUTES, FlexibilityForm, posted_form
from console.web.live_paths import live_path
from console.web.roles import Role
from console.web.tables import (
    Column,
    Filter,
    ListPage,
    filtered_table,
    list_context,
    render_list,
    wants_fragment,
)
from console.web.views.fleet import charger_rows, with_details
from console.web.wording import form_problems, spoken_minutes
from diagnostics.queries import runbooks as runbook_queries
from diagnostics.queries.faults import fault_titles
from diagnostics.queries.health import DEFAULT_DEVICE_SORT, detailed_in_chunks
from diagnostics.services.firmware_review import firmware_notes
from diagnostics.services.remote_commands import OCPP_MESSAGES, SENSORS, send_diagnostic_command
from diagnostics.services.runbooks.suggestions import suggest
from fleet.errors import TellusError
from fleet.models import Device
from fleet.queries import commands as command_queries
from fleet.queries import devices as device_queries
from fleet.queries.records import charging_records
from fleet.queries.sites import sites
from fleet.services import control
from fleet.services.tenancy import devices_of, get_device_for_operator

CHART_MINUTES = 15
OWNERSHIP_SHOWN = 20
SERVICES = {
    "start": control.start_charging,
    "stop": control.stop_charging,
    "discharge": control.discharge,
    "schedule": control.set_schedule,
}


TEMPLATE = "console/devices/device.html"
LIST_TEMPLATE = "console/devices/list.html"
CSV_HEADER = [
    "serial", "device_id", "health", "connectivity", "top_alert_severity", "top_alert",
    "active_alerts", "connectors_in_fault", "reported_fault_code", "last_fault_code",
    "last_fault_title", "last_fault_at", "manufacturer", "model", "firmware", "site",
    "site_id", "last_heartbeat",
]  # fmt: skip


CHARGER_CELLS = "console/health/device_table.html"
CHARGERS = ListPage(
    url="console:devices",
    template=LIST_TEMPLATE,
    target="charger-table",
    noun="charger",
    label="Chargers table",
    table_class="device-table",
    columns=(
        Column("Serial", cell=f"{CHARGER_CELLS}#serial", sort="serial", css="nowrap"),
        Column("Health", cell=f"{CHARGER_CELLS}#health", sort="health", css="health"),
        Column("Model", cell=f"{CHARGER_CELLS}#model", sort="model", css="nowrap"),
        Column("Firmware", attr="firmware_version", sort="firmware", css="nowrap"),
        Column("Site", cell=f"{CHARGER_CELLS}#site", sort="site"),
        Column("Last heartbeat", cell=f"{CHARGER_CELLS}#heartbeat", sort="heartbeat", css="nowrap"),
    ),
    filters=(
        Filter("q", "Serial or id", placeholder="serial, id, model, firmware", live="input"),
        Filter("health", "Health", kind="select"),
        Filter("status", "Connectivity", kind="select", hidden=("faulted",)),
        Filter("site", "Site", kind="select", empty="Every site"),
        Filter("model", "Model", kind="select", empty="Every model"),
        Filter("firmware", "Firmware", kind="select", empty="Every version"),
    ),
    default_sort=DEFAULT_DEVICE_SORT,
    csv="console:devices-csv",
    csv_note="every charger these filters select",
    no_match="Choose another health, site, model or firmware.",
)


@console_view()
def device_list(request: HttpRequest, access: ConsoleAccess) -> HttpResponse:
    """Every charger of the operator with its health: sortable, filtered, paged; an HTMX
    request gets the table alone."""
    form = DeviceFilterForm(request.GET)
    table = with_details(filtered_table(form, lambda: charger_rows(access, form), PAGE_SIZE))
    choices = {}
    if not wants_fragment(request):
        chargers_of = devices_of(access.operator_id).order_by()
        models = sorted(set(chargers_of.values_list("model", flat=True)))
        versions = sorted(set(chargers_of.values_list("firmware_version", flat=True)))
        choices = {
            "site": list(sites(access.operator_id).values_list("site_id", "name")),
            "model": [(model, model) for model in models],
            "firmware": [(version, version) for version in versions],
        }
    return render_list(request, CHARGERS, list_context(CHARGERS, form, table, choices))


@console_view()
def devices_csv(request: HttpRequest, access: ConsoleAccess) -> HttpResponse:
    """Every charger the list's filters select, in its order, streamed as CSV."""
    form = DeviceFilterForm(request.GET)
    if not form.is_valid():
        return refused_export(form)
    # The selection's ids in order (one query), then its rows a chunk at a time.
    ids = list(charger_rows(access, form).values_list("pk", flat=True))
    rows = detailed_in_chunks(ids, EXPORT_CHUNK)
    filename = f"chargers-{timezone.now():%Y-%m-%d}.csv"
    return streamed_csv(request, csv_chunks(CSV_HEADER, map(csv_row, rows)), filename)


def csv_row(device: Device) -> list[object]:
    def moment(value):
        return utc_iso(value) if value else ""

    return [
        device.sn, device.device_id, device.health, device.status,
        device.top_alert_severity or "", device.top_alert_title or "", device.active_alerts,
        device.connectors_in_fault, device.reported_fault_code or "",
        device.last_fault_code or "", device.last_fault_title or "",
        moment(device.last_fault_at), device.manufacturer, device.model,
        device.firmware_version, device.site.name if device.site_id else "",
        device.site_id or "", moment(device.last_heartbeat),
    ]  # fmt: skip


@console_view()
def device_page(request: HttpRequest, access: ConsoleAccess, device_id: str) -> HttpResponse:
    device = get_device_for_operator(access.operator_id, device_id)
    return render(request, TEMPLATE, page_context(access, device))


def page_context(access: ConsoleAccess, device: Device) -> dict:
    may_diagnose = access.can(Role.ENGINEER)
    may_control = access.can(Role.OPERATOR)
    context = {"device": device, "may_control": may_control, "may_diagnose": may_diagnose}
    for build in FRAGMENTS.values():
        context.update(build(access, device))
    risks = ("low", "medium") if may_control else ("low",) if may_diagnose else ()
    context.update(
        firmware_notes=firmware_notes(device),
        records=list(charging_records(access.operator_id, device_id=device.device_id)[:10]),
        upgrades=list(
            device.firmware_updates.filter(operator_id=access.operator_id).order_by("-created_at")[
                :3
            ]
        ),
        # Who owned the charger when: for platform staff only (None hides the section).
        ownership_changes=(
            list(device.ownership_changes.order_by("-at", "-id")[:OWNERSHIP_SHOWN])
            if access.is_staff
            else None
        ),
        runbooks=suggest(device)[:5],
        runs=list(runbook_queries.runs(access.operator_id, device_id=device.device_id)[:5]),
        live_path=live_path("device", device.device_id),
        schedule_days=DAYS,
        diagnostic_commands=commands_by_risk(risks),
        max_minutes=MAX_MINUTES,
        sensors=SENSORS,
        ocpp_messages=OCPP_MESSAGES,
    )
    return context


# The page's live parts: what each fragment needs, built apart so the live consumer can
# render one fragment without the rest of the page.


def connectors_context(access: ConsoleAccess, device: Device) -> dict:
    connectors = device.connectors.order_by("connector_id")
    offline = device_queries.fell_silent(device)
    return {"connectors": device_queries.power_now(connectors, charger_offline=offline)}


def chart_context(access: ConsoleAccess, device: Device) -> dict:
    now = timezone.now()
    since = now - timedelta(minutes=CHART_MINUTES)
    samples: dict[int, list] = defaultdict(list)
    rows = device_queries.device_telemetry(access.operator_id, device.device_id, since=since)
    for connector_id, at, power in rows.values_list("connector_id", "timestamp", "power")[:2000]:
        samples[connector_id].append((at, power))
    for connector_id in device.connectors.values_list("connector_id", flat=True):
        samples.setdefault(connector_id, [])
    return {"chart": power_chart(samples, since, now), "chart_minutes": CHART_MINUTES}


def events_context(access: ConsoleAccess, device: Device) -> dict:
    events = list(device_queries.device_events(access.operator_id, device.device_id)[:20])
    titles = fault_titles(events)
    for event in events:
        event.fault_title = titles.get(event.fault_code, "")
    return {"events": events}


def commands_context(access: ConsoleAccess, device: Device) -> dict:
    issued = command_queries.commands(access.operator_id, device_id=device.device_id)
    return {"commands": list(issued[:10])}


FRAGMENTS = {
    "connectors": connectors_context,
    "chart": chart_context,
    "events": events_context,
    "commands": commands_context,
}


@require_POST
@console_view(needs=Role.OPERATOR)
def device_action(
    request: HttpRequest, access: ConsoleAccess, device_id: str, action: str
) -> HttpResponse:
    """Queue start / stop / discharge through the same service as the API; the outcome is
    a message on the device page, whose command list then shows the command."""
    device = get_device_for_operator(access.operator_id, device_id)
    form_class = FORMS.get(action)
    if form_class is None:
        messages.error(request, f"Unknown action '{action[:40]}'.")
        return redirect("console:device", device_id=device.device_id)
    form = form_class(request.POST)
    if not form.is_valid():
        messages.error(request, f"Nothing was sent: {form_problems(form)}")
        return redirect("console:device", device_id=device.device_id)
    connector_id = form.cleaned_data["connector_id"]
    try:
        command = SERVICES[action](access.actor, device.device_id, connector_id, form.params)
    except TellusError as refused:
        messages.error(request, f"Nothing was sent: {refused.message}")
    else:
        messages.success(
            request,
            f"{form_class.command} queued for connector {connector_id} "
            f"({command.command_id}); the charger picks it up on its next poll.",
        )
    return redirect("console:device", device_id=device.device_id)


@require_POST
@console_view(needs=Role.ENGINEER)
def device_diagnostic(request: HttpRequest, access: ConsoleAccess, device_id: str) -> HttpResponse:
    """Send a diagnostic command through the diagnostics service: low risk for engineers,
    medium risk for the operator role only and after a confirmation that says what the
    command will do."""
    device = get_device_for_operator(access.operator_id, device_id)
    form = DiagnosticCommandForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Nothing was sent: {form_problems(form)}")
        return redirect("console:device", device_id=device.device_id)
    medium = form.risk == "medium"
    if medium and not access.can(Role.OPERATOR):
        raise PermissionDenied("Medium-risk diagnostic commands need the operator role.")
    if medium and request.POST.get("confirmed") != "yes":
        context = page_context(access, device)
        context["confirm"] = {
            "kind": "diagnostic",
            "title": f"send {form.cleaned_data['command']}",
            "text": form.what_will_happen(device.sn),
            "fields": {**form.params, "command": form.cleaned_data["command"],
                       "connector_id": form.connector() or ""},
            "action": "console:device-diagnostic",
            "button": f"Send {form.cleaned_data['command']}",
        }  # fmt: skip
        return render(request, TEMPLATE, context)
    command_name = form.cleaned_data["command"]
    try:
        command = send_diagnostic_command(
            access.actor, device.device_id, command_name, form.connector(), form.params,
            confirm=medium,
        )  # fmt: skip
    except TellusError as refused:
        messages.error(request, f"Nothing was sent: {refused.message}")
    else:
        messages.success(
            request,
            f"{command_name} ({risk_of(command_name)} risk) queued ({command.command_id}); the "
            "charger picks it up on its next poll and its status shows under Commands.",
        )
    return redirect("console:device", device_id=device.device_id)


@require_POST
@console_view(needs=Role.OPERATOR)
def device_power(request: HttpRequest, access: ConsoleAccess, device_id: str) -> HttpResponse:
    """Limit or pause this one charger for a while. The first POST shows what will happen;
    only the confirmed one queues the command."""
    device = get_device_for_operator(access.operator_id, device_id)
    form, problem = posted_form(request.POST)
    if form is None:
        messages.error(request, f"Nothing was sent: {problem}")
        return redirect("console:device", device_id=device.device_id)
    if request.POST.get("confirmed") != "yes":
        context = page_context(access, device)
        context["confirm"] = {
            "kind": "power",
            "title": "pause charging" if form.command == "pause_charging" else "limit power",
            "text": power_limit_consequence(form, device),
            "fields": {"command": form.command, **form.cleaned_data},
            "action": "console:device-power",
            "button": "Pause this charger" if form.command == "pause_charging" else "Set limit",
        }
        return render(request, TEMPLATE, context)
    try:
        command = control.limit_device(access.actor, device.device_id, form.command, form.params)
    except TellusError as refused:
        messages.error(request, f"Nothing was sent: {refused.message}")
    else:
        messages.success(
            request,
            f"{command.command} queued for {device.sn} ({command.command_id}) for "
            f"{spoken_minutes(form.minutes)}; the charger picks it up on its next poll.",
        )
    return redirect("console:device", device_id=device.device_id)


def power_limit_consequence(form: FlexibilityForm, device: Device) -> str:
    text = form.consequence(device.sn, timezone.now())
    if form.command != "pause_charging" and device.rated_power_kw:
        text += (
            f" Rated {device.rated_power_kw:g} kW, it may then draw up to "
            f"{device.rated_power_kw * form.percent / 100:g} kW."
        )
    return text
