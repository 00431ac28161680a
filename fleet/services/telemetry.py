"""Telemetry ingest: store the sample, move the connector's live state, tell watchers."""

import asyncio
import json
import sys
from datetime import datetime, timedelta
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from psycopg.types.json import Jsonb

from fleet import db, telemetry_fields
from fleet.errors import InvalidParameter
from fleet.live import messages
from fleet.live.publish import publish_device_message
from fleet.models import Connector, TelemetrySample
from fleet.pools import PerLoop
from fleet.telemetry_fields import TelemetryField, TelemetryReading


def check_clock(reading: TelemetryReading, now: datetime) -> None:
    """Samples from the future beyond the tolerated skew point at a broken clock."""
    limit = now + timedelta(seconds=settings.TELLUS_CLOCK_SKEW_SECONDS)
    if reading["timestamp"] > limit:
        raise InvalidParameter(
            "timestamp",
            reading["timestamp"].isoformat(),
            f"timestamp is more than {settings.TELLUS_CLOCK_SKEW_SECONDS} s in the future",
        )


def _snapshot(reading: TelemetryReading) -> dict[str, Any]:
    return {column: reading[name] for name, column in telemetry_fields.SNAPSHOT.items()}


def record_telemetry_orm(device_id: str, reading: TelemetryReading, received_at: datetime) -> None:
    """Reference implementation (and the SQLite one)."""
    with transaction.atomic():
        TelemetrySample.objects.create(device_id=device_id, received_at=received_at, **reading)
        snapshot = _snapshot(reading)
        connector, created = Connector.objects.select_for_update().get_or_create(
            device_id=device_id, connector_id=reading["connector_id"], defaults=snapshot
        )
        # An older sample arriving late is history, not the live state.
        if not created and (
            connector.last_telemetry_time is None
            or connector.last_telemetry_time <= reading["timestamp"]
        ):
            for field, value in snapshot.items():
                setattr(connector, field, value)
            connector.save()


# A stored sample's columns: the telemetry fields and the row's own (who sent it, when it
# arrived, what else it held).
_ROW: tuple[TelemetryField, ...] = (
    TelemetryField("device_id", "varchar"),
    TelemetryField("received_at", "timestamptz"),
    *telemetry_fields.FIELDS,
    TelemetryField("extra", "jsonb"),
)
_COLUMNS = tuple(f.name for f in _ROW)
_JSON_COLUMNS = frozenset(f.name for f in _ROW if f.sql_type == "jsonb")


def _batch_sql() -> str:
    """Many samples in one statement: insert them all (each stamped with its charger's
    owner), then upsert each connector's
    snapshot from its newest sample in the batch (a connector may appear more than once).
    Built once at import from the field definitions; every identifier is quoted, since
    `current` and `timestamp` are SQL keywords."""
    columns = ", ".join(f'"{column}"' for column in _COLUMNS)
    arrays = ", ".join(f"%({f.name})s::{f.sql_type}[]" for f in _ROW)
    snapshot = telemetry_fields.SNAPSHOT
    targets = ", ".join(f'"{column}"' for column in snapshot.values())
    sources = ", ".join(f'"{name}"' for name in snapshot)
    updates = ", ".join(f'"{column}" = EXCLUDED."{column}"' for column in snapshot.values())
    # Identifiers from the definitions above only; every value is a bound parameter.
    # Each sample is stamped with the operator and site owning its charger as it is
    # stored (fleet/models/stamps.py); a charger on no site stamps NULL.
    stamped = ", ".join(f'b."{column}"' for column in _COLUMNS)
    return f"""
WITH batch AS (
    SELECT * FROM unnest({arrays}) AS b({columns})
), samples AS (
    INSERT INTO fleet_telemetrysample ({columns}, "operator_id", "site_id")
    SELECT {stamped}, s."operator_id", d."site_id"
    FROM batch b
    LEFT JOIN fleet_device d ON d."device_id" = b."device_id"
    LEFT JOIN fleet_site s ON s."site_id" = d."site_id"
)
INSERT INTO fleet_connector ("device_id", "connector_id", {targets}, "updated_at")
SELECT DISTINCT ON ("device_id", "connector_id")
       "device_id", "connector_id", {sources}, "received_at"
FROM batch ORDER BY "device_id", "connector_id", "timestamp" DESC
ON CONFLICT ("device_id", "connector_id") DO UPDATE SET
    {updates}, "updated_at" = EXCLUDED."updated_at"
WHERE fleet_connector.last_telemetry_time IS NULL
   OR fleet_connector.last_telemetry_time <= EXCLUDED.last_telemetry_time
"""  # noqa: S608


_BATCH_SQL = _batch_sql()
MAX_BATCH = 500


def _jsonb(value: dict[str, Any] | None) -> Jsonb | None:
    return None if value is None else Jsonb(value, dumps=_dumps)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


async def _write_batch(rows: list[dict[str, Any]]) -> None:
    params = {
        column: [_jsonb(row[column]) for row in rows]
        if column in _JSON_COLUMNS
        else [row[column] for row in rows]
        for column in _COLUMNS
    }
    async with (await db.pg_pool()).connection() as conn:
        await conn.execute(_BATCH_SQL, params)


class TelemetryWriter:
    """Group commit for telemetry on PostgreSQL.

    Samples arriving while a batch is being written wait for the next batch, which is
    one statement and one commit for all of them. Each request still answers only after
    its own sample is committed, so nothing acknowledged can be lost; under load the
    database does one round trip per batch instead of one per sample. A failing batch is
    retried row by row so one bad sample fails only its own request.
    """

    def __init__(self) -> None:
        self._pending: list[tuple[dict[str, Any], asyncio.Future]] = []
        self._running: asyncio.Task | None = None

    async def write(self, row: dict[str, Any]) -> None:
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        self._pending.append((row, done))
        if self._running is None or self._running.done():
            self._running = loop.create_task(self._drain())
        await asyncio.shield(done)

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            try:
                await _write_batch([row for row, _ in batch])
            except Exception:
                if len(batch) == 1:
                    _settle(batch[0][1], sys.exc_info()[1])
                    continue
                for row, done in batch:
                    try:
                        await _write_batch([row])
                    except Exception as exc:
                        _settle(done, exc)
                    else:
                        _settle(done, None)
            else:
                for _, done in batch:
                    _settle(done, None)


def _settle(done: asyncio.Future, error: BaseException | None) -> None:
    if done.done():
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)


_writers = PerLoop(TelemetryWriter)


def _writer() -> TelemetryWriter:
    return _writers.get()


async def _record_telemetry_pg(device_id: str, reading: TelemetryReading, received_at: datetime):
    # A shallow copy: the JSON blocks are not copied (a deep copy was a tenth of the hot
    # path's CPU time when profiled).
    await _writer().write({**reading, "device_id": device_id, "received_at": received_at})


async def record_telemetry(device_id: str, reading: TelemetryReading) -> None:
    """Durably store one sample, then publish it to the device's live group."""
    now = timezone.now()
    check_clock(reading, now)
    if db.uses_postgres():
        await _record_telemetry_pg(device_id, reading, now)
    else:
        await sync_to_async(record_telemetry_orm)(device_id, reading, now)
    await publish_device_message(device_id, messages.telemetry_sample(device_id, reading))
