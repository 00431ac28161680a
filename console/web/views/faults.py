"""The fault dictionary in the console: every code with how often the operator's chargers
raised it lately, one entry with its live fleet context (which chargers, on which
firmware, the alerts and runbooks), and the codes the chargers report that the dictionary
lacks. The dictionary is shared by every operator: the console only reads it, and
platform staff edit it in the Django admin."""

import heapq
import re
from collections import Counter
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib.admin.utils import quote
from django.db.models import Count, Max, Min
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from console.web.access import ConsoleAccess, console_view
from console.web.charger_text import json_text, message_text
from console.web.forms.faults import PAGE_SIZE, FaultFilterForm, UndocumentedReportForm
from console.web.roles import Role
from console.web.tables import Column, Filter, ListPage, filtered_table, list_context, render_list
from console.web.version_chart import version_chart
from console.web.wording import threshold_words
from diagnostics.models import FaultCode
from diagnostics.queries import faults as fault_queries
from diagnostics.queries.fault_context import (
    active_alerts_for_code,
    fault_seen_in_fleet,
    raised_by,
    runbooks_for_code,
)
from diagnostics.queries.firmware_issues import upgrade_offers
from diagnostics.queries.undocumented import (
    TELEMETRY_PER_SIDE,
    TELEMETRY_WINDOW,
    Occurrence,
    code_events,
    latest_events,
    occurrences,
)
from diagnostics.services.faults import device_affected, firmware_distribution, undocumented_codes
from fleet.models import Device

LIST = "console/faults/list.html"
ENTRY = "console/faults/entry.html"
UNDOCUMENTED = "console/faults/undocumented.html"
REPORT = "console/faults/undocumented_report.html"
RECENT_DAYS = 7
WINDOW_DAYS = 30
DEVICES_SHOWN = 25
ALERTS_SHOWN = 10
VERSIONS_LISTED = 200  # the firmware numbers' table; the chart draws fewer
# Undocumented codes: reported within this many days (events are kept for good, so an
# unbounded look back would grow with every year), each with its latest chargers.
UNDOCUMENTED_DAYS = 90
UNDOCUMENTED_SHOWN = 100
UNDOCUMENTED_DEVICES_SHOWN = 10
# An undocumented code's report: its occurrences this many a page, newest first, each
# charger-sent value shown up to a bound (the JSON download carries them whole).
REPORTS_PER_PAGE = 20
MESSAGE_SHOWN = 500
PAYLOAD_SHOWN = 4000
LATEST_MESSAGE_SHOWN = 120
CODE_MAX_LENGTH = FaultCode._meta.get_field("code").max_length


FAULTS = ListPage(
    url="console:faults",
    template=LIST,
    target="fault-table",
    noun="code",
    label="Fault codes table",
    table_class="fault-table",
    columns=(
        Column("Code", cell="code", row_header=True),
        Column("Title", cell="title"),
        Column("Severity", cell="severity"),
        Column("Category", attr="category_label"),
        Column("Source", attr="source"),
        Column(f"Reports, last {RECENT_DAYS} days", cell="recent", css="number"),
    ),
    filters=(
        Filter("q", "Code or words", placeholder="F-0421, contactor…", live="input"),
        Filter("category", "Category", kind="select"),
        Filter("severity", "Severity", kind="select"),
    ),
    no_match=(
        "Search for fewer or other words (a code such as F-0421, or a word of its title, "
        "description or symptoms), or choose another category or severity. A code your "
        "chargers send that is not in the dictionary at all is listed under undocumented "
        "codes (linked above)."
    ),
)


@console_view()
def fault_list(request: HttpRequest, access: ConsoleAccess) -> HttpResponse:
    """The dictionary, filtered and searched; an HTMX request gets the table alone."""
    categories, severities = fault_queries.fault_filter_values()
    form = FaultFilterForm(request.GET, categories=categories, severities=severities)
    return render_list(request, FAULTS, list_context(FAULTS, form, fault_table(access, form)))


def fault_table(access: ConsoleAccess, form: FaultFilterForm) -> dict[str, Any]:
    """The table's rows, each with how often the operator's chargers raised its code in
    the last RECENT_DAYS days (one grouped query for the page)."""
    table = filtered_table(
        form, lambda: fault_queries.fault_codes(**form.query_filters()), PAGE_SIZE
    )
    page = table["page"]
    if page is not None and page.items:
        since = timezone.now() - timedelta(days=RECENT_DAYS)
        counts = fault_queries.fault_counts(
            access.operator_id, [fault.code for fault in page.items], since
        )
        for fault in page.items:
            fault.recent = counts.get(fault.code, 0)
            fault.category_label = category_label(fault.category)
    return {**table, "recent_days": RECENT_DAYS}


def category_label(category: str) -> str:
    return category.replace("_", " ")


@console_view()
def fault_entry(request: HttpRequest, access: ConsoleAccess, code: str) -> HttpResponse:
    """One entry and what it means for the operator's fleet now. A code the dictionary
    lacks is not found; if the operator's chargers reported it, the page says so and
    points to the undocumented codes."""
    fault = FaultCode.objects.filter(code=code).first() if plausible_code(code) else None
    if fault is None:
        seen = plausible_code(code) and fault_seen_in_fleet(access.operator_id, code)
        context = {"missing_code": code[:CODE_MAX_LENGTH], "seen_in_fleet": seen}
        return render(request, ENTRY, context, status=404)
    return render(request, ENTRY, entry_context(access, fault, request.user))


def plausible_code(code: str) -> bool:
    """Whether `code` could be stored at all: within the column's length, without control
    characters (a NUL never reaches the database)."""
    return 0 < len(code) <= CODE_MAX_LENGTH and code.isprintable()


def entry_context(access: ConsoleAccess, fault: FaultCode, user) -> dict[str, Any]:
    """The entry and its fleet context: one read of the chargers that raised the code in
    the last WINDOW_DAYS days gives the counts, the busiest chargers and the firmware."""
    now = timezone.now()
    rows = raised_by(
        access.operator_id,
        fault.code,
        since=now - timedelta(days=WINDOW_DAYS),
        recent_since=now - timedelta(days=RECENT_DAYS),
    )
    with_issues = bool(fault.known_firmware_issues)
    firmware = Counter((row.firmware_version, row.model) for row in rows)
    distribution = firmware_distribution(
        fault, [(version, model, count) for (version, model), count in firmware.items()]
    )
    busiest = heapq.nlargest(DEVICES_SHOWN, rows, key=lambda row: (row.count, row.last_seen_epoch))
    devices = [
        {"row": row, "affected": device_affected(fault, row.firmware_version, row.model)}
        for row in busiest
    ]
    alerts = list(active_alerts_for_code(access.operator_id, fault.code)[: ALERTS_SHOWN + 1])
    return {
        "fault": fault,
        "category_label": category_label(fault.category),
        "thresholds": [threshold_words(k, v) for k, v in (fault.thresholds or {}).items()],
        "recent_days": RECENT_DAYS,
        "window_days": WINDOW_DAYS,
        "totals": {
            "recent_devices": sum(1 for row in rows if row.recent),
            "recent_events": sum(row.recent for row in rows),
            "devices": len(rows),
            "events": sum(row.count for row in rows),
        },
        "devices": devices,
        "devices_left_out": max(0, len(rows) - DEVICES_SHOWN),
        "distribution": distribution[:VERSIONS_LISTED],
        "versions_left_out": max(0, len(distribution) - VERSIONS_LISTED),
        "chart": version_chart(distribution, with_issues=with_issues),
        "with_issues": with_issues,
        "alerts": alerts[:ALERTS_SHOWN],
        "more_alerts": len(alerts) > ALERTS_SHOWN,
        "runbooks": [
            {
                "slug": runbook.slug,
                "title": runbook.title,
                "url": reverse("console:runbook", args=[runbook.slug]),
            }
            for runbook in runbooks_for_code(fault.code)
        ],
        "edit_url": admin_change_url(fault, user),
        "upgrades": upgrade_links(access, fault) if with_issues else [],
    }


def upgrade_links(access: ConsoleAccess, fault: FaultCode) -> list[dict[str, Any]]:
    """For the operator role: "Upgrade the 3 chargers on 3.0.1 to 3.1.0", per model whose
    chargers run a version inside one of the code's known issues, each a link to the
    campaign form prefilled with the model, the versions, the target and the code."""
    if not access.can(Role.OPERATOR):
        return []
    links = []
    for offer in upgrade_offers(access.operator_id, fault.code):
        query = [("model", offer.model), ("target_version", offer.target)]
        query += [("from_version", version) for version in offer.versions]
        query.append(("fault_code", fault.code))
        links.append(
            {
                "offer": offer,
                "url": f"{reverse('console:firmware-new')}?{urlencode(query)}",
            }
        )
    return links


def admin_change_url(fault: FaultCode, user) -> str | None:
    """The entry's admin page, for platform staff allowed to change it; the dictionary
    is every operator's, so no operator's console role may edit it."""
    if not (user.is_staff and user.has_perm("diagnostics.change_faultcode")):
        return None
    return reverse("admin:diagnostics_faultcode_change", args=[quote(fault.code)])


@console_view()
def undocumented(request: HttpRequest, access: ConsoleAccess) -> HttpResponse:
    """Codes the operator's chargers reported lately that the dictionary lacks, each with
    its counts, latest chargers and latest message, and a link to its report for Tellus;
    staff get a link to start the entry."""
    since = timezone.now() - timedelta(days=UNDOCUMENTED_DAYS)
    found = undocumented_codes(
        access.operator_id, since=since, max_devices=UNDOCUMENTED_DEVICES_SHOWN
    )
    rows = found[:UNDOCUMENTED_SHOWN]
    listed = {device_id for row in rows for device_id in row["devices"]}
    serials = dict(
        Device.objects.filter(
            device_id__in=listed, site__operator_id=access.operator_id
        ).values_list("device_id", "sn")
    )
    latest = latest_events(access.operator_id, [row["fault_code"] for row in rows], since, 1)
    may_add = request.user.is_staff and request.user.has_perm("diagnostics.add_faultcode")
    add_url = reverse("admin:diagnostics_faultcode_add")
    for row in rows:
        row["chargers"] = [
            (device_id, serials[device_id]) for device_id in row["devices"] if device_id in serials
        ]
        row["add_url"] = f"{add_url}?{urlencode({'code': row['fault_code']})}" if may_add else ""
        row["report_url"] = report_url(row["fault_code"])
        newest = latest.get(row["fault_code"])
        payload = newest[0].data if newest and isinstance(newest[0].data, dict) else {}
        row["latest_message"] = message_text(
            payload.get("fault_message"), LATEST_MESSAGE_SHOWN, "the code's report has it whole"
        )
    context = {
        "rows": rows,
        "codes_left_out": len(found) - len(rows),
        "days": UNDOCUMENTED_DAYS,
        "devices_shown": UNDOCUMENTED_DEVICES_SHOWN,
    }
    return render(request, UNDOCUMENTED, context)


@console_view()
def undocumented_report(request: HttpRequest, access: ConsoleAccess, code: str) -> HttpResponse:
    """One undocumented code as Tellus asks for it: the time range of its reports in the
    last UNDOCUMENTED_DAYS days, the chargers that sent it, and its reports newest first,
    REPORTS_PER_PAGE a page, each with its payload, the charger's firmware at that moment
    and the telemetry around it; the same as a JSON file to send. A code the dictionary
    knows goes to its entry; one the operator's chargers did not report is not found."""
    if not plausible_code(code):
        return render(request, REPORT, {"missing_code": code[:CODE_MAX_LENGTH]}, status=404)
    if FaultCode.objects.filter(code=code).exists():
        return redirect("console:fault", code)
    now = timezone.now()
    since = now - timedelta(days=UNDOCUMENTED_DAYS)
    events = code_events(access.operator_id, code, since)
    span = events.order_by().aggregate(
        count=Count("*"), first_seen=Min("timestamp"), last_seen=Max("timestamp")
    )
    if not span["count"]:
        return render(
            request, REPORT, {"missing_code": code, "days": UNDOCUMENTED_DAYS}, status=404
        )
    form = UndocumentedReportForm(request.GET)
    pages = max(1, -(-span["count"] // REPORTS_PER_PAGE))
    number = min(form.page_number(), pages)
    offset = (number - 1) * REPORTS_PER_PAGE
    reports = occurrences(access.operator_id, events[offset : offset + REPORTS_PER_PAGE])
    chargers = raised_by(
        access.operator_id, code, since=since, recent_since=now - timedelta(days=RECENT_DAYS)
    )
    chargers.sort(key=lambda row: (-row.count, -row.last_seen_epoch))
    if form.wants_json():
        return report_json(code, span, chargers, reports, number, pages)
    context = {
        "code": code,
        "span": span,
        "days": UNDOCUMENTED_DAYS,
        "chargers": chargers[:DEVICES_SHOWN],
        "chargers_left_out": max(0, len(chargers) - DEVICES_SHOWN),
        "reports": [report_view(report) for report in reports],
        "page": number,
        "pages": pages,
        "first_shown": offset + 1,
        "last_shown": offset + len(reports),
        "per_page": REPORTS_PER_PAGE,
        "window_minutes": int(TELEMETRY_WINDOW.total_seconds() // 60),
        "per_side": TELEMETRY_PER_SIDE,
        "json_url": f"?{urlencode({'page': number, 'download': 'json'})}",
    }
    return render(request, REPORT, context)


def report_url(code: str) -> str:
    """The code's report page; none for a code no address can carry (a control
    character: the charger API lets none through, an older row might hold one)."""
    return reverse("console:faults-undocumented-code", args=[code]) if plausible_code(code) else ""


def report_view(report: Occurrence) -> dict[str, Any]:
    """One report with its charger-sent values made fit to show (charger_text)."""
    rest = "the JSON download holds all of it"
    details = report.details
    return {
        "report": report,
        "message": message_text(report.fault_message, MESSAGE_SHOWN, rest),
        "details": None if details is None else json_text(details, PAYLOAD_SHOWN, rest),
        "other_fields": json_text(report.other_fields, PAYLOAD_SHOWN, rest)
        if report.other_fields
        else "",
        "claimed": message_text(report.claimed_timestamp, MESSAGE_SHOWN, rest),
        "telemetry": [
            {"sample": sample, "offset": offset_words(sample.offset)} for sample in report.telemetry
        ],
    }


def offset_words(offset: timedelta) -> str:
    """How long before or after the fault a sample was taken: "40 s before", "1 min 5 s
    after", "at the same second"."""
    seconds = round(offset.total_seconds())
    if seconds == 0:
        return "at the same second"
    minutes, rest = divmod(abs(seconds), 60)
    words = " ".join(
        part for part in (f"{minutes} min" if minutes else "", f"{rest} s" if rest else "") if part
    )
    return f"{words} {'after' if seconds > 0 else 'before'}"


def report_json(
    code: str, span: dict, chargers: list, reports: list[Occurrence], page: int, pages: int
) -> HttpResponse:
    """The report as a file for Tellus: the checklist's facts with the charger's own ids
    and the payloads whole, times in UTC (ISO 8601)."""
    body = {
        "fault_code": code,
        "reported": {
            "count": span["count"],
            "first_seen": span["first_seen"].isoformat(),
            "last_seen": span["last_seen"].isoformat(),
            "looking_back_days": UNDOCUMENTED_DAYS,
        },
        "chargers": [
            {"device_id": row.device_id, "sn": row.sn, "model": row.model,
             "firmware_version_now": row.firmware_version, "reports": row.count,
             "last_seen": row.last_seen.isoformat()}
            for row in chargers
        ],
        "occurrences": [
            {"device_id": r.device_id, "sn": r.sn, "model": r.model,
             "connector_id": r.connector_id, "timestamp": r.timestamp.isoformat(),
             "claimed_timestamp": r.claimed_timestamp or None,
             "firmware_version": r.firmware_version, "payload": r.payload,
             "telemetry": [
                 {"connector_id": t.connector_id, "timestamp": t.timestamp.isoformat(),
                  "offset_seconds": t.offset.total_seconds(), "state": t.state,
                  "voltage": t.voltage, "current": t.current, "power": t.power,
                  "temperature": t.temperature}
                 for t in r.telemetry
             ]}
            for r in reports
        ],
        "occurrences_page": {"page": page, "pages": pages, "size": REPORTS_PER_PAGE},
        "telemetry_window": {
            "seconds_each_side": TELEMETRY_WINDOW.total_seconds(),
            "nearest_samples_each_side": TELEMETRY_PER_SIDE,
        },
    }  # fmt: skip
    response = JsonResponse(body, json_dumps_params={"indent": 2, "ensure_ascii": False})
    name = re.sub(r"[^A-Za-z0-9._-]", "_", code)
    suffix = f"-page-{page}" if pages > 1 else ""
    response["Content-Disposition"] = f'attachment; filename="undocumented-{name}{suffix}.json"'
    return response
