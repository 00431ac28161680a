"""The Firmware pages: the versions the operator's chargers run per model, each with the
known issues of the fault dictionary it is inside and the model's latest stable build;
the firmware campaigns (staged rollouts) with their progress; one campaign's stages and
chargers, updated live, with pause, resume and cancel; and starting a campaign, prefilled
from the page that links to it, confirmed in words before it is created.

Every change goes through the campaign service (fleet/services/firmware_campaigns/),
as the API's does; its refusals are shown as the form's errors or a message."""

from collections import Counter
from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from console.web.access import ConsoleAccess, console_view
from console.web.forms.firmware import (
    PAGE_SIZE,
    CampaignFilterForm,
    CampaignForm,
    prefill,
    stage_sizes,
)
from console.web.live_paths import live_path
from console.web.roles import Role
from console.web.tables import Column, Filter, ListPage, filtered_table, list_context, render_list
from console.web.wording import spoken_minutes
from diagnostics.queries.firmware_issues import fleet_firmware, latest_stable
from fleet.errors import TellusError
from fleet.models import CampaignDevice, FirmwareCampaign
from fleet.queries import firmware as campaign_queries
from fleet.services import firmware_campaigns
from fleet.services.tenancy import devices_of

LIST_TEMPLATE = "console/firmware/list.html"
CAMPAIGN_TEMPLATE = "console/firmware/campaign.html"
NEW_TEMPLATE = "console/firmware/new.html"
STATES = [state for state, _ in CampaignDevice.State.choices]
FINAL = {"succeeded", "failed", "skipped"}
STATE_WORDS = {
    "queued": "waiting",
    "sent": "sent",
    "downloading": "downloading",
    "upgrading": "upgrading",
    "succeeded": "upgraded",
    "failed": "failed",
    "skipped": "skipped",
}
STATUS_WORDS = {
    "running": "Running",
    "paused": "Paused",
    "halted": "Halted",
    "cancelled": "Cancelled",
    "completed": "Completed",
}
ACTIONS = {
    "pause": (
        firmware_campaigns.pause_campaign,
        "Paused: no charger is sent the upgrade until you resume.",
    ),
    "resume": (firmware_campaigns.resume_campaign, "Resumed: the current stage carries on."),
    "cancel": (
        firmware_campaigns.cancel_campaign,
        "Cancelled: no further charger is sent the upgrade.",
    ),
}
CHARGERS_SHOWN = 500  # a campaign page lists this many chargers; the counts cover them all
SITES_NAMED = 3


CAMPAIGNS = ListPage(
    url="console:firmware",
    template=LIST_TEMPLATE,
    target="campaign-table",
    noun="campaign",
    label="Firmware campaigns table",
    table_class="campaign-table",
    columns=(
        Column("Campaign", cell="name", row_header=True),
        Column("Target", attr="target_version"),
        Column("Status", cell="status"),
        Column("Progress", cell="progress"),
        Column("Started", cell="started"),
    ),
    filters=(Filter("status", "Status", kind="select"),),
    no_match="Choose another status.",
)


# --- The Firmware page -------------------------------------------------------------------


@console_view()
def firmware_page(request: HttpRequest, access: ConsoleAccess) -> HttpResponse:
    """Versions per model with their known issues, then the campaigns (filtered by status;
    an HTMX request gets the campaigns' table alone)."""
    form = CampaignFilterForm(request.GET)
    context = list_context(CAMPAIGNS, form, campaign_table(access, form))
    context["live_path"] = live_path("firmware", filters=request.GET.urlencode())
    if not getattr(request, "htmx", False):
        context["models"] = fleet_firmware(access.operator_id)
        context["may_start"] = access.can(Role.OPERATOR)
    return render_list(request, CAMPAIGNS, context)


def campaign_table(access: ConsoleAccess, form: CampaignFilterForm) -> dict[str, Any]:
    """The campaigns' page of rows, each with its progress over all its chargers (one
    grouped query for the page)."""
    table = filtered_table(
        form,
        lambda: campaign_queries.campaigns(access.operator_id, **form.query_filters()),
        PAGE_SIZE,
    )
    page = table["page"]
    if page is not None and page.items:
        counts: dict[str, Counter] = {}
        rows = (
            CampaignDevice.objects.filter(campaign__in=[c.campaign_id for c in page.items])
            .order_by()
            .values_list("campaign_id", "state")
        )
        for campaign_id, state in rows:
            counts.setdefault(campaign_id, Counter())[state] += 1
        for campaign in page.items:
            campaign.progress = progress(counts.get(campaign.campaign_id, Counter()))
            campaign.status_words = STATUS_WORDS.get(campaign.status, campaign.status)
    return table


def progress(counts: Counter) -> dict[str, Any]:
    """Counts per state, in words and as a stacked bar's segments (percent of the total)."""
    total = sum(counts.values())
    segments, start = [], 0.0
    for state in ("succeeded", "failed", "skipped", "upgrading", "downloading", "sent"):
        n = counts.get(state, 0)
        if n:
            width = 100 * n / total
            segments.append({"state": state, "x": round(start, 2), "width": round(width, 2)})
            start += width
    words = ", ".join(
        f"{counts[state]} {STATE_WORDS[state]}" for state in STATES if counts.get(state)
    )
    done = sum(counts.get(state, 0) for state in FINAL)
    return {
        "total": total,
        "done": done,
        "succeeded": counts.get("succeeded", 0),
        "failed": counts.get("failed", 0),
        "counts": [(state, STATE_WORDS[state], counts.get(state, 0)) for state in STATES],
        "words": words or "no chargers",
        "segments": segments,
    }


# --- A campaign ------------------------------------------------------------------------------


@console_view()
def campaign_page(request: HttpRequest, access: ConsoleAccess, campaign_id: str) -> HttpResponse:
    detail = campaign_queries.campaign_detail(access.operator_id, campaign_id)  # not ours: 404
    context = campaign_context(access, detail)
    context["live_path"] = live_path("campaign", detail["campaign"].campaign_id)
    return render(request, CAMPAIGN_TEMPLATE, context)


def campaign_context(access: ConsoleAccess, detail: dict[str, Any]) -> dict[str, Any]:
    """Everything the campaign page and its live fragments show, from the campaign's
    detail (fleet/queries/firmware.py): the header (status, halt reason and what to do),
    the stages with their progress, and the chargers' rows."""
    campaign: FirmwareCampaign = detail["campaign"]
    finished = campaign.status in ("completed", "cancelled")
    stages = [
        {
            "number": stage["index"] + 1,
            "percent": stage["percent"],
            "progress": progress(Counter(stage["counts"])),
            "started_at": stage.get("started_at"),
            "finished_at": stage.get("finished_at"),
            "current": stage["index"] == campaign.current_stage and not finished,
            "reached": stage["index"] <= campaign.current_stage,
        }
        for stage in detail["stages"]
    ]
    rows = [
        {**row, "state_words": STATE_WORDS.get(row["state"], row["state"])}
        for row in detail["devices"][:CHARGERS_SHOWN]
    ]
    # A charger that left the fleet keeps its row, without a link to a page it no longer has.
    in_fleet = set(
        devices_of(access.operator_id)
        .filter(device_id__in=[row["device_id"] for row in rows])
        .values_list("device_id", flat=True)
    )
    for row in rows:
        row["in_fleet"] = row["device_id"] in in_fleet
    whole = progress(Counter(detail["counts"]))
    return {
        "campaign": campaign,
        "status_words": STATUS_WORDS.get(campaign.status, campaign.status),
        "stages": stages,
        "whole": whole,
        "rows": rows,
        "rows_left_out": max(0, len(detail["devices"]) - len(rows)),
        "halt_words": halt_words(campaign.halt_if or {}),
        "may_act": access.can(Role.OPERATOR),
        "can_pause": campaign.status == "running",
        "can_resume": campaign.status in ("paused", "halted"),
        "can_cancel": campaign.status in ("running", "paused", "halted"),
        "health_window": spoken_minutes(campaign.health_window_minutes or 0) or "no wait",
        "next_step": next_step(campaign, detail["stages"]),
    }


def next_step(campaign: FirmwareCampaign, stages: list[dict[str, Any]]) -> dict[str, Any] | None:
    """What the campaign does next, and when, in words ({text, at}); None once it ended
    or while halted (the halt box says what to do)."""
    if campaign.status == "paused":
        return {"text": "Paused: no upgrade is sent until you resume.", "at": None}
    if campaign.status != "running" or campaign.current_stage >= len(stages):
        return None
    stage = stages[campaign.current_stage]
    number = stage["index"] + 1
    waiting = sum(
        count for state, count in stage["counts"].items() if state not in CampaignDevice.FINAL
    )
    if waiting:
        return {
            "text": f"Waiting for {waiting} charger{'s' if waiting != 1 else ''} of stage "
            f"{number} to finish upgrading; a charger that is offline gets the upgrade when "
            "it is back.",
            "at": None,
        }
    done = stage["finished_at"] or stage["started_at"]
    if done is None:
        return None
    at = done + timedelta(minutes=campaign.health_window_minutes or 0)
    if number == len(stages):
        text = "The campaign completes at"
    else:
        text = f"Stage {number + 1} starts at"
    return {"text": text, "at": at, "after": "unless a halt rule is met first."}


def halt_words(rules: dict) -> str:
    """The halt rules as a sentence ("Halt if more than 25 % fail, or if F-0421 is
    reported more than 2 times as often as before the upgrade.")."""
    parts = []
    failed = rules.get("failed_percent")
    if failed is not None:
        parts.append(f"more than {failed:g} % fail")
    codes = rules.get("fault_codes") or []
    if codes:
        factor = rules.get("fault_rate_factor") or 2
        named = " or ".join(codes)
        parts.append(
            f"upgraded chargers report {named} more than {factor:g} times as often as they "
            "did before (any report, if they had none before)"
        )
    if not parts:
        return "No halt rules: only you stop it."
    return "Halt if " + ", or if ".join(parts) + "."


@require_POST
@console_view(needs=Role.OPERATOR)
def campaign_action(
    request: HttpRequest, access: ConsoleAccess, campaign_id: str, action: str
) -> HttpResponse:
    """Pause, resume or cancel, through the service (row-locked there: the second of two
    people acting at once is told what happened first). Cancel asks for a confirmation."""
    detail = campaign_queries.campaign_detail(access.operator_id, campaign_id)
    campaign = detail["campaign"]
    if action not in ACTIONS:
        messages.error(request, "Nothing was changed: choose pause, resume or cancel.")
        return redirect("console:firmware-campaign", campaign_id=campaign.campaign_id)
    if action == "cancel" and request.POST.get("confirmed") != "yes":
        context = campaign_context(access, detail)
        context.update(live_path=live_path("campaign", campaign.campaign_id), confirm_cancel=True)
        return render(request, CAMPAIGN_TEMPLATE, context)
    change, done = ACTIONS[action]
    try:
        change(access.actor, campaign.campaign_id)
    except TellusError as refused:
        messages.error(request, f"Nothing was changed: {refused.message}")
    else:
        messages.success(request, done)
    return redirect("console:firmware-campaign", campaign_id=campaign.campaign_id)


# --- Starting a campaign -----------------------------------------------------------------------


# Below this many chargers the start form proposes one stage: 10 %, 50 %, 100 % of one
# or two chargers leaves stages with nobody in them.
FEW_FOR_STAGES = 3


@console_view(needs=Role.OPERATOR)
def campaign_new(request: HttpRequest, access: ConsoleAccess) -> HttpResponse:
    """GET: the form, prefilled from the link's query. POST: the confirmation in words;
    POST with confirmed=yes: the campaign is created and its page opens. A refusal (the
    form's or the service's) shows the form again with everything typed and why."""
    if request.method != "POST":
        initial = prefill(request.GET, latest_stable)
        if initial.get("model") and initial.get("from_versions"):
            # Staging fewer chargers than stages leaves empty stages to wait through.
            versions = [v.strip() for v in initial["from_versions"].split(",") if v.strip()]
            count = (
                devices_of(access.operator_id)
                .filter(model=initial["model"], firmware_version__in=versions)
                .count()
            )
            if count < FEW_FOR_STAGES:
                initial["stages"] = "100"
        form = CampaignForm(initial=initial, operator_id=access.operator_id)
        return render(request, NEW_TEMPLATE, new_context(access, form))
    form = CampaignForm(request.POST, operator_id=access.operator_id)
    if request.POST.get("edit"):  # back from the confirmation to change something
        return render(request, NEW_TEMPLATE, {**new_context(access, form), "editing": True})
    if not form.is_valid():
        return render(request, NEW_TEMPLATE, new_context(access, form))
    if request.POST.get("confirmed") != "yes":
        context = new_context(access, form)
        context["confirm"] = {"text": plan_words(form), "chargers": len(form.chargers)}
        return render(request, NEW_TEMPLATE, context)
    try:
        campaign = firmware_campaigns.create_campaign(access.actor, **form.service_arguments())
    except TellusError as refused:  # invalid, a charger not found, held by another campaign
        form.add_error(field_of(refused), refused.message)
    else:
        messages.success(request, f"Campaign “{campaign.name}” started.")
        return redirect("console:firmware-campaign", campaign_id=campaign.campaign_id)
    return render(request, NEW_TEMPLATE, new_context(access, form), status=200)


def field_of(refused: TellusError) -> str | None:
    """The form field a refusal of the service is about ("halt_if.failed_percent" →
    halt_failed_percent); None (the form as a whole) for anything else."""
    field = str((refused.details or {}).get("field") or "")
    return FIELD_OF.get(field, FIELD_OF.get(field.split(".")[0]))


# The service's parameter names, as the form's fields.
FIELD_OF = {
    "halt_if.failed_percent": "halt_failed_percent",
    "halt_if.fault_codes": "halt_fault_codes",
    "halt_if.fault_rate_factor": "halt_factor",
    "name": "name",
    "target_version": "target_version",
    "package_url": "package_url",
    "device_ids": "devices",
    "selection": "from_versions",
    "stages": "stages",
    "health_window_minutes": "health_window_minutes",
    "halt_if": "halt_failed_percent",
}


def new_context(access: ConsoleAccess, form: CampaignForm) -> dict[str, Any]:
    models = sorted({m.model for m in fleet_firmware(access.operator_id)})
    return {"form": form, "models": models, "latest": {m: latest_stable(m) for m in models}}


def plan_words(form: CampaignForm) -> str:
    """What will happen, in words: "Upgrade 3 chargers (TP-DC180 on 3.0.1, at 3 sites:
    Depot, Yard and Harbour) to 3.1.0 to fix F-0421 in 1 stage: all 3 now. Halt if …"."""
    data = form.cleaned_data
    chargers = form.chargers
    n = len(chargers)
    models = Counter(device.model for device in chargers)
    versions = sorted({device.firmware_version for device in chargers})
    sites = sorted({device.site.name for device in chargers if device.site_id})
    what = ", ".join(f"{model}" for model in sorted(models))
    where = _sites_words(sites)
    subject = f"{n} charger{'s' if n != 1 else ''} ({what} on {_listed(versions)}{where})"
    fix = f" to fix {data['fault_code']}" if data.get("fault_code") else ""
    stages = data["stages"]
    sizes = stage_sizes(stages, n)
    count = len(stages)
    window = spoken_minutes(data["health_window_minutes"])
    after = f"once the stage before has been healthy for {window}"
    steps = []
    for index, (percent, size) in enumerate(zip(stages, sizes, strict=True)):
        if index == 0:
            steps.append(f"all {n} now" if percent == 100 else f"{size} now ({percent} %)")
            continue
        if size == 0:
            steps.append(f"then none more at {percent} % (already reached)")
        elif percent == 100:
            steps.append(f"then the remaining {size} {after}")
        else:
            steps.append(f"then {size} more ({percent} %) {after}")
    plan = "; ".join(steps)
    return (
        f"Upgrade {subject} to {data['target_version'].strip()}{fix} in {count} "
        f"stage{'s' if count != 1 else ''}: {plan}. {halt_words(form.halt_if)} "
        f"Each charger downloads the build from {data['package_url']}."
    )


def _sites_words(sites: list[str]) -> str:
    if not sites:
        return ""
    if len(sites) == 1:
        return f", at {sites[0]}"
    shown = sites[:SITES_NAMED]
    more = len(sites) - len(shown)
    names = _listed(shown) if not more else ", ".join(shown) + f" and {more} more"
    return f", at {len(sites)} sites: {names}"


def _listed(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + f" and {words[-1]}"
