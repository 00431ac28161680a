"""A fault code in an operator's fleet: which chargers raised it lately, the alerts open
for it and the runbooks that treat it. Scoped to one operator; nothing of another
operator's chargers is read into a result."""

from datetime import UTC, datetime
from typing import NamedTuple

from django.db import connection
from django.db.models import Count, Max, Q, QuerySet

from diagnostics.models import Alert, Runbook
from diagnostics.queries.alerts import alerts
from diagnostics.queries.faults import operator_fault_events


class RaisedBy(NamedTuple):
    """One charger that raised the code in the window, with its counts (a tuple: a page
    may build thousands of them)."""

    device_id: str
    sn: str
    model: str
    firmware_version: str
    site_id: str
    site_name: str
    recent: int  # since the short window's start (7 days)
    count: int  # since the long window's start (30 days)
    last_seen_epoch: float
    # Whether the charger is still the operator's: one it handed over keeps its counts
    # (they happened under the operator) but has no site and no page to link to.
    in_fleet: bool = True

    @property
    def last_seen(self) -> datetime:
        return datetime.fromtimestamp(self.last_seen_epoch, UTC)


# PostgreSQL: counted per charger first, from the fault-code index alone (the events'
# operator stamp is in it: that is what scopes the result to the operator), and only then
# joined to the chargers: the join meets one row per charger instead of one per event (the
# console bench's million fault events).
_RAISED_BY_POSTGRESQL = """
SELECT d.device_id, d.sn, d.model, d.firmware_version,
       CASE WHEN s.operator_id = %(operator_id)s THEN d.site_id ELSE '' END,
       CASE WHEN s.operator_id = %(operator_id)s THEN s.name ELSE '' END,
       raised.recent, raised.count, raised.last_seen,
       COALESCE(s.operator_id = %(operator_id)s, false)
FROM (
    SELECT e.device_id,
           COUNT(*) FILTER (WHERE e."timestamp" >= %(recent_since)s) AS recent,
           COUNT(*) AS count,
           -- Seconds, not a timestamp: thousands of rows load far faster as numbers.
           EXTRACT(EPOCH FROM MAX(e."timestamp"))::float8 AS last_seen
    FROM fleet_deviceevent e
    WHERE e.event_type = 'fault' AND e.fault_code = %(code)s AND e."timestamp" >= %(since)s
      AND e.operator_id = %(operator_id)s
    GROUP BY e.device_id
) raised
JOIN fleet_device d ON d.device_id = raised.device_id
LEFT JOIN fleet_site s ON s.site_id = d.site_id
"""


def raised_by(
    operator_id: str | None, code: str, since: datetime, recent_since: datetime
) -> list[RaisedBy]:
    """Every charger that raised `code` since `since` while the operator owned it, with its
    counts since `since` and since `recent_since`: one query, one row per charger."""
    if not operator_id:
        return []
    if connection.vendor == "postgresql":
        return _raised_by_postgresql(operator_id, code, since, recent_since)
    return _raised_by_orm(operator_id, code, since, recent_since)


def _raised_by_postgresql(
    operator_id: str, code: str, since: datetime, recent_since: datetime
) -> list[RaisedBy]:
    params = {
        "operator_id": operator_id,
        "code": code,
        "since": since,
        "recent_since": recent_since,
    }
    with connection.cursor() as cursor:
        cursor.execute(_RAISED_BY_POSTGRESQL, params)
        return list(map(RaisedBy._make, cursor.fetchall()))


def _raised_by_orm(
    operator_id: str, code: str, since: datetime, recent_since: datetime
) -> list[RaisedBy]:
    """The same answer on any database (the embedded default's SQLite): the ORM, joined
    first, which is fine at the sizes a single machine holds."""
    rows = (
        operator_fault_events(operator_id)
        .filter(fault_code=code, timestamp__gte=since)
        .order_by()
        .values(
            "device_id",
            "device__sn",
            "device__model",
            "device__firmware_version",
            "device__site_id",
            "device__site__name",
            "device__site__operator_id",
        )
        .annotate(
            recent=Count("pk", filter=Q(timestamp__gte=recent_since)),
            count=Count("pk"),
            last_seen=Max("timestamp"),
        )
    )
    result = []
    for row in rows:
        in_fleet = row["device__site__operator_id"] == operator_id
        result.append(
            RaisedBy(
                row["device_id"],
                row["device__sn"],
                row["device__model"],
                row["device__firmware_version"],
                row["device__site_id"] if in_fleet else "",
                row["device__site__name"] if in_fleet else "",
                row["recent"],
                row["count"],
                row["last_seen"].timestamp(),
                in_fleet,
            )
        )
    return result


def fault_seen_in_fleet(operator_id: str | None, code: str) -> bool:
    """Whether any charger ever raised `code` while the operator owned it."""
    return operator_fault_events(operator_id).filter(fault_code=code).exists()


def active_alerts_for_code(operator_id: str | None, code: str) -> QuerySet[Alert]:
    """The operator's open and acknowledged alerts about `code`, newest detection first."""
    if not operator_id:
        return Alert.objects.none()
    return (
        alerts(operator_id, statuses=Alert.ACTIVE)
        .filter(fault_code=code)
        .select_related("device", "site")
    )


def runbooks_for_code(code: str) -> list[Runbook]:
    """The runbooks that name `code` among their linked fault codes, by title. Read whole
    and matched here, in one query: JSON containment is PostgreSQL's (SQLite has none),
    and the runbook library is a few dozen rows."""
    library = Runbook.objects.only("slug", "title", "linked_fault_codes").order_by("title", "slug")
    return [
        runbook
        for runbook in library
        if isinstance(runbook.linked_fault_codes, list) and code in runbook.linked_fault_codes
    ]
