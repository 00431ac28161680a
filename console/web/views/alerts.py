"""The alerts inbox: what the detectors found across the operator's chargers, with the
evidence and history of each, and (for engineers and above) acknowledge, resolve and
dismiss through the API's own service."""

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
    FORMS,
    NOTE_MAX_LENGTH,
    PAGE_SIZE,
    AlertFilterForm,
)
from console.web.live_paths import live_path
from console.web.roles import Role
from console.web.tables import page_count, wants_fragment
from diagnostics.models import Alert, AlertTransition
from diagnostics.queries import alerts as alert_queries
from diagnostics.queries.faults import fault_titles
from diagnostics.queries.runbooks import runbooks
from diagnostics.services.alerts import MAX_SNOOZE_MINUTES, get_alert, transition
from fleet.errors import NotFound, TellusError
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
}
# Evidence the page already shows as the alert's own fields (fact_count, first/last seen).
SHOWN_ELSEWHERE = {"count", "first", "last", "samples", "devices", "preparing_samples"}
EVIDENCE_LABELS = {
    "connector_id": "Connector",
    "temperature": "Peak temperature (°C)",
    "limit_c": "Limit (°C)",
    "timestamp": "Peak at",
    "firmware_version": "Firmware",
    "sites": "Sites",
    "command_id": "Command",
    "accepted_at": "Accepted at",
    "plugged_in": "Plugged in at",
    "last_preparing": "Last preparing sample",
    "details": "Details",
}
EVIDENCE_MAX_ROWS = 20
EVIDENCE_MAX_TEXT = 300
EVIDENCE_MAX_DEPTH = 3  # details a charger sent may nest deeper than anyone reads


@console_view()
def inbox(request: HttpRequest, access: ConsoleAccess) -> HttpResponse:
    """The inbox, active alerts first by default; an HTMX request gets the list alone."""
    form = AlertFilterForm(request.GET)
    context = alert_list_context(access, form)
    if wants_fragment(request):
        return render(request, f"{TEMPLATE}#alert-list", context)
    context["site_choices"] = list(sites(access.operator_id).values_list("site_id", "name"))
    context["live_path"] = live_path("alerts", filters=request.GET.urlencode())
    return render(request, TEMPLATE, context)


def alert_list_context(access: ConsoleAccess, form: AlertFilterForm) -> dict[str, Any]:
    """Everything the alert-list fragment needs, in a fixed number of queries; also what
    a push of the list (e.g. over a WebSocket) renders it from."""
    base = _shared_context(access, form)
    if not form.is_valid():
        return {**base, "page": None, "pages": 0}
    queryset = _with_relations(alert_queries.alerts(access.operator_id, **form.query_filters()))
    page = paginate(queryset, form.cleaned_data["page"] or 1, PAGE_SIZE)
    _annotate(page.items)
    return {
        **base,
        "page": page,
        "pages": page_count(page, PAGE_SIZE),
        "narrowed": form.narrowed(),
        "filter_query": form.query_string(with_page=False),
    }


def alert_item_context(
    access: ConsoleAccess, alert_id: str, form: AlertFilterForm | None = None
) -> dict[str, Any]:
    """What the alert-item fragment needs for one of the operator's alerts (NotFound for
    any other id): after an action, or to push a newly opened alert."""
    queryset = _with_relations(alert_queries.alerts(access.operator_id))
    alert = queryset.filter(alert_id=alert_id).first()
    if alert is None:
        raise NotFound(f"Alert '{alert_id}' not found")
    _annotate([alert])
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
        context = alert_item_context(access, alert.alert_id, filters)
        return render(request, f"{TEMPLATE}#alert-item", {**context, "outcome": (ok, outcome)})
    (messages.success if ok else messages.error)(request, outcome)
    query = filters.query_string()
    return redirect(reverse("console:alerts") + (f"?{query}" if query else ""))


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
        said += f"; no new alert for it before {moved.snoozed_until:%Y-%m-%d %H:%M} UTC"
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
    return queryset.select_related("device", "site").prefetch_related(
        Prefetch("transitions", queryset=transitions)
    )


def _annotate(alerts: list[Alert]) -> None:
    """Give each alert what the template shows beside its fields: the dictionary title of
    its code, its runbook's title, its evidence as rows, its moves and who made them (one
    query each for faults and runbooks, whatever the page's size)."""
    titles = fault_titles(alerts)
    slugs = {alert.suggested_runbook for alert in alerts if alert.suggested_runbook}
    runbook_titles = dict(runbooks().filter(slug__in=slugs).values_list("slug", "title"))
    for alert in alerts:
        alert.fault_title = titles.get(alert.fault_code, "")
        alert.runbook_title = runbook_titles.get(alert.suggested_runbook, "")
        alert.facts_noun = FACTS.get(alert.detector, "facts")
        alert.evidence_rows = evidence_rows(alert.evidence)
        alert.moves = [ACTION_FOR_STATUS[status] for status in _next_statuses(alert)]
        for move in alert.transitions.all():
            move.who = who(move.by)


def _next_statuses(alert: Alert) -> list[str]:
    allowed = Alert.TRANSITIONS.get(alert.status, set())
    return [status for status in ACTION_FOR_STATUS if status in allowed]


def who(label: str) -> str:
    """An actor label as a person reads it: the user's name, an API client, a detector."""
    kind, _, name = label.partition(":")
    if kind == "user":
        return name
    if kind == "client":
        return f"API client {name}"
    if kind == "cli":
        return f"{name} (command line)"
    return label or "the platform"


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
