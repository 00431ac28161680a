"""The audit log: who changed what in the operator's trail, newest first, with the fields
before → after, and the same selection as a CSV export. Engineers and above read it;
entries of another operator or of the platform as a whole never show."""

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from console.web.access import ConsoleAccess, console_view
from console.web.csv_export import (
    EXPORT_CHUNK,
    csv_chunks,
    json_cell,
    refused_export,
    streamed_csv,
    utc_iso,
)
from console.web.forms.audit import (
    ACTION_WORDS,
    COUNT_LIMIT,
    EXPORT_LIMIT,
    PAGE_SIZE,
    PLATFORM,
    AuditFilterForm,
    subject_words,
)
from console.web.models import OperatorMember
from console.web.roles import Role
from console.web.tables import (
    Column,
    Filter,
    ListPage,
    chosen_charger,
    list_context,
    page_count,
    render_list,
    shown_charger,
    wants_fragment,
    with_charger,
)
from console.web.wording import actor_words as shared_actor_words
from console.web.wording import client_names, form_problems
from fleet.models import ApiClient, AuditEntry, Device, Site
from fleet.queries.audit import audit_entries
from fleet.queries.paging import Page

TEMPLATE = "console/audit/list.html"
# Who may read the trail: it names people, addresses and every change (docs/console.md).
NEEDS = Role.ENGINEER
CSV_HEADER = [
    "at_utc", "actor", "action", "resource_type", "resource_id", "ip", "details", "before", "after",
]  # fmt: skip
# What a row shows of one change before its full JSON is needed.
VALUE_MAX = 80
FACTS_SHOWN = 6
FULL_JSON_MAX = 10_000
# Names offered in the "Who" box: the operator's people and API clients.
SUGGESTIONS_MAX = 200


@dataclass(frozen=True)
class Fact:
    """One line of a row's details: a field that changed, or a detail of the action."""

    name: str
    before: str | None = None
    after: str | None = None
    kind: str = "detail"  # changed, set (a creation), removed (a deletion) or detail


@dataclass
class AuditRow:
    entry: AuditEntry
    actor: str
    action: str
    subject: str
    subject_url: str | None
    subject_name: str = ""  # a person's username where the subject is one
    facts: list[Fact] = field(default_factory=list)
    hidden: int = 0  # facts left out of the list (the full JSON has them)
    full_json: str = ""  # set when anything was cut or left out


# --- The page --------------------------------------------------------------------------------


AUDIT = ListPage(
    url="console:audit",
    template=TEMPLATE,
    target="audit-table",
    noun="entry",
    plural="entries",
    label="Audit log table",
    table_class="audit-table",
    form_class="audit-filters",
    columns=(
        Column("When", cell="when"),
        Column("Who", cell="who"),
        Column("What", attr="action"),
        Column("Subject", cell="subject"),
        Column("Details", cell="details"),
    ),
    filters=(
        Filter(
            "actor",
            "Who",
            placeholder="a person, an API client or the platform",
            attrs=(("list", "audit-actors"),),
            live="change",
            help=AuditFilterForm.base_fields["actor"].help_text,
        ),
        Filter("action", "Action", kind="select"),
        Filter("subject_type", "Subject", kind="select"),
        Filter(
            "subject_id",
            "Subject id",
            placeholder="a charger's serial, dvc_…, site_…",
            live="change",
        ),
        Filter("start", "From", kind="datetime-local", zoned=True),
        Filter("end", "Until", kind="datetime-local", zoned=True),
    ),
    csv="console:audit-csv",
    csv_note=f"the newest {EXPORT_LIMIT:,} entries these filters select at most",
    no_match=(
        "Check the name or id (they match exactly), choose another action or widen the time window."
    ),
)


@console_view(needs=NEEDS)
def audit_log(request: HttpRequest, access: ConsoleAccess) -> HttpResponse:
    """The filtered, paged trail; an HTMX request gets the table alone."""
    form = AuditFilterForm(request.GET)
    table = audit_table(access, form)
    context = list_context(
        AUDIT, form, table, shown=shown_charger(table["chosen_charger"], "subject_id")
    )
    if not wants_fragment(request):
        context["actor_suggestions"] = actor_suggestions(access)
    return render_list(request, AUDIT, context)


def audit_table(access: ConsoleAccess, form: AuditFilterForm) -> dict[str, Any]:
    """The page of rows, counted up to COUNT_LIMIT (past it the page says "more than")."""
    count_limit = f"{COUNT_LIMIT:,}"
    base = {
        "form": form,
        "count_limit": count_limit,
        "more_note": f"the newest {count_limit}; choose an earlier Until for older ones",
        "chosen_charger": None,
    }
    if not form.is_valid():
        return {**base, "page": None, "pages": 0, "query": "", "problems": form_problems(form)}
    filters, charger = audit_filters(access, form)
    entries = audit_entries(access.operator_id, **filters)
    number = form.cleaned_data["page"] or 1
    # One read of the matching ids (capped) counts them and picks the page's: a filter
    # that matches little of a long trail walks its index once, not twice.
    matching = list(entries.values_list("pk", flat=True)[: COUNT_LIMIT + 1])
    total = len(matching)
    offset = (number - 1) * PAGE_SIZE
    wanted = matching[offset : offset + PAGE_SIZE]
    items = list(AuditEntry.objects.filter(pk__in=wanted).order_by("-at", "-id")) if wanted else []
    page = Page(items, total, number, PAGE_SIZE)
    query = form.data.copy()
    query.pop("page", None)
    capped_pages = max(1, -(-COUNT_LIMIT // PAGE_SIZE))
    return {
        **base,
        "page": page,
        "pages": page_count(page, PAGE_SIZE) if total <= COUNT_LIMIT else capped_pages,
        "more": total > COUNT_LIMIT,
        "query": query.urlencode(),
        "rows": audit_rows(access, page.items),
        "chosen_charger": charger,
    }


def audit_filters(access: ConsoleAccess, form: AuditFilterForm) -> tuple[dict, Device | None]:
    """The trail's filters (after is_valid), a charger subject given by its id or its serial
    number read as its id; with the charger so named, if any."""
    filters = form.query_filters()
    if filters["resource_type"] not in (None, "device"):
        return filters, None
    charger = chosen_charger(access.operator_id, form, "subject_id")
    return with_charger(filters, charger, "resource_id"), charger


def audit_rows(access: ConsoleAccess, entries: list[AuditEntry]) -> list[AuditRow]:
    # Only the operator's own clients are named; another's (a charger moved between
    # operators) stays an id.
    names = client_names(access.operator_id, (e.actor for e in entries))
    rows = [audit_row(entry, names) for entry in entries]
    named = subject_names(access, entries)
    for row in rows:
        row.subject_name = named.get((row.entry.resource_type, row.entry.resource_id), "")
    return rows


def subject_names(access: ConsoleAccess, entries: list[AuditEntry]) -> dict[tuple[str, str], str]:
    """A person's username, a charger's serial and a site's name for the subjects that
    have one (the operator's own chargers and sites; any other stays an id)."""
    wanted: dict[str, set[str]] = {"user": set(), "device": set(), "site": set()}
    for entry in entries:
        if entry.resource_type in wanted and entry.resource_id:
            wanted[entry.resource_type].add(entry.resource_id)
    names: dict[tuple[str, str], str] = {}
    people = {int(pk) for pk in wanted["user"] if pk.isdigit()}
    if people:
        for pk, username in (
            get_user_model().objects.filter(pk__in=people).values_list("pk", "username")
        ):
            names[("user", str(pk))] = username
    if wanted["device"]:
        for device_id, sn in Device.objects.filter(
            device_id__in=wanted["device"], site__operator_id=access.operator_id
        ).values_list("device_id", "sn"):
            names[("device", device_id)] = sn
    if wanted["site"]:
        for site_id, name in Site.objects.filter(
            site_id__in=wanted["site"], operator_id=access.operator_id
        ).values_list("site_id", "name"):
            names[("site", site_id)] = name
    return names


def audit_row(entry: AuditEntry, client_names: dict[str, str]) -> AuditRow:
    facts = changed_facts(entry.before, entry.after) + detail_facts(entry.details)
    shown = facts[:FACTS_SHOWN]
    cut = len(facts) > FACTS_SHOWN or any(_was_cut(fact) for fact in shown)
    return AuditRow(
        entry=entry,
        actor=actor_words(entry.actor, client_names),
        action=ACTION_WORDS.get(entry.action, entry.action.replace("_", " ")),
        subject=subject_words(entry.resource_type),
        subject_url=subject_url(entry.resource_type, entry.resource_id),
        facts=shown,
        hidden=len(facts) - len(shown),
        full_json=full_json(entry) if cut else "",
    )


def actor_words(label: str, client_names: dict[str, str]) -> str:
    """The trail's actor in words (console.web.wording.actor_words); the platform as the
    Who filter names it."""
    return PLATFORM if label in ("", PLATFORM) else shared_actor_words(label, client_names)


def subject_url(resource_type: str, resource_id: str) -> str | None:
    """The console page of the subject, where it has one."""
    if not resource_id:
        return None
    try:
        if resource_type == "device":
            return reverse("console:device", args=[resource_id])
        if resource_type == "site":
            return reverse("console:site", args=[resource_id])
        if resource_type == "alert":
            return f"{reverse('console:alerts')}?status=all#alert-{quote(resource_id)}"
        if resource_type == "runbook_run":
            return reverse("console:run", args=[resource_id])
    except NoReverseMatch:  # an id no URL can hold (a slash, say): named, not linked
        return None
    return None


def changed_facts(before: dict | None, after: dict | None) -> list[Fact]:
    """The changed fields: before → after; a creation's values; a deletion's last ones."""
    before, after = _as_dict(before), _as_dict(after)
    facts = []
    for name in dict.fromkeys([*(before or {}), *(after or {})]):
        if before is not None and after is not None:
            facts.append(
                Fact(
                    str(name), value_text(before.get(name)), value_text(after.get(name)), "changed"
                )
            )
        elif after is not None:
            facts.append(Fact(str(name), after=value_text(after[name]), kind="set"))
        else:
            facts.append(Fact(str(name), before=value_text(before[name]), kind="removed"))
    return facts


def detail_facts(details: Any) -> list[Fact]:
    if not details:
        return []
    return [Fact(str(name), after=value_text(value)) for name, value in _as_dict(details).items()]


def _as_dict(value: Any) -> dict | None:
    """The trail's JSON columns hold objects; anything else (a hand-written row) is kept
    whole as a single value."""
    if value is None or isinstance(value, dict):
        return value
    return {"value": value}


def value_text(value: Any) -> str:
    """A JSON value as a person reads it, cut to VALUE_MAX characters."""
    if value is None or value == "":
        text = "empty"
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "), sort_keys=True)
    return text if len(text) <= VALUE_MAX else text[: VALUE_MAX - 1] + "…"


def _was_cut(fact: Fact) -> bool:
    return any(text and text.endswith("…") for text in (fact.before, fact.after))


def full_json(entry: AuditEntry) -> str:
    """The entry's details, before and after as indented JSON, bounded for the page (the
    CSV export carries all of it)."""
    whole = {"details": entry.details, "before": entry.before, "after": entry.after}
    text = json.dumps(
        {k: v for k, v in whole.items() if v not in (None, {})},
        ensure_ascii=False,
        indent=2,
        sort_keys=True,
    )
    if len(text) > FULL_JSON_MAX:
        return text[:FULL_JSON_MAX] + "\n… (cut here: the CSV export holds the rest)"
    return text


def actor_suggestions(access: ConsoleAccess) -> list[tuple[str, str]]:
    """(value, label) for the "Who" box: the operator's people, its API clients, the
    platform."""
    people = (
        OperatorMember.objects.filter(operator_id=access.operator_id)
        .order_by("user__username")
        .values_list("user__username", flat=True)[:SUGGESTIONS_MAX]
    )
    clients = (
        ApiClient.objects.filter(operator_id=access.operator_id)
        .order_by("name", "client_id")
        .values_list("client_id", "name")[:SUGGESTIONS_MAX]
    )
    return [
        *((name, f"{name} (console user)") for name in people),
        *((f"client:{cid}", f"API client {name or cid}") for cid, name in clients),
        (PLATFORM, "The platform itself"),
    ]


# --- The CSV export --------------------------------------------------------------------------


@console_view(needs=NEEDS)
def audit_csv(request: HttpRequest, access: ConsoleAccess) -> HttpResponse:
    """The newest EXPORT_LIMIT entries the page's filters select, streamed as CSV."""
    form = AuditFilterForm(request.GET)
    if not form.is_valid():
        return refused_export(form)
    entries = exported_entries(access, form).iterator(chunk_size=EXPORT_CHUNK)
    filename = f"audit-log-{timezone.now():%Y-%m-%d}.csv"
    response = streamed_csv(request, audit_chunks(entries), filename)
    response["X-Export-Limit"] = str(EXPORT_LIMIT)
    return response


def exported_entries(access: ConsoleAccess, form: AuditFilterForm) -> QuerySet[AuditEntry]:
    return audit_entries(access.operator_id, **audit_filters(access, form)[0])[:EXPORT_LIMIT]


def csv_row(entry: AuditEntry) -> list[object]:
    return [
        utc_iso(entry.at), entry.actor, entry.action, entry.resource_type, entry.resource_id,
        entry.ip or "", json_cell(entry.details), json_cell(entry.before), json_cell(entry.after),
    ]  # fmt: skip


def audit_chunks(entries: Iterable[AuditEntry]) -> Iterator[str]:
    return csv_chunks(CSV_HEADER, (csv_row(entry) for entry in entries))
