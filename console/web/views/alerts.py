"""The alerts inbox: what the detectors found across the operator's chargers, one row an
alert, most severe first, with the evidence and history of each folded beneath it; for
engineers and above, acknowledge (one alert or the ticked ones with one note), resolve and
dismiss through the API's own service, and start the alert's suggested runbook."""

from datetime import datetime
from typing import Any

from django.contrib import messages
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from console.web.access import ConsoleAccess, console_view
from console.web.forms.alerts import (
    ACTION_FOR_STATUS,
    ACTIVE,
    DETECTOR_WORDS,
    FORMS,
    NOTE_MAX_LENGTH,
    PAGE_SIZE,
    AlertFilterForm,
    BulkAcknowledgeForm,
)
from console.web.live_paths import live_path
from console.web.roles import Role
from console.web.tables import Column, Filter, ListPage, list_context, page_count, wants_fragment
from console.web.times import moment_text
from console.web.wording import actor_words, form_problems
from diagnostics.contracts.alerts import MAX_SNOOZE_MINUTES
from diagnostics.models import Alert, AlertTransition, Runbook, RunbookExecution
from diagnostics.queries import alerts as alert_queries
from diagnostics.queries.faults import fault_titles
from diagnostics.queries.runbooks import runbooks, unfinished_runs
from diagnostics.services.alerts import get_alert, transition
from diagnostics.services.runbooks import engine
from fleet.errors import Conflict, NotFound, TellusError
from fleet.models import Connector
from fleet.queries.paging import paginate
from fleet.queries.sites import sites

TEMPLATE = "console/alerts/inbox.html"

# What an alert's count counts, by detector (see AlertOut.count in the API).
FACTS = {
    "repeat_fault": "fault events",
    "heartbeat_lost": "platform events",
    "reconnect_storm": "platform events",
    "firmware_cluster": "chargers",
    "over_temperature": "samples over the limit",
    "discharge_no_power": "command",
    "stuck_preparing": "preparing samples",
    "cabinet_over_temperature": "fault events",
    "cooling_fan_slow": "fault events",
    "firmware_rollout_halted": "halted rollout",
}
# Evidence the page already shows as the alert's own fields (fact_count, first/last seen).
SHOWN_ELSEWHERE = {
    "count", "first", "last", "samples", "devices", "preparing_samples", "campaign_id",
}  # fmt: skip
EVIDENCE_LABELS = {
    "connector_id": "Connector",
    "temperature": "Peak temperature (°C)",
    "limit_c": "Limit (°C)",
    "timestamp": "Peak at",
    "firmware_version": "Firmware",
    "sites": "Sites",
    "command_id": "Command",
    "accepted_at": "Accepted at",
    "requested_at": "Requested at",
    "command_status": "Command status when raised",
    "rule": "Rule",
    "fan_rpm": "Fan speed (RPM)",
    "nominal_fan_rpm": "Nominal fan speed (RPM)",
    "plugged_in": "Plugged in at",
    "last_preparing": "Last preparing sample",
    "details": "Details",
}
EVIDENCE_MAX_ROWS = 20
EVIDENCE_MAX_TEXT = 300
EVIDENCE_MAX_DEPTH = 3  # details a charger sent may nest deeper than anyone reads


ALERTS = ListPage(
    url="console:alerts",
    template=TEMPLATE,
    target="alert-list",
    noun="alert",
    label="Alerts table",
    table_class="alert-table",
    tbody_id="alert-items",  # where live.js inserts a pushed alert
    form_class="alert-filters",
    columns=(
        Column("Severity · status"),
        Column("Alert"),
        Column("Charger · site"),
        Column("Opened"),
        Column("Count · last seen"),
        Column("Runbook"),
    ),
    filters=(
        Filter("status", "Status", kind="select", default=ACTIVE),
        Filter("severity", "Severity", kind="select"),
        Filter("detector", "Kind", kind="select"),
        Filter("site", "Site", kind="select", empty="Every site"),
        Filter("fault_code", "Fault code", placeholder="F-0411", css="code-input"),
        Filter("device", "Charger (serial or id)", css="charger-input"),
    ),
    no_match="Choose another status (“All” includes closed alerts), severity, kind or site.",
    # Each alert is two rows (the alert and its evidence), rendered whole.
    row="alert-rows",
)


@console_view()
def inbox(request: HttpRequest, access: ConsoleAccess) -> HttpResponse:
    """The inbox, active alerts by default, most severe first; an HTMX request gets the
    list alone."""
    form = AlertFilterForm(request.GET)
    if wants_fragment(request):
        return render(request, f"{TEMPLATE}#alert-list", alert_list_context(access, form))
    sites_of = list(sites(access.operator_id).values_list("site_id", "name"))
    context = alert_list_context(access, form, choices={"site": sites_of})
    context["live_path"] = live_path("alerts", filters=request.GET.urlencode())
    return render(request, TEMPLATE, context)


def alert_list_context(
    access: ConsoleAccess, form: AlertFilterForm, choices: dict | None = None
) -> dict[str, Any]:
    """Everything the alert-list fragment needs, in a fixed number of queries; also what
    a push of the list (e.g. over a WebSocket) renders it from. `choices`: the filter
    form's sites, for the whole page."""
    base = _shared_context(access, form)
    if not form.is_valid():
        return list_context(ALERTS, form, {**base, "page": None, "pages": 0}, choices)
    queryset = alert_queries.alerts(access.operator_id, **form.query_filters())
    queryset = _with_relations(alert_queries.most_severe_first(queryset))
    page = paginate(queryset, form.cleaned_data["page"] or 1, PAGE_SIZE)
    _annotate(access, page.items)
    table = {
        **base,
        "page": page,
        "pages": page_count(page, PAGE_SIZE),
        "filtered": form.narrowed(),
        "pager_query": form.query_string(with_page=False),
    }
    return list_context(ALERTS, form, table, choices)


def alert_item_context(
    access: ConsoleAccess, alert_id: str, form: AlertFilterForm | None = None
) -> dict[str, Any]:
    """What the alert-item fragment needs for one of the operator's alerts (NotFound for
    any other id): after an action, or to push a newly opened alert."""
    queryset = _with_relations(alert_queries.alerts(access.operator_id))
    alert = queryset.filter(alert_id=alert_id).first()
    if alert is None:
        raise NotFound(f"Alert '{alert_id}' not found")
    _annotate(access, [alert])
    return {**_shared_context(access, form or AlertFilterForm({})), "alert": alert}


@require_POST
@console_view(needs=Role.ENGINEER)
def alert_action(
    request: HttpRequest, access: ConsoleAccess, alert_id: str, action: str
) -> HttpResponse:
    """Acknowledge, resolve or dismiss one alert with a note, through the API's service
    (history and audit with the user as actor). Without HTMX the outcome is a message on
    the inbox, filters kept; with HTMX the alert's item is re-rendered in place."""
    alert = get_alert(access.operator_id, alert_id)  # another operator's: 404
    outcome, ok = _move(access, alert, action, request.POST)
    filters = AlertFilterForm(request.GET)
    if request.htmx:
        # The alert's row and, out of band, its opened evidence row with the outcome.
        context = alert_item_context(access, alert.alert_id, filters)
        context.update(outcome=(ok, outcome), expanded=True, oob=True)
        return render(request, f"{TEMPLATE}#alert-item", context)
    (messages.success if ok else messages.error)(request, outcome)
    return _back_to_inbox(filters)


def _back_to_inbox(filters: AlertFilterForm) -> HttpResponse:
    query = filters.query_string()
    return redirect(reverse("console:alerts") + (f"?{query}" if query else ""))


@require_POST
@console_view(needs=Role.ENGINEER)
def bulk_acknowledge(request: HttpRequest, access: ConsoleAccess) -> HttpResponse:
    """Acknowledge the ticked alerts with one note. Each goes through the same service as
    one alert (row-locked, recorded, audited), on its own: those that cannot be moved (no
    longer open, or not the operator's) are named in the outcome and the rest are moved.
    Without HTMX the outcome is a message on the inbox; with HTMX the list is re-rendered
    with the outcome above it."""
    filters = AlertFilterForm(request.GET)
    form = BulkAcknowledgeForm(request.POST)
    if form.is_valid():
        ok, outcome = _acknowledge_each(access, form.cleaned_data["alert"], form)
    else:
        ok, outcome = False, f"Nothing was acknowledged: {form_problems(form)}"
    if request.htmx:
        context = alert_list_context(access, filters)
        return render(request, f"{TEMPLATE}#alert-list", {**context, "bulk_outcome": (ok, outcome)})
    (messages.success if ok else messages.error)(request, outcome)
    return _back_to_inbox(filters)


def _acknowledge_each(
    access: ConsoleAccess, alert_ids: list[str], form: BulkAcknowledgeForm
) -> tuple[bool, str]:
    """Move each alert in its own transaction; say which moved and name those that did not."""
    ours = {
        alert.alert_id: alert
        for alert in alert_queries.alerts(access.operator_id)
        .filter(alert_id__in=alert_ids)
        .select_related("device")
    }
    done, refused = [], []
    for alert_id in alert_ids:
        alert = ours.get(alert_id)
        if alert is None:
            refused.append(f"no alert “{alert_id}” is yours to acknowledge")
            continue
        try:
            transition(access.actor, alert_id, form.status, form.cleaned_data["note"])
        except Conflict:
            alert.refresh_from_db(fields=["status"])
            refused.append(f"{_named(alert)} was already {alert.status}")
        except TellusError as problem:
            refused.append(f"{_named(alert)}: {problem.message}")
        else:
            done.append(alert)
    said = []
    if done:
        count = len(done)
        said.append(f"{count} alert{'s' if count != 1 else ''} acknowledged.")
    else:
        said.append("Nothing was acknowledged.")
    if refused:
        said.append(f"Not acknowledged: {'; '.join(refused)}.")
    return not refused, " ".join(said)


def _named(alert: Alert) -> str:
    """An alert as a person names it: its title and where."""
    where = f" on {alert.device.sn}" if alert.device_id else ""
    return f"“{alert.title}”{where}"


@require_POST
@console_view(needs=Role.ENGINEER)
def start_suggested_run(request: HttpRequest, access: ConsoleAccess, alert_id: str) -> HttpResponse:
    """Start the alert's suggested runbook on its charger (and its connector, when the
    alert is about one) through the runbook engine, and open the run. When a run of that
    runbook is already under way on the charger, open that one instead."""
    alert = get_alert(access.operator_id, alert_id)  # another operator's: 404
    filters = AlertFilterForm(request.GET)
    if not alert.device_id or not alert.suggested_runbook:
        messages.error(request, f"No run was started: {_named(alert)} suggests no runbook.")
        return _back_to_inbox(filters)
    under_way = _run_under_way(access, alert)
    if under_way is not None:
        return _continue(request, under_way)
    try:
        run = engine.start_run(
            access.actor,
            alert.device,
            alert.suggested_runbook,
            _connector_of(alert),
            _command_of(alert),
        )
    except Conflict:  # started by someone else a moment ago
        under_way = _run_under_way(access, alert)
        if under_way is not None:
            return _continue(request, under_way)
        messages.error(request, "No run was started: another run got in the way; try again.")
        return _back_to_inbox(filters)
    except TellusError as refused:
        messages.error(request, f"No run was started: {refused.message}")
        return _back_to_inbox(filters)
    return redirect("console:run", run_id=run.run_id)


def _run_under_way(access: ConsoleAccess, alert: Alert) -> RunbookExecution | None:
    pair = (alert.device_id, alert.suggested_runbook)
    return unfinished_runs(access.operator_id, [pair]).get(pair)


def _continue(request: HttpRequest, run: RunbookExecution) -> HttpResponse:
    messages.info(
        request,
        f"A run of “{run.runbook.title}” was already under way on this charger "
        f"(started by {who(run.started_by)}): carry on with it here.",
    )
    return redirect("console:run", run_id=run.run_id)


def _connector_of(alert: Alert) -> int | None:
    """The connector the alert is about, when its evidence names one the charger has."""
    evidence = alert.evidence if isinstance(alert.evidence, dict) else {}
    connector = evidence.get("connector_id")
    if type(connector) is not int or not 1 <= connector <= 255:
        return None
    known = Connector.objects.filter(device_id=alert.device_id, connector_id=connector).exists()
    return connector if known else None


def _command_of(alert: Alert) -> str | None:
    """The command an alert is about (a discharge that delivered no power), for a
    runbook that follows one; None lets the run find the charger's latest."""
    runbook = Runbook.objects.filter(slug=alert.suggested_runbook).first()
    if runbook is None or not runbook.follows_command:
        return None
    evidence = alert.evidence if isinstance(alert.evidence, dict) else {}
    command_id = evidence.get("command_id")
    return command_id if isinstance(command_id, str) and 0 < len(command_id) <= 40 else None


def _move(access: ConsoleAccess, alert: Alert, action: str, data) -> tuple[str, bool]:
    """Validate the move and make it; returns what to tell the person and whether it
    happened."""
    form_class = FORMS.get(action)
    if form_class is None:
        return f"Unknown action '{action[:40]}': nothing changed.", False
    form = form_class(data)
    if not form.is_valid():
        problems = "; ".join(
            f"{field.replace('__all__', 'request').replace('_', ' ')}: {' '.join(errors)}"
            for field, errors in form.errors.items()
        )
        return f"Nothing changed: {problems}", False
    snooze = form.cleaned_data.get("snooze_minutes")
    try:
        moved = transition(
            access.actor, alert.alert_id, form.status, form.cleaned_data["note"],
            snooze_minutes=snooze,
        )  # fmt: skip
    except TellusError as refused:
        return f"Nothing changed: {refused.message}.", False
    said = f"{alert.title} is now {moved.status}"
    if moved.snoozed_until:
        said += f"; no new alert for it before {moment_text(moved.snoozed_until, 'minute')}"
    return said + ".", True


# --- Building the fragments -------------------------------------------------------------------


def _shared_context(access: ConsoleAccess, form: AlertFilterForm) -> dict[str, Any]:
    return {
        "form": form,
        "query": form.query_string(),
        "may_act": access.can(Role.ENGINEER),
        "note_max_length": NOTE_MAX_LENGTH,
        "max_snooze_minutes": MAX_SNOOZE_MINUTES,
        "active_filter": ACTIVE,
    }


def _with_relations(queryset):
    transitions = AlertTransition.objects.order_by("at", "id")
    return queryset.select_related("device", "site", "previous").prefetch_related(
        Prefetch("transitions", queryset=transitions)
    )


def _annotate(access: ConsoleAccess, alerts: list[Alert]) -> None:
    """Give each alert what the template shows beside its fields: what its detector looks
    for in words, the dictionary title of its code, its runbook's title and any run of it
    under way on the charger, its evidence as rows, its moves and who made them (one query
    each for faults, runbooks and runs, whatever the page's size)."""
    titles = fault_titles(alerts)
    slugs = {alert.suggested_runbook for alert in alerts if alert.suggested_runbook}
    runbook_titles = dict(runbooks().filter(slug__in=slugs).values_list("slug", "title"))
    pairs = {
        (alert.device_id, alert.suggested_runbook)
        for alert in alerts
        if alert.device_id and alert.suggested_runbook in runbook_titles
    }
    under_way = unfinished_runs(access.operator_id, pairs)
    for alert in alerts:
        alert.detector_words = DETECTOR_WORDS.get(alert.detector, alert.detector.replace("_", " "))
        alert.fault_title = titles.get(alert.fault_code, "")
        alert.subject_words = _subject_words(alert)
        alert.runbook_title = runbook_titles.get(alert.suggested_runbook, "")
        alert.open_run = under_way.get((alert.device_id, alert.suggested_runbook))
        if alert.open_run is not None:
            alert.open_run.started_by_words = who(alert.open_run.started_by)
        alert.facts_noun = FACTS.get(alert.detector, "facts")
        alert.evidence_rows = evidence_rows(alert.evidence)
        alert.moves = [ACTION_FOR_STATUS[status] for status in _next_statuses(alert)]
        for move in alert.transitions.all():
            move.who = who(move.by)


def _subject_words(alert: Alert) -> str:
    """What a charger-less alert is about, in words (a firmware cluster's firmware)."""
    evidence = alert.evidence if isinstance(alert.evidence, dict) else {}
    firmware = evidence.get("firmware_version")
    if alert.detector == "firmware_cluster" and isinstance(firmware, str):
        return f"Chargers on firmware {firmware[:64]}"
    return "Across chargers"


def _next_statuses(alert: Alert) -> list[str]:
    allowed = Alert.TRANSITIONS.get(alert.status, set())
    return [status for status in ACTION_FOR_STATUS if status in allowed]


def who(label: str) -> str:
    """An actor label as a person reads it (console/web/wording.py): a person's username,
    the API client, the command line or the platform."""
    return actor_words(label)


def evidence_rows(evidence: Any) -> list[dict[str, Any]]:
    """An alert's evidence as labelled rows (times as datetimes, nested details as
    `key: value` text) instead of raw JSON; long or numerous entries are cut."""
    if not isinstance(evidence, dict):
        return [{"label": "Evidence", "text": _text(evidence)}] if evidence else []
    rows = []
    known = list(EVIDENCE_LABELS)
    ordered = sorted(evidence.items(), key=lambda item: (_rank(known, item[0]), str(item[0])))
    for key, value in ordered:
        if key in SHOWN_ELSEWHERE or value in (None, "", [], {}):
            continue
        label = EVIDENCE_LABELS.get(key) or str(key).replace("_", " ").capitalize()
        at = _timestamp(value)
        row = {"label": label[:80], "at": at} if at else {"label": label[:80], "text": _text(value)}
        rows.append(row)
        if len(rows) == EVIDENCE_MAX_ROWS:
            break
    return rows


def _rank(known: list[str], key: Any) -> int:
    """Known evidence in a fixed, meaningful order (PostgreSQL keeps no key order)."""
    return known.index(key) if key in known else len(known)


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str) or "T" not in value or not 19 <= len(value) <= 40:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    return at if at.tzinfo is not None else None


def _text(value: Any, depth: int = 0) -> str:
    if isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, dict | list | tuple) and depth >= EVIDENCE_MAX_DEPTH:
        text = "…"
    elif isinstance(value, dict):
        text = "; ".join(
            f"{str(key).replace('_', ' ')}: {_text(item, depth + 1)}" for key, item in value.items()
        )
    elif isinstance(value, list | tuple):
        text = ", ".join(_text(item, depth + 1) for item in value)
    else:
        text = str(value)
    return text if len(text) <= EVIDENCE_MAX_TEXT else text[: EVIDENCE_MAX_TEXT - 1] + "…"
