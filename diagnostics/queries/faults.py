"""The fault dictionary, shared by every operator, and how often an operator's chargers
raised its codes."""

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from django.db import connection
from django.db.models import Count, Max, Q, QuerySet

from diagnostics.models import FaultCode
from fleet.models import DeviceEvent
from fleet.queries.filters import narrow

# Where the dictionary's words are searched: a handful of short texts per entry, tens of
# entries, so a case-insensitive scan of them is cheap.
SEARCHED_FIELDS = ("code", "title", "description", "symptoms")


def fault_codes(
    *, severity: str | None = None, category: str | None = None, search: str | None = None
) -> QuerySet[FaultCode]:
    """Dictionary entries by code; `search` keeps entries holding every one of its words
    in their code, title, description or symptoms."""
    queryset = narrow(FaultCode.objects.order_by("code"), severity=severity, category=category)
    for word in (search or "").split():
        matches = Q()
        for field in SEARCHED_FIELDS:
            matches |= Q(**{f"{field}__icontains": word})
        queryset = queryset.filter(matches)
    return queryset


def fault_filter_values() -> tuple[list[str], list[str]]:
    """The categories and severities the dictionary uses, sorted, in one query."""
    pairs = FaultCode.objects.order_by().values_list("category", "severity").distinct()
    categories, severities = set(), set()
    for category, severity in pairs:
        categories.add(category)
        severities.add(severity)
    return sorted(categories), sorted(severities)


def fault_titles(events: Iterable[DeviceEvent]) -> dict[str, str]:
    """The dictionary titles of the events' fault codes, in one query for a whole page;
    codes the dictionary does not know are absent."""
    codes = {event.fault_code for event in events if event.fault_code}
    return dict(FaultCode.objects.filter(code__in=codes).values_list("code", "title"))


def operator_fault_events(operator_id: str | None) -> QuerySet[DeviceEvent]:
    """Fault events raised under the operator: by its chargers, and by chargers it has
    since handed over, while they were its own (none without an operator). The stamp is
    in the fault-code index, so no join is needed."""
    if not operator_id:
        return DeviceEvent.objects.none()
    return DeviceEvent.objects.filter(event_type="fault", operator_id=operator_id)


def fault_counts(operator_id: str | None, codes: Sequence[str], since: datetime) -> dict[str, int]:
    """How many times chargers raised each of `codes` under the operator since `since`, in
    one grouped query (the index on fault code and time serves it); absent codes: 0."""
    if not codes:
        return {}
    rows = (
        operator_fault_events(operator_id)
        .filter(fault_code__in=list(codes), timestamp__gte=since)
        .order_by()
        .values_list("fault_code")
        .annotate(count=Count("*"))  # COUNT(*): the index alone answers
    )
    return dict(rows)


# Fault codes reported anywhere, found by skipping through the index on fault events
# (one index probe per distinct code), so the cost follows the number of codes, not of
# events. Bounded: a charger sending a new code with each event cannot make it unbounded.
_REPORTED_CODES = """
WITH RECURSIVE codes(code) AS (
    SELECT MIN(fault_code) FROM fleet_deviceevent WHERE event_type = 'fault' AND fault_code > ''
    UNION ALL
    SELECT (
        SELECT MIN(e.fault_code) FROM fleet_deviceevent e
        WHERE e.event_type = 'fault' AND e.fault_code > codes.code
    )
    FROM codes WHERE codes.code IS NOT NULL
)
SELECT code FROM codes WHERE code IS NOT NULL LIMIT %s
"""


def reported_codes(limit: int) -> list[str]:
    """The distinct fault codes of every fault event (any operator's), in code order, at
    most `limit` of them."""
    if connection.vendor != "postgresql":  # SQLite: no skip scan needed at its sizes
        codes = (
            DeviceEvent.objects.filter(event_type="fault")
            .exclude(fault_code="")
            .order_by("fault_code")
            .values_list("fault_code", flat=True)
            .distinct()
        )
        return list(codes[:limit])
    with connection.cursor() as cursor:
        cursor.execute(_REPORTED_CODES, [limit])
        return [code for (code,) in cursor.fetchall()]


# The chargers that reported each code most recently: per code, the newest `scan` fault
# events raised under the operator (a backward walk of the fault-code index, which holds
# the operator stamp), grouped by charger. Bounded by the codes times `scan`, whatever
# the number of events.
_LATEST_REPORTERS = """
SELECT c.code, latest.device_id
FROM unnest(%(codes)s::text[]) AS c(code)
CROSS JOIN LATERAL (
    SELECT recent.device_id, MAX(recent."timestamp") AS last_seen
    FROM (
        SELECT e.device_id, e."timestamp"
        FROM fleet_deviceevent e
        WHERE e.event_type = 'fault' AND e.fault_code = c.code AND e."timestamp" >= %(since)s
          AND e.operator_id = %(operator_id)s
        ORDER BY e."timestamp" DESC
        LIMIT %(scan)s
    ) recent
    GROUP BY recent.device_id
    ORDER BY last_seen DESC, recent.device_id
    LIMIT %(per_code)s
) latest
"""
LATEST_REPORTERS_SCAN = 2000
EARLIEST_EVENT = datetime(1970, 1, 1, tzinfo=UTC)  # "since" when none is given


def latest_reporters(
    operator_id: str | None, codes: Sequence[str], since: datetime | None, per_code: int
) -> dict[str, list[str]]:
    """For each code, up to `per_code` of the operator's chargers that reported it (since
    `since`) most recently, newest first; one query, bounded (see _LATEST_REPORTERS)."""
    if not operator_id or not codes:
        return {}
    found: dict[str, list[str]] = {}
    if connection.vendor != "postgresql":  # SQLite: the plain way, at its sizes
        events = operator_fault_events(operator_id).filter(fault_code__in=list(codes))
        if since is not None:
            events = events.filter(timestamp__gte=since)
        newest = (
            events.order_by().values_list("fault_code", "device_id").annotate(last=Max("timestamp"))
        )
        for code, device_id, _ in sorted(newest, key=lambda row: row[2], reverse=True):
            if len(found.setdefault(code, [])) < per_code:
                found[code].append(device_id)
        return found
    params = {
        "codes": list(codes),
        "since": since or EARLIEST_EVENT,
        "operator_id": operator_id,
        "scan": LATEST_REPORTERS_SCAN,
        "per_code": per_code,
    }
    with connection.cursor() as cursor:
        cursor.execute(_LATEST_REPORTERS, params)
        for code, device_id in cursor.fetchall():  # newest first within each code
            found.setdefault(code, []).append(device_id)
    return found
