"""A charger's page: identity and firmware, live connector state, the last 15 minutes of
power, its events, commands, records and upgrades, suggested runbooks, and the remote
actions the viewer's role allows."""

from collections import defaultdict
from datetime import timedelta

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from console.web.access import ConsoleAccess, console_view
from console.web.charts import power_chart
from console.web.forms.control import DAYS, FORMS
from console.web.live_paths import live_path
from console.web.roles import Role
from diagnostics.queries.faults import fault_titles
from diagnostics.services.firmware_review import firmware_notes
from diagnostics.services.runbooks import suggest
from fleet.errors import TellusError
from fleet.models import Device
from fleet.queries import commands as command_queries
from fleet.queries import devices as device_queries
from fleet.queries.records import charging_records
from fleet.services import control
from fleet.services.tenancy import get_device_for_operator

CHART_MINUTES = 15
SERVICES = {
    "start": control.start_charging,
    "stop": control.stop_charging,
    "discharge": control.discharge,
    "schedule": control.set_schedule,
}


@console_view()
def device_page(request: HttpRequest, access: ConsoleAccess, device_id: str) -> HttpResponse:
    device = get_device_for_operator(access.operator_id, device_id)
    context = {"device": device, "may_control": access.can(Role.OPERATOR)}
    for build in FRAGMENTS.values():
        context.update(build(access, device))
    context.update(
        firmware_notes=firmware_notes(device),
        records=list(charging_records(access.operator_id, device_id=device_id)[:10]),
        upgrades=list(device.firmware_updates.order_by("-created_at")[:3]),
        runbooks=suggest(device)[:5],
        live_path=live_path("device", device.device_id),
        schedule_days=DAYS,
    )
    return render(request, "console/devices/device.html", context)


# The page's live parts: what each fragment needs, built apart so the live consumer can
# render one fragment without the rest of the page.


def connectors_context(access: ConsoleAccess, device: Device) -> dict:
    return {"connectors": list(device.connectors.order_by("connector_id"))}


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
        problems = "; ".join(
            f"{field.replace('__all__', 'request')}: {' '.join(errors)}"
            for field, errors in form.errors.items()
        )
        messages.error(request, f"Nothing was sent: {problems}")
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
