"""The Sites list (sortable, filtered, paged, exported as CSV) and a site's page: what
it is, what its chargers draw against its capacity, each charger's health and state, and
— for the operator role — limiting or pausing the whole site's charging with the same
flexibility service as the API, with the progress of the last controls sent."""

from datetime import datetime, timedelta

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from console.web.access import ConsoleAccess, console_view
from console.web.csv_export import csv_chunks, refused_export, streamed_csv
from console.web.forms.fleet import PAGE_SIZE, SiteFilterForm
from console.web.forms.flexibility import MAX_MINUTES, FlexibilityForm, posted_form
from console.web.live_paths import live_path
from console.web.roles import Role
from console.web.tables import Column, Filter, ListPage, filtered_table, list_context, render_list
from console.web.wording import spoken_minutes
from diagnostics.queries.health import DEFAULT_SITE_SORT, chargers, detailed, site_rows
from fleet.errors import TellusError
from fleet.models import Site
from fleet.queries.site_detail import SiteTotals, site_controls, site_totals
from fleet.queries.sites import summarise_sites
from fleet.services import control
from fleet.services.tenancy import get_site_for_operator

TEMPLATE = "console/sites/site.html"
LIST_TEMPLATE = "console/sites/list.html"
CSV_HEADER = [
    "site", "site_id", "status", "address", "chargers", "faulted", "offline", "degraded",
    "connectors_in_fault", "active_alerts", "capacity_kw",
]  # fmt: skip
DEVICES_SHOWN = 200  # beyond this the Chargers list, filtered by the site, pages through them
CONTROLS_SHOWN = 5
NEAR_CAPACITY = 0.9


SITES = ListPage(
    url="console:sites",
    template=LIST_TEMPLATE,
    target="site-table",
    noun="site",
    label="Sites table",
    table_class="site-table",
    columns=(
        Column("Site", cell="name", sort="name"),
        Column("Status", attr="status", sort="status"),
        Column("Chargers", cell="chargers", sort="chargers", css="num"),
        Column("Faulted", cell="faulted", sort="faulted", css="num"),
        Column("Offline", cell="offline", sort="offline", css="num"),
        Column("Degraded", cell="degraded", sort="degraded", css="num"),
        Column("Open alerts", cell="alerts", sort="alerts", css="num"),
        Column("Capacity", cell="capacity", sort="capacity", unit="kW", css="num nowrap"),
        Column("Connectors in fault", attr="connectors_in_fault", css="num"),
    ),
    filters=(
        Filter("q", "Name or address", live="input"),
        Filter("status", "Status", kind="select"),
        Filter("health", "Chargers", kind="select"),
    ),
    default_sort=DEFAULT_SITE_SORT,
    csv="console:sites-csv",
    csv_note="every site these filters select",
    no_match="Choose another status or chargers' health.",
)


@console_view()
def site_list(request: HttpRequest, access: ConsoleAccess) -> HttpResponse:
    """The operator's sites with their chargers' health; an HTMX request gets the table."""
    form = SiteFilterForm(request.GET)
    table = filtered_table(
        form, lambda: site_rows(access.operator_id, **form.query_filters()), PAGE_SIZE
    )
    return render_list(request, SITES, list_context(SITES, form, table))


@console_view()
def sites_csv(request: HttpRequest, access: ConsoleAccess) -> HttpResponse:
    """Every site the list's filters select, in its order, streamed as CSV."""
    form = SiteFilterForm(request.GET)
    if not form.is_valid():
        return refused_export(form)
    rows = site_rows(access.operator_id, **form.query_filters())
    filename = f"sites-{timezone.now():%Y-%m-%d}.csv"
    return streamed_csv(request, csv_chunks(CSV_HEADER, map(site_csv_row, rows)), filename)


def site_csv_row(site: Site) -> list[object]:
    return [
        site.name, site.site_id, site.status, site.address, site.chargers, site.faulted,
        site.offline, site.degraded, site.connectors_in_fault, site.active_alerts,
        "" if site.power_capacity is None else site.power_capacity,
    ]  # fmt: skip


@console_view()
def site_page(request: HttpRequest, access: ConsoleAccess, site_id: str) -> HttpResponse:
    site = get_site_for_operator(access.operator_id, site_id)
    context = {**page_context(access, site), "live_path": live_path("site", site.site_id)}
    return render(request, TEMPLATE, context)


def page_context(access: ConsoleAccess, site: Site) -> dict:
    return {
        **site_context(access, site),
        **controls_context(access, site),
        "may_control": access.can(Role.OPERATOR),
        "max_minutes": MAX_MINUTES,
    }


def site_context(access: ConsoleAccess, site: Site) -> dict:
    """What the live blocks `site-power` and `site-devices` show: a push over the
    WebSocket rebuilds them from this alone."""
    summary = summarise_sites([site])[0]
    totals = site_totals(site)
    shown = chargers(access.operator_id, site_id=site.site_id)[:DEVICES_SHOWN]
    devices = detailed(list(shown.values_list("pk", flat=True)))
    return {
        "site": site,
        "summary": summary,
        "counts": summary.status_summary(),
        "totals": totals,
        "power": power_use(site, totals),
        "devices": devices,
        "devices_not_shown": max(0, totals.chargers - len(devices)),
    }


def power_use(site: Site, totals: SiteTotals) -> dict:
    """Power in use against the site's installed capacity, with the words to say it."""
    used, capacity = totals.power_kw, site.power_capacity
    if not capacity:
        return {"kw": used, "capacity": capacity, "percent": None, "level": "unknown"}
    share = used / capacity
    level = "over" if share > 1 else "near" if share >= NEAR_CAPACITY else "within"
    return {
        "kw": used,
        "capacity": capacity,
        "percent": round(100 * share),
        "level": level,
        "over_by": used - capacity,
        "meter_value": min(max(used, 0.0), capacity),
        "meter_high": capacity * NEAR_CAPACITY,
    }


def controls_context(access: ConsoleAccess, site: Site) -> dict:
    """The last few flexibility controls sent to this site, each with its progress."""
    now = timezone.now()
    rows = []
    for sent in site_controls(access.operator_id, site.site_id, CONTROLS_SHOWN):
        summary = control.control_summary(access.operator_id, sent.control_id)
        duration = sent.params.get("duration")
        ends_at = sent.created_at + timedelta(seconds=duration) if duration else None
        rows.append(
            {
                "control": sent,
                "status": summary["status"],
                "chargers": summary["result"]["commands"],
                "by_status": summary["result"]["by_status"],
                "ends_at": ends_at,
                "running": ends_at is not None and ends_at > now,
            }
        )
    return {"controls": rows}


@require_POST
@console_view(needs=Role.OPERATOR)
def site_flexibility(request: HttpRequest, access: ConsoleAccess, site_id: str) -> HttpResponse:
    """Limit or pause every charger of the site. The first POST shows exactly what will
    happen; only the confirmed one calls the service, whose outcome is a message."""
    site = get_site_for_operator(access.operator_id, site_id)
    form, problem = posted_form(request.POST)
    if form is None:
        messages.error(request, f"Nothing was sent: {problem}")
        return redirect("console:site", site_id=site.site_id)
    totals = site_totals(site)
    if not totals.chargers:
        messages.error(request, f"Nothing was sent: no charger is on {site.name} yet.")
        return redirect("console:site", site_id=site.site_id)
    if request.POST.get("confirmed") != "yes":
        context = page_context(access, site)
        context["confirm"] = {
            "form": form,
            "command": form.command,
            "text": what_will_happen(form, site, totals, timezone.now()),
        }
        return render(request, TEMPLATE, context)
    try:
        created, commands = control.flexibility(
            access.actor, "site", [site.site_id], form.command, form.params
        )
    except TellusError as refused:
        messages.error(request, f"Nothing was sent: {refused.message}")
    else:
        messages.success(
            request,
            f"{describe_command(form)} sent to {len(commands)} "
            f"charger{'s' if len(commands) != 1 else ''} at {site.name} for "
            f"{spoken_minutes(form.minutes)} (control {created.control_id}). Each charger "
            "picks it up on its next poll; its progress is under Flexibility controls.",
        )
    return redirect("console:site", site_id=site.site_id)


def describe_command(form: FlexibilityForm) -> str:
    if form.command == "pause_charging":
        return "Pause"
    return f"Power limit of {form.cleaned_data['power_limit_percent']} %"


def what_will_happen(form: FlexibilityForm, site: Site, totals: SiteTotals, now: datetime) -> str:
    """The confirmation: which command, to how many chargers, for how long, and after."""
    n = totals.chargers
    each = f"Each of the {n} chargers" if n != 1 else "The one charger"
    text = form.consequence(f"{each} at {site.name}", now)
    if form.command != "pause_charging" and totals.rated_kw:
        text += (
            f" Rated {totals.rated_kw:g} kW in all, the site's chargers may then draw up to "
            f"{totals.rated_kw * form.percent / 100:g} kW"
            + (f" (site capacity {site.power_capacity:g} kW)." if site.power_capacity else ".")
        )
    return text
