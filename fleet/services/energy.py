"""Aggregated energy: charge and V2G discharge energy per time bucket (UTC).

Attribution: a charging record's energy is spread over the buckets its session overlaps,
in proportion to the time it overlaps each (within the requested range); a session of
zero length counts entirely in the bucket of its start. A record with negative average
power is a V2G discharge session and counts as discharge energy, any other as charge
energy. `avg_power` is the bucket's energy divided by its length in hours (its part
inside the requested range).

`max_power` is the highest power magnitude seen in the bucket: the absolute telemetry
power of any single connector in it, and the absolute `max_power` of every record that
overlaps it. A record overlaps a bucket when [start_time, end_time) and the bucket's
part of the range, [max(bucket start, range start), min(bucket end, range end)), share
a moment: a record ending exactly at a bucket's start does not overlap that bucket, one
starting exactly at a bucket's end belongs to the next. A zero-length record overlaps
the bucket of its start (if inside the range), as for its energy. Power is signed
(negative while discharging), so the magnitude is compared, whatever sign a V2G record
gives its `max_power`. A point is returned for every bucket (and group) that a record
overlaps or a telemetry sample falls in, even with zero energy.

Times are handled in UTC and clamped to what a Python datetime can hold
(0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999Z): the last bucket of a range
reaching the end of year 9999 ends there instead of overflowing.

On PostgreSQL the buckets are computed in the database; the Python implementation is
the reference (and serves SQLite). Both follow the rules above and are tested to agree.

Whose: records and samples count for the operator and site they are stamped with, the
owners of the charger when they were stored (fleet/models/stamps.py), not where the
charger is now. A charger (or a site) handed to another operator leaves its past in the
old operator's report, unchanged, and the new operator's starts from its arrival.
`site_ids` may name the operator's sites now and those it had before.

Telemetry peaks on PostgreSQL come from an hourly rollup rather than from a scan of the
window's samples: SitePowerPeak holds, per operator, UTC hour and site, the highest
|power| of any sample stamped with them, kept by triggers (migrations 0010, 0014) on
every write of a sample. Whole UTC hours inside the range are read from it; the partial
hours at the ends of a range not aligned on hours come from their own samples (two
hours' worth at most); a day or month bucket is the max of its hours. The rollup follows
the rules above exactly: keyed by the samples' own stamps, nothing in it moves when a
charger or a site changes hands, and a deleted sample (a deleted charger's with it) no
longer counts, its hour recomputed from the samples left. Loading samples
with the triggers off (pg_restore --disable-triggers, session_replication_role) leaves
it stale: `rebuild_power_peaks()` recomputes it.
"""

from calendar import monthrange
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Max
from django.db.models.functions import Abs, TruncDay, TruncHour, TruncMonth

from fleet import db
from fleet.errors import InvalidParameter, NotFound
from fleet.models import ChargingRecord, SitePowerPeak, TelemetrySample
from fleet.services.tenancy import history_sites

MAX_BUCKETS = 10_000
_TRUNC = {"hour": TruncHour, "day": TruncDay, "month": TruncMonth}


@dataclass
class Point:
    start: datetime
    group: str | None
    charge: float = 0.0
    discharge: float = 0.0
    max_power: float = 0.0


# The first and last moments a Python datetime can hold, in UTC.
EARLIEST = datetime.min.replace(tzinfo=UTC)
LATEST = datetime.max.replace(tzinfo=UTC)


def as_utc(moment: datetime) -> datetime:
    """The moment in UTC, clamped to [EARLIEST, LATEST]: 9999-12-31T23:00:00-05:00 is
    after the last representable UTC moment and becomes LATEST."""
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        # Only a moment within a day of either end can overflow: which end is plain.
        return LATEST if moment.year > 1 else EARLIEST


def bucket_floor(moment: datetime, granularity: str) -> datetime:
    moment = as_utc(moment)
    if granularity == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    if granularity == "day":
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def bucket_length(start: datetime, granularity: str) -> timedelta:
    if granularity == "hour":
        return timedelta(hours=1)
    if granularity == "day":
        return timedelta(days=1)
    return timedelta(days=monthrange(start.year, start.month)[1])


def bucket_next(start: datetime, granularity: str) -> datetime:
    """The start of the following bucket; LATEST for the last bucket of year 9999, whose
    true end (year 10000) a datetime cannot hold."""
    try:
        return start + bucket_length(start, granularity)
    except OverflowError:
        return LATEST


def bucket_label(start: datetime, granularity: str) -> str:
    # Not strftime: glibc writes year 5 as "5", the label wants "0005".
    label = f"{start.year:04d}-{start.month:02d}"
    if granularity == "month":
        return label
    label += f"-{start.day:02d}"
    return label if granularity == "day" else label + f"T{start.hour:02d}:00:00Z"


def buckets(start: datetime, end: datetime, granularity: str) -> list[datetime]:
    """Bucket starts from the bucket holding `start` up to `end` (exclusive). Raises
    InvalidParameter past MAX_BUCKETS; never overflows, at either end of time."""
    edges, current, end = [], bucket_floor(start, granularity), min(as_utc(end), LATEST)
    while current < end:
        edges.append(current)
        if len(edges) > MAX_BUCKETS:
            raise InvalidParameter(
                "granularity", granularity, f"the range spans more than {MAX_BUCKETS} buckets"
            )
        current = bucket_next(current, granularity)
    return edges


def _window(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    return as_utc(start), as_utc(end)


def _scope(operator_id: str, site_ids: list[str] | None):
    if site_ids:
        found = history_sites(operator_id, site_ids)
        missing = [s for s in site_ids if s not in found]
        if missing:
            raise NotFound(
                f"Site '{missing[0]}' not found", {"field": "site_ids", "value": missing}
            )


def _group_expression(group_by: str | None) -> str | None:
    return {"site": "site_id", "operator": "operator_id"}.get(group_by or "")


def aggregate_python(
    operator_id: str,
    granularity: str,
    start: datetime,
    end: datetime,
    group_by: str | None,
    site_ids: list[str] | None,
) -> list[Point]:
    """Reference implementation: records and telemetry filtered in the database, the
    pro-rata split and the record peaks here."""
    start, end = _window(start, end)
    edges = buckets(start, end, granularity)
    group_field = _group_expression(group_by)
    records = ChargingRecord.objects.filter(
        operator_id=operator_id, start_time__lt=end, end_time__gte=start
    )
    samples = TelemetrySample.objects.filter(
        operator_id=operator_id, timestamp__gte=start, timestamp__lt=end
    )
    if site_ids:
        records = records.filter(site_id__in=site_ids)
        samples = samples.filter(site_id__in=site_ids)
    points: dict[tuple[datetime, str | None], Point] = {}

    def point(bucket: datetime, group: str | None) -> Point:
        return points.setdefault((bucket, group), Point(bucket, group))

    fields = ["start_time", "end_time", "energy", "avg_power", "max_power"]
    for row in records.values(*fields, *( [group_field] if group_field else [] )):  # fmt: skip
        group = row.get(group_field) if group_field else None
        s, e = row["start_time"], row["end_time"]
        kind = "discharge" if row["avg_power"] < 0 else "charge"
        for bucket in edges:
            b_end = bucket_next(bucket, granularity)
            if s == e:  # zero length: all of it in the bucket of its start
                if not (bucket <= s < b_end and start <= s < end):
                    continue
                share = 1.0
            else:  # [s, e) against the bucket's part of the range
                lo, hi = max(s, bucket, start), min(e, b_end, end)
                if lo >= hi:
                    continue
                share = (hi - lo) / (e - s)
            target = point(bucket, group)
            setattr(target, kind, getattr(target, kind) + row["energy"] * share)
            target.max_power = max(target.max_power, abs(row["max_power"]))
    trunc = _TRUNC[granularity]("timestamp", tzinfo=UTC)
    grouping = ["bucket", group_field] if group_field else ["bucket"]
    for row in samples.annotate(bucket=trunc).values(*grouping).annotate(peak=Max(Abs("power"))):
        target = point(row["bucket"], row.get(group_field) if group_field else None)
        target.max_power = max(target.max_power, row["peak"] or 0.0)
    return sorted(points.values(), key=lambda p: (p.start, p.group or ""))


_PG_SQL = """
WITH bounds AS (
    SELECT b AS bucket_start,
           CASE WHEN %(g)s = 'month' THEN b + interval '1 month'
                WHEN %(g)s = 'day' THEN b + interval '1 day'
                ELSE b + interval '1 hour' END AS bucket_end
    FROM generate_series(
        date_trunc(%(g)s, %(start)s::timestamptz AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
        %(end)s::timestamptz - interval '1 microsecond',
        CASE WHEN %(g)s = 'month' THEN interval '1 month'
             WHEN %(g)s = 'day' THEN interval '1 day' ELSE interval '1 hour' END
    ) AS b
), records AS (
    SELECT r.start_time, r.end_time, r.energy, r.avg_power, ABS(r.max_power) AS peak,
           {group_r} AS grp
    FROM fleet_chargingrecord r
    WHERE r.operator_id = %(operator)s AND r.start_time < %(end)s AND r.end_time >= %(start)s
      {sites_r}
), overlapping AS (
    -- A record overlaps a bucket when [start_time, end_time) meets the bucket's part of
    -- the range; a zero-length record overlaps the bucket of its start.
    SELECT b.bucket_start, rec.*,
           GREATEST(rec.start_time, b.bucket_start, %(start)s) AS lo,
           LEAST(rec.end_time, b.bucket_end, %(end)s) AS hi
    FROM bounds b JOIN records rec
      ON rec.start_time < b.bucket_end AND rec.end_time >= b.bucket_start
    WHERE CASE WHEN rec.end_time = rec.start_time
               THEN rec.start_time >= b.bucket_start AND rec.start_time >= %(start)s
               ELSE GREATEST(rec.start_time, b.bucket_start, %(start)s)
                    < LEAST(rec.end_time, b.bucket_end, %(end)s) END
), energy AS (
    SELECT bucket_start, grp,
           -- In numeric: a product of doubles that rounds to zero is an error in
           -- PostgreSQL ("underflow"), and a tiny stored energy must not break a read.
           SUM(CASE WHEN avg_power < 0 THEN 0 ELSE energy::numeric * share::numeric END)
               AS charge,
           SUM(CASE WHEN avg_power < 0 THEN energy::numeric * share::numeric ELSE 0 END)
               AS discharge,
           MAX(peak) AS peak
    FROM (
        SELECT o.*,
               CASE WHEN end_time = start_time THEN 1
                    ELSE EXTRACT(EPOCH FROM hi - lo)
                         / EXTRACT(EPOCH FROM end_time - start_time) END AS share
        FROM overlapping o
    ) shares
    GROUP BY bucket_start, grp
), peaks AS (
    -- Whole UTC hours from the hourly rollup; the partial hours at the ends of the range
    -- (at most two, maybe none) from their samples.
    SELECT date_trunc(%(g)s, x.moment AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS bucket_start,
           x.grp, MAX(x.peak) AS peak
    FROM (
        SELECT p.hour AS moment, {group_p} AS grp, p.peak
        FROM fleet_sitepowerpeak p
        WHERE p.operator_id = %(operator)s AND p.hour >= %(hours_from)s
          AND p.hour < %(hours_to)s
          {sites_p}
        UNION ALL
        SELECT t."timestamp", {group_t}, ABS(t.power)
        FROM fleet_telemetrysample t
        WHERE t.operator_id = %(operator)s
          AND ((t."timestamp" >= %(start)s AND t."timestamp" < %(hours_from)s)
               OR (t."timestamp" >= %(hours_to)s AND t."timestamp" < %(end)s))
          {sites_t}
    ) x
    GROUP BY 1, 2
)
SELECT COALESCE(e.bucket_start, p.bucket_start), COALESCE(e.grp, p.grp),
       COALESCE(e.charge, 0), COALESCE(e.discharge, 0),
       GREATEST(COALESCE(e.peak, 0), COALESCE(p.peak, 0))
FROM energy e FULL OUTER JOIN peaks p
  ON p.bucket_start = e.bucket_start AND p.grp IS NOT DISTINCT FROM e.grp
ORDER BY 1, COALESCE(e.grp, p.grp) COLLATE "C"
"""


def whole_hours(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """[first, last): the whole UTC hours inside [start, end), whose peaks the rollup
    holds; (start, start) when there is none, leaving the whole range to the samples."""
    first = bucket_floor(start, "hour")
    if first < start:
        first = bucket_next(first, "hour")  # LATEST past the last hour: then none
    last = bucket_floor(end, "hour")
    return (first, last) if first < last else (start, start)


def aggregate_sql(
    operator_id: str,
    granularity: str,
    start: datetime,
    end: datetime,
    group_by: str | None,
    site_ids: list[str] | None,
) -> list[Point]:
    start, end = _window(start, end)
    buckets(start, end, granularity)  # the same bucket-count limit
    column = {"site": "site_id", "operator": "operator_id"}.get(group_by or "")
    sql = _PG_SQL.format(
        **{
            f"group_{alias}": f"{alias}.{column}" if column else "NULL" for alias in ("r", "p", "t")
        },
        **{
            f"sites_{alias}": f"AND {alias}.site_id = ANY(%(sites)s)" if site_ids else ""
            for alias in ("r", "p", "t")
        },
    )
    hours_from, hours_to = whole_hours(start, end)
    params = {
        "g": granularity,
        "start": start,
        "end": end,
        "hours_from": hours_from,
        "hours_to": hours_to,
        "operator": operator_id,
        "sites": site_ids,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [
        Point(bucket.astimezone(UTC), grp, float(charge), float(discharge), float(peak))
        for bucket, grp, charge, discharge, peak in rows
    ]


_REBUILD_SQL = """
INSERT INTO fleet_sitepowerpeak (operator_id, hour, site_id, peak)
SELECT t.operator_id, date_trunc('hour', t."timestamp", 'UTC'), t.site_id, MAX(ABS(t.power))
FROM fleet_telemetrysample t
WHERE t.operator_id IS NOT NULL AND t.site_id IS NOT NULL
  AND (%(sites)s::varchar[] IS NULL OR t.site_id = ANY(%(sites)s::varchar[]))
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
ON CONFLICT (operator_id, hour, site_id) DO UPDATE
    SET peak = GREATEST(fleet_sitepowerpeak.peak, EXCLUDED.peak)
"""


def rebuild_power_peaks(site_ids: list[str] | None = None) -> int:
    """Recompute the hourly peak rollup of the given sites (all when None) from the
    samples stamped with them; returns the rows written. On PostgreSQL the triggers keep
    it exact: this is for samples loaded with the triggers off. On SQLite nothing keeps or
    reads the rollup (aggregate_python reads the samples themselves): it is left empty, as
    it should be."""
    with transaction.atomic():
        stale = SitePowerPeak.objects.all()
        if site_ids is not None:
            stale = stale.filter(site_id__in=site_ids)
        stale.delete()
        if not db.uses_postgres():
            return 0
        # Ordered and GREATEST as in the triggers: telemetry may be arriving meanwhile.
        with connection.cursor() as cursor:
            cursor.execute(_REBUILD_SQL, {"sites": site_ids})
            return cursor.rowcount


def aggregated_energy(
    operator_id: str,
    granularity: str,
    start: datetime,
    end: datetime,
    group_by: str | None = None,
    site_ids: list[str] | None = None,
) -> dict[str, Any]:
    if end <= start:
        raise InvalidParameter("end_time", end.isoformat(), "end_time must be after start_time")
    _scope(operator_id, site_ids)
    compute = aggregate_sql if db.uses_postgres() else aggregate_python
    points = compute(operator_id, granularity, start, end, group_by, site_ids)
    key = {"site": "site_id", "operator": "operator_id"}.get(group_by or "")
    first, last = _window(start, end)
    series = []
    for p in points:
        b_start = max(p.start, first)
        b_end = min(bucket_next(p.start, granularity), last)
        hours = (b_end - b_start).total_seconds() / 3600
        item = {
            "time": bucket_label(p.start, granularity),
            "charge_energy": round(p.charge, 6),
            "discharge_energy": round(p.discharge, 6),
            "max_power": round(p.max_power, 6),
            "avg_power": round((p.charge + p.discharge) / hours, 6) if hours > 0 else 0.0,
        }
        if key:
            item[key] = p.group
        series.append(item)
    return {
        "granularity": granularity,
        "start_time": start,
        "end_time": end,
        "series": series,
        "total": {
            "charge_energy": round(sum(p.charge for p in points), 6),
            "discharge_energy": round(sum(p.discharge for p in points), 6),
            "max_power": round(max((p.max_power for p in points), default=0.0), 6),
        },
    }
