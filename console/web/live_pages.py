"""The console pages that update live: what each subscribes to, which fragments of its
template each message re-renders, and how often at most (console/web/live.py serves them).
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.http import QueryDict
from django.template.loader import render_to_string

from console.web.access import ConsoleAccess
from console.web.forms.alerts import AlertFilterForm
from console.web.forms.firmware import CampaignFilterForm
from console.web.forms.fleet import DeviceFilterForm
from console.web.tables import list_context
from console.web.views import alerts as alert_views
from console.web.views import devices as device_views
from console.web.views import firmware as firmware_views
from console.web.views import fleet as fleet_views
from console.web.views import runs as run_views
from console.web.views import sites as site_views
from diagnostics.queries import alerts as alert_queries
from diagnostics.queries.overview import fleet_overview
from diagnostics.services.runbooks.runs import get_run
from fleet.live.publish import device_group, operator_group
from fleet.queries.firmware import campaign_detail
from fleet.services.tenancy import devices_of, get_device_for_operator, get_site_for_operator


@dataclass(frozen=True)
class Fragment:
    """One live part of a page: how to render it and how often at most (seconds)."""

    render: Callable[[ConsoleAccess, object, set[str]], str]  # (access, subject, keys)
    interval: float = 1.0


@dataclass(frozen=True)
class LivePage:
    # From the socket's query (`id`, `filters`): what the page shows; NotFound for
    # anything of another operator's.
    subject: Callable[[ConsoleAccess, dict[str, str]], object]
    groups: Callable[[ConsoleAccess, object], list[str]]
    fragments: dict[str, Fragment]
    triggers: dict[str, tuple[str, ...]]  # message type -> fragment names
    every: dict[str, float] = field(default_factory=dict)  # fragment -> refresh seconds
    # message type -> the field whose values the triggered fragments receive as `keys`
    keys: dict[str, str] = field(default_factory=dict)


# --- A device's page --------------------------------------------------------------------------


def _device(access: ConsoleAccess, params: dict[str, str]) -> str:
    return get_device_for_operator(access.operator_id, params["id"]).device_id


def _device_fragment(partial: str, build: Callable | None = None) -> Callable:
    def render(access: ConsoleAccess, device_id: str, keys: set[str]) -> str:
        device = get_device_for_operator(access.operator_id, device_id)
        context = {"device": device, **(build(access, device) if build else {})}
        return render_to_string(f"console/devices/device.html#{partial}", context)

    return render


DEVICE_PAGE = LivePage(
    subject=_device,
    # The operator's group too: an alert of this charger opening or closing changes what
    # its header says.
    groups=lambda access, device_id: [device_group(device_id), operator_group(access.operator_id)],
    fragments={
        "status": Fragment(_device_fragment("device-status")),
        "connectors": Fragment(_device_fragment("connectors", device_views.connectors_context)),
        "chart": Fragment(_device_fragment("chart", device_views.chart_context), interval=5.0),
        "events": Fragment(_device_fragment("events", device_views.events_context)),
        "commands": Fragment(_device_fragment("commands", device_views.commands_context)),
    },
    # What each message changes on the page: a sample moves the connector (its state may be
    # a fault, which the header tells); an event (plug-in, start, stop, fault) moves the
    # connector's state and power and is listed; a command's status (queued, accepted,
    # completed, failed, expired) redraws the command list.
    triggers={
        "telemetry.sample": ("connectors", "chart", "status"),
        # Going offline or back shows the connectors' state as unavailable or live again.
        "device.status": ("status", "connectors"),
        "device.event": ("events", "status", "connectors"),
        "command.status": ("commands",),
        "alert.changed": ("status",),
    },
    # Heartbeats are not published (one per charger every 30 s): the age shown is kept
    # true by re-reading the status now and then.
    every={"status": 15.0},
)


# --- A runbook run ------------------------------------------------------------------------------


def _run(access: ConsoleAccess, params: dict[str, str]) -> str:
    return get_run(access.operator_id, params["id"]).run_id


def _run_command(access: ConsoleAccess, run_id: str, keys: set[str]) -> str:
    context = {"command": run_views.step_command_context(get_run(access.operator_id, run_id))}
    return render_to_string(f"{run_views.TEMPLATE}#run-command", context)


def _run_groups(access: ConsoleAccess, run) -> list[str]:
    """The charger's group, while the charger is still the operator's: a run on one that
    has moved away hears nothing more of it."""
    return [device_group(run.device_id)] if run_views.in_fleet(access, run) else []


RUN_PAGE = LivePage(
    subject=_run,
    groups=lambda access, run_id: _run_groups(access, get_run(access.operator_id, run_id)),
    fragments={"command": Fragment(_run_command)},
    # The step's command answering is what an engineer on a run waits for.
    triggers={"command.status": ("command",)},
)


# --- A site's page -----------------------------------------------------------------------------


def _site(access: ConsoleAccess, params: dict[str, str]) -> str:
    return get_site_for_operator(access.operator_id, params["id"]).site_id


def _site_groups(access: ConsoleAccess, site_id: str) -> list[str]:
    placed = devices_of(access.operator_id).filter(site_id=site_id)
    devices = [device_group(device_id) for device_id in placed.values_list("device_id", flat=True)]
    return [*devices, operator_group(access.operator_id)]


def _site_fragment(partial: str, build: Callable = site_views.site_context) -> Callable:
    def render(access: ConsoleAccess, site_id: str, keys: set[str]) -> str:
        site = get_site_for_operator(access.operator_id, site_id)
        return render_to_string(f"{site_views.TEMPLATE}#{partial}", build(access, site))

    return render


SITE_PAGE = LivePage(
    subject=_site,
    groups=_site_groups,
    fragments={
        # A busy site's chargers report every few seconds each: one render for them all.
        "power": Fragment(_site_fragment("site-power"), interval=2.0),
        "devices": Fragment(_site_fragment("site-devices"), interval=2.0),
        "controls": Fragment(
            _site_fragment("site-controls", site_views.controls_context), interval=2.0
        ),
    },
    # A sample or an event (a stop, a fault, a plug-in) changes the power in use, the
    # connector states and the chargers' rows; a command's status is a control's progress.
    triggers={
        "telemetry.sample": ("power", "devices"),
        "device.status": ("devices",),
        "device.event": ("power", "devices"),
        "command.status": ("controls",),
        "alert.changed": ("devices",),
    },
    # Heartbeat ages and chargers placed since the page opened; a control's time left.
    every={"devices": 15.0, "controls": 30.0},
)


# --- The fleet page and the alerts inbox (the operator's group) ------------------------------


def _filters(access: ConsoleAccess, params: dict[str, str]) -> QueryDict:
    return QueryDict(params["filters"])


def _operator(access: ConsoleAccess, filters: QueryDict) -> list[str]:
    return [operator_group(access.operator_id)]


def _fleet_summary(access: ConsoleAccess, filters: QueryDict, keys: set[str]) -> str:
    context = {"overview": fleet_overview(access.operator_id)}
    return render_to_string("console/fleet/overview.html#fleet-summary", context)


def _fleet_table(access: ConsoleAccess, filters: QueryDict, keys: set[str]) -> str:
    context = fleet_views.device_table(access, DeviceFilterForm(filters))
    return render_to_string("console/fleet/overview.html#device-table", context)


FLEET_PAGE = LivePage(
    subject=_filters,
    groups=_operator,
    fragments={
        "summary": Fragment(_fleet_summary, interval=2.0),
        "table": Fragment(_fleet_table, interval=5.0),
    },
    triggers={"alert.changed": ("summary", "table")},
    # Chargers come and go without a message to the operator's group: counts and the
    # table are read again every so often.
    every={"summary": 15.0, "table": 15.0},
)


def _alert_items(access: ConsoleAccess, filters: QueryDict, keys: set[str]) -> str:
    """Each changed alert the page's filters still select, to insert or replace; one
    they no longer select (acknowledged on an 'open' view) is left for a reload."""
    form = AlertFilterForm(filters)
    if not form.is_valid():
        return ""
    shown = alert_queries.alerts(access.operator_id, **form.query_filters())
    pieces = []
    for alert_id in sorted(keys)[:MAX_ALERTS_PUSHED]:
        if not shown.filter(alert_id=alert_id).exists():
            continue
        context = alert_views.alert_item_context(access, alert_id, form)
        context["csrf_token"] = access.csrf_token
        pieces.append(render_to_string(f"{alert_views.TEMPLATE}#alert-item", context))
    if not pieces:
        return ""
    # Each alert is two table rows (the row and its evidence row); rows parse only inside
    # table markup, and a <tbody> is the one wrapper a <template> keeps at the top level
    # (live.js inserts or replaces the wrapper's children in the table body "alert-items").
    wrapper = '<tbody data-live-insert="alert-items" data-live-fallback="alert-list">{}</tbody>'
    return wrapper.format("".join(pieces))


MAX_ALERTS_PUSHED = 20  # a detector sweep opening hundreds: the newest few, then a reload

ALERTS_PAGE = LivePage(
    subject=_filters,
    groups=_operator,
    fragments={"items": Fragment(_alert_items)},
    triggers={"alert.changed": ("items",)},
    keys={"alert.changed": "alert_id"},
)

# --- Firmware: the campaigns list and one campaign (the operator's group) ------------------


def _campaign(access: ConsoleAccess, params: dict[str, str]) -> str:
    return campaign_detail(access.operator_id, params["id"])["campaign"].campaign_id


def _campaign_fragment(partial: str) -> Callable:
    def render(access: ConsoleAccess, campaign_id: str, keys: set[str]) -> str:
        # The operator's group carries every campaign's changes: only this one redraws
        # (no keys: a reconnect, which redraws everything).
        if keys and campaign_id not in keys:
            return ""
        detail = campaign_detail(access.operator_id, campaign_id)
        context = firmware_views.campaign_context(access, detail)
        context["csrf_token"] = access.csrf_token
        context["console"] = access
        return render_to_string(f"{firmware_views.CAMPAIGN_TEMPLATE}#{partial}", context)

    return render


CAMPAIGN_PAGE = LivePage(
    subject=_campaign,
    groups=_operator,
    fragments={
        # A stage of hundreds of chargers reporting progress: a few renders a second.
        "head": Fragment(_campaign_fragment("campaign-head"), interval=1.0),
        "stages": Fragment(_campaign_fragment("campaign-stages"), interval=1.0),
        "devices": Fragment(_campaign_fragment("campaign-devices"), interval=2.0),
    },
    triggers={"firmware_campaign.changed": ("head", "stages", "devices")},
    keys={"firmware_campaign.changed": "campaign_id"},
)


def _campaign_table(access: ConsoleAccess, filters: QueryDict, keys: set[str]) -> str:
    form = CampaignFilterForm(filters)
    context = list_context(
        firmware_views.CAMPAIGNS, form, firmware_views.campaign_table(access, form)
    )
    context["console"] = access
    return render_to_string(f"{firmware_views.LIST_TEMPLATE}#campaign-table", context)


FIRMWARE_PAGE = LivePage(
    subject=_filters,
    groups=_operator,
    fragments={"campaigns": Fragment(_campaign_table, interval=2.0)},
    triggers={"firmware_campaign.changed": ("campaigns",)},
)

PAGES: dict[str, LivePage] = {
    "device": DEVICE_PAGE,
    "site": SITE_PAGE,
    "fleet": FLEET_PAGE,
    "alerts": ALERTS_PAGE,
    "run": RUN_PAGE,
    "campaign": CAMPAIGN_PAGE,
    "firmware": FIRMWARE_PAGE,
}
