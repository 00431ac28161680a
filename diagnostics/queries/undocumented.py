"""What Tellus asks for about a fault code its dictionary lacks, read for one operator:
each occurrence's payload as the charger sent it (fault_code, fault_message, details),
the charger and the firmware it ran at that moment, and its telemetry around the moment
(the time range comes with the code's counts, diagnostics.services.faults).

Scoped by the facts' operator stamps (fleet/models/stamps.py): the operator's own fault
events and the telemetry stamped with it, never another operator's, even for a charger
that changed hands. Every read is bounded: a page of occurrences at a time, a window and
a number of samples around each."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import F, Q, QuerySet, Window
from django.db.models.functions import RowNumber

from diagnostics.queries.faults import EARLIEST_EVENT, operator_fault_events
from fleet.models import Connector, Device, DeviceEvent, FirmwareUpdate, TelemetrySample

# The telemetry shown around an occurrence: the connector's samples within this window
# on either side, at most TELEMETRY_PER_SIDE before it (at or before its moment) and as
# many after, the nearest ones (decision: undocumented-report).
TELEMETRY_WINDOW = timedelta(minutes=5)
TELEMETRY_PER_SIDE = 6
# An occurrence on connector 0 (the whole charger) takes the telemetry of the charger's
# connectors, at most this many of them (the lowest numbers).
CONNECTORS_PER_OCCURRENCE = 8
# The payload fields the vendor's checklist names; anything else a charger put in the
# event's data is kept apart as "other fields".
PAYLOAD_FIELDS = ("fault_code", "fault_message", "details")


@dataclass(frozen=True)
class Sample:
    """One telemetry sample near an occurrence; `offset` is its time minus the
    occurrence's."""

    connector_id: int
    timestamp: datetime
    state: str
    voltage: float
    current: float
    power: float
    temperature: float | None
    offset: timedelta


@dataclass
class Occurrence:
    """One report of the code, as the checklist wants it."""

    event_id: int
    fault_code: str  # as indexed (text); the payload keeps the value as sent
    device_id: str
    sn: str
    model: str
    in_fleet: bool  # the charger is still the operator's (else: no page to link to)
    connector_id: int
    timestamp: datetime
    claimed_timestamp: str
    payload: dict[str, Any]  # the event's data as sent
    firmware_version: str | None  # what the charger ran then; None: not known
    telemetry: list[Sample] = field(default_factory=list)

    @property
    def fault_code_sent(self) -> Any:
        return self.payload.get("fault_code")

    @property
    def fault_message(self) -> Any:
        return self.payload.get("fault_message")

    @property
    def details(self) -> Any:
        return self.payload.get("details")

    @property
    def other_fields(self) -> dict[str, Any]:
        return {k: v for k, v in self.payload.items() if k not in PAYLOAD_FIELDS}


def code_events(
    operator_id: str | None, code: str, since: datetime | None = None
) -> QuerySet[DeviceEvent]:
    """The operator's fault events of `code` (since `since`), newest first: what a page
    of occurrences is cut from."""
    events = operator_fault_events(operator_id).filter(fault_code=code)
    if since is not None:
        events = events.filter(timestamp__gte=since)
    return events.order_by("-timestamp", "-id")


# The newest `per_code` events of each code raised under the operator: a backward walk of
# the fault-code index per code, then the rows themselves. Bounded by codes times per_code.
_LATEST_EVENTS = """
SELECT e.*
FROM unnest(%(codes)s::text[]) AS c(code)
CROSS JOIN LATERAL (
    SELECT l.id
    FROM fleet_deviceevent l
    WHERE l.event_type = 'fault' AND l.fault_code = c.code AND l."timestamp" >= %(since)s
      AND l.operator_id = %(operator_id)s
    ORDER BY l."timestamp" DESC, l.id DESC
    LIMIT %(per_code)s
) latest
JOIN fleet_deviceevent e ON e.id = latest.id
ORDER BY e.fault_code, e."timestamp" DESC, e.id DESC
"""


def latest_events(
    operator_id: str | None, codes: Sequence[str], since: datetime | None, per_code: int
) -> dict[str, list[DeviceEvent]]:
    """For each code, the operator's `per_code` newest events of it (since `since`),
    newest first; one query."""
    if not operator_id or not codes or per_code < 1:
        return {}
    found: dict[str, list[DeviceEvent]] = {}
    if connection.vendor == "postgresql":
        params = {
            "codes": list(codes),
            "since": since or EARLIEST_EVENT,
            "operator_id": operator_id,
            "per_code": per_code,
        }
        rows = DeviceEvent.objects.raw(_LATEST_EVENTS, params)
    else:  # SQLite: numbered per code, at its sizes
        events = operator_fault_events(operator_id).filter(fault_code__in=list(codes))
        if since is not None:
            events = events.filter(timestamp__gte=since)
        rows = (
            events.annotate(
                rank=Window(
                    RowNumber(),
                    partition_by=[F("fault_code")],
                    order_by=[F("timestamp").desc(), F("id").desc()],
                )
            )
            .filter(rank__lte=per_code)
            .order_by("fault_code", "-timestamp", "-id")
        )
    for event in rows:
        found.setdefault(event.fault_code, []).append(event)
    return found


def occurrences(operator_id: str | None, events: Sequence[DeviceEvent]) -> list[Occurrence]:
    """The events (the operator's own, as read above) with their chargers, the firmware
    each ran at that moment and the telemetry around it: four queries for any number."""
    events = list(events)
    if not operator_id or not events:
        return []
    device_ids = {event.device_id for event in events}
    devices = {
        row["device_id"]: row
        for row in Device.objects.filter(device_id__in=device_ids).values(
            "device_id", "sn", "model", "firmware_version", "site__operator_id"
        )
    }
    firmware = firmware_at_events(events, devices)
    telemetry = telemetry_around(operator_id, events)
    result = []
    for event in events:
        device = devices.get(event.device_id, {})
        result.append(
            Occurrence(
                event_id=event.pk,
                fault_code=event.fault_code,
                device_id=event.device_id,
                sn=device.get("sn", ""),
                model=device.get("model", ""),
                in_fleet=device.get("site__operator_id") == operator_id,
                connector_id=event.connector_id,
                timestamp=event.timestamp,
                claimed_timestamp=event.claimed_timestamp,
                payload=event.data if isinstance(event.data, dict) else {"data": event.data},
                firmware_version=firmware.get(event.pk),
                telemetry=telemetry.get(event.pk, []),
            )
        )
    return result


# --- The firmware a charger ran at a moment --------------------------------------------------


def firmware_at(
    current: str, upgrades: Sequence[tuple[datetime, str, str]], moment: datetime
) -> str | None:
    """The firmware version a charger ran at `moment`, from its successful upgrades
    (time of the success report, version before, version after; in time order) and the
    version it runs now: the last upgrade's version up to the moment, else the version
    the first later upgrade replaced, else (never upgraded) the version it runs now.
    None when that version is not known (an upgrade that did not say what it replaced)."""
    before = [upgrade for upgrade in upgrades if upgrade[0] <= moment]
    if before:
        return before[-1][2] or None
    after = [upgrade for upgrade in upgrades if upgrade[0] > moment]
    if after:
        return after[0][1] or None
    return current or None


def firmware_at_events(
    events: Sequence[DeviceEvent], devices: dict[str, dict[str, Any]]
) -> dict[int, str | None]:
    """event id → the firmware its charger ran when the event happened (`firmware_at`),
    from the chargers' successful upgrades in one query. The upgrades are the charger's
    whoever owned it then: only the version at the event's moment, when the charger was
    the event's operator's, comes out of them."""
    upgrades: dict[str, list[tuple[datetime, str, str]]] = {}
    rows = (
        FirmwareUpdate.objects.filter(
            device_id__in={event.device_id for event in events},
            status=FirmwareUpdate.Status.SUCCESS,
        )
        .order_by("updated_at", "id")
        .values_list("device_id", "updated_at", "previous_version", "firmware_version")
    )
    for device_id, at, previous, version in rows:
        upgrades.setdefault(device_id, []).append((at, previous, version))
    return {
        event.pk: firmware_at(
            devices.get(event.device_id, {}).get("firmware_version", ""),
            upgrades.get(event.device_id, []),
            event.timestamp,
        )
        for event in events
    }


# --- Telemetry around an occurrence ----------------------------------------------------------

_SAMPLE_COLUMNS = (
    's.connector_id, s."timestamp", s.state, s.voltage, s.current, s.power, s.temperature'
)

# Per (occurrence, connector): the nearest samples at or before the moment and after it,
# within the window, stamped with the operator; two walks of the connector's time index.
_TELEMETRY_AROUND = f"""
SELECT w.key, near.*
FROM unnest(%(keys)s::bigint[], %(devices)s::text[], %(connectors)s::int[],
            %(moments)s::timestamptz[]) AS w(key, device_id, connector_id, moment)
CROSS JOIN LATERAL (
    (SELECT {_SAMPLE_COLUMNS} FROM fleet_telemetrysample s
     WHERE s.device_id = w.device_id AND s.connector_id = w.connector_id
       AND s.operator_id = %(operator_id)s
       AND s."timestamp" <= w.moment AND s."timestamp" >= w.moment - %(window)s
     ORDER BY s."timestamp" DESC LIMIT %(per_side)s)
    UNION ALL
    (SELECT {_SAMPLE_COLUMNS} FROM fleet_telemetrysample s
     WHERE s.device_id = w.device_id AND s.connector_id = w.connector_id
       AND s.operator_id = %(operator_id)s
       AND s."timestamp" > w.moment AND s."timestamp" <= w.moment + %(window)s
     ORDER BY s."timestamp" ASC LIMIT %(per_side)s)
) near
"""  # noqa: S608 - the only interpolation is the constant column list


def telemetry_around(operator_id: str, events: Sequence[DeviceEvent]) -> dict[int, list[Sample]]:
    """event id → the samples of its connector (every connector of the charger for
    connector 0) within TELEMETRY_WINDOW of it, the TELEMETRY_PER_SIDE nearest on each
    side, in time order; only samples stamped with the operator. Two queries."""
    whole_charger = {event.device_id for event in events if event.connector_id < 1}
    connectors: dict[str, list[int]] = {}
    if whole_charger:
        rows = (
            Connector.objects.filter(device_id__in=whole_charger)
            .order_by("device_id", "connector_id")
            .values_list("device_id", "connector_id")
        )
        for device_id, connector_id in rows:
            connectors.setdefault(device_id, []).append(connector_id)
    windows = [
        (event.pk, event.device_id, connector_id, event.timestamp)
        for event in events
        for connector_id in (
            [event.connector_id]
            if event.connector_id >= 1
            else connectors.get(event.device_id, [])[:CONNECTORS_PER_OCCURRENCE]
        )
    ]
    if not windows:
        return {}
    if connection.vendor == "postgresql":
        rows = _telemetry_postgresql(operator_id, windows)
    else:
        rows = _telemetry_orm(operator_id, windows)
    moments = {event.pk: event.timestamp for event in events}
    found: dict[int, list[Sample]] = {}
    for key, connector_id, at, state, voltage, current, power, temperature in rows:
        sample = Sample(
            connector_id, at, state, voltage, current, power, temperature, at - moments[key]
        )
        found.setdefault(key, []).append(sample)
    for samples in found.values():
        samples.sort(key=lambda sample: (sample.timestamp, sample.connector_id))
    return found


def _telemetry_postgresql(
    operator_id: str, windows: list[tuple[int, str, int, datetime]]
) -> list[tuple]:
    keys, devices, connectors, moments = (list(column) for column in zip(*windows, strict=True))
    params = {
        "keys": keys,
        "devices": devices,
        "connectors": connectors,
        "moments": moments,
        "operator_id": operator_id,
        "window": TELEMETRY_WINDOW,
        "per_side": TELEMETRY_PER_SIDE,
    }
    with connection.cursor() as cursor:
        cursor.execute(_TELEMETRY_AROUND, params)
        return cursor.fetchall()


def _telemetry_orm(operator_id: str, windows: list[tuple[int, str, int, datetime]]) -> list[tuple]:
    """The same answer on any database (SQLite): every sample in the windows, then the
    nearest kept here, which is fine at the sizes a single machine holds."""
    covering = Q()
    for _, device_id, connector_id, moment in windows:
        covering |= Q(
            device_id=device_id,
            connector_id=connector_id,
            timestamp__gte=moment - TELEMETRY_WINDOW,
            timestamp__lte=moment + TELEMETRY_WINDOW,
        )
    samples = (
        TelemetrySample.objects.filter(covering, operator_id=operator_id)
        .order_by("timestamp")
        .values_list(
            "device_id", "connector_id", "timestamp", "state", "voltage", "current", "power",
            "temperature",
        )
    )  # fmt: skip
    by_connector: dict[tuple[str, int], list[tuple]] = {}
    for row in samples:
        by_connector.setdefault((row[0], row[1]), []).append(row[1:])
    rows = []
    for key, device_id, connector_id, moment in windows:
        near = [
            row
            for row in by_connector.get((device_id, connector_id), [])
            if abs(row[1] - moment) <= TELEMETRY_WINDOW
        ]
        before = [row for row in near if row[1] <= moment][-TELEMETRY_PER_SIDE:]
        after = [row for row in near if row[1] > moment][:TELEMETRY_PER_SIDE]
        rows.extend((key, *row) for row in before + after)
    return rows
