"""Telemetry ingest: store the sample, move the connector's live state, tell watchers."""

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from psycopg.types.json import Jsonb

from fleet import db
from fleet.errors import InvalidParameter
from fleet.models import Connector, TelemetrySample
from fleet.services.live import publish_device_message


@dataclass(frozen=True)
class TelemetryReading:
    timestamp: datetime
    connector_id: int
    state: str
    voltage: float
    current: float
    power: float
    energy_delivered: float
    soc: int | None = None
    temperature: float | None = None
    phase_details: dict[str, Any] | None = None
    component_health: dict[str, Any] | None = None
    extra: dict[str, Any] | None = None


def check_clock(reading: TelemetryReading, now: datetime) -> None:
    """Samples from the future beyond the tolerated skew point at a broken clock."""
    limit = now + timedelta(seconds=settings.TELLUS_CLOCK_SKEW_SECONDS)
    if reading.timestamp > limit:
        raise InvalidParameter(
            "timestamp",
            reading.timestamp.isoformat(),
            f"timestamp is more than {settings.TELLUS_CLOCK_SKEW_SECONDS} s in the future",
        )


def record_telemetry_orm(device_id: str, reading: TelemetryReading, received_at: datetime) -> None:
    """Reference implementation (and the SQLite one)."""
    with transaction.atomic():
        TelemetrySample.objects.create(
            device_id=device_id, received_at=received_at, **asdict(reading)
        )
        live = {
            "state": reading.state,
            "power": reading.power,
            "voltage": reading.voltage,
            "current": reading.current,
            "energy_delivered": reading.energy_delivered,
            "soc": reading.soc,
            "temperature": reading.temperature,
            "last_telemetry_time": reading.timestamp,
        }
        connector, created = Connector.objects.select_for_update().get_or_create(
            device_id=device_id, connector_id=reading.connector_id, defaults=live
        )
        # An older sample arriving late is history, not the live state.
        if not created and (
            connector.last_telemetry_time is None
            or connector.last_telemetry_time <= reading.timestamp
        ):
            for field, value in live.items():
                setattr(connector, field, value)
            connector.save()


# One round trip: insert the sample and upsert the connector snapshot.
_TELEMETRY_SQL = """
WITH sample AS (
    INSERT INTO fleet_telemetrysample
        (device_id, connector_id, "timestamp", received_at, state, voltage, "current", power,
         energy_delivered, soc, temperature, phase_details, component_health, extra)
    VALUES (%(device_id)s, %(connector_id)s, %(timestamp)s, %(received_at)s, %(state)s,
            %(voltage)s, %(current)s, %(power)s, %(energy_delivered)s, %(soc)s, %(temperature)s,
            %(phase_details)s, %(component_health)s, %(extra)s)
)
INSERT INTO fleet_connector
    (device_id, connector_id, state, power, voltage, "current", energy_delivered, soc,
     temperature, last_telemetry_time, updated_at)
VALUES (%(device_id)s, %(connector_id)s, %(state)s, %(power)s, %(voltage)s, %(current)s,
        %(energy_delivered)s, %(soc)s, %(temperature)s, %(timestamp)s, %(received_at)s)
ON CONFLICT (device_id, connector_id) DO UPDATE SET
    state = EXCLUDED.state, power = EXCLUDED.power, voltage = EXCLUDED.voltage,
    "current" = EXCLUDED."current", energy_delivered = EXCLUDED.energy_delivered,
    soc = EXCLUDED.soc, temperature = EXCLUDED.temperature,
    last_telemetry_time = EXCLUDED.last_telemetry_time, updated_at = EXCLUDED.updated_at
WHERE fleet_connector.last_telemetry_time IS NULL
   OR fleet_connector.last_telemetry_time <= EXCLUDED.last_telemetry_time
"""


def _jsonb(value: dict[str, Any] | None) -> Jsonb | None:
    return None if value is None else Jsonb(value, dumps=_dumps)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


async def _record_telemetry_pg(device_id: str, reading: TelemetryReading, received_at: datetime):
    params = {
        **asdict(reading),
        "device_id": device_id,
        "received_at": received_at,
        "phase_details": _jsonb(reading.phase_details),
        "component_health": _jsonb(reading.component_health),
        "extra": _jsonb(reading.extra),
    }
    async with (await db.pg_pool()).connection() as conn:
        await conn.execute(_TELEMETRY_SQL, params)


async def record_telemetry(device_id: str, reading: TelemetryReading) -> None:
    """Durably store one sample, then publish it to the device's live group."""
    now = timezone.now()
    check_clock(reading, now)
    if db.uses_postgres():
        await _record_telemetry_pg(device_id, reading, now)
    else:
        await sync_to_async(record_telemetry_orm)(device_id, reading, now)
    await publish_device_message(
        device_id,
        {
            "type": "telemetry.sample",
            "device_id": device_id,
            "timestamp": reading.timestamp.isoformat(),
            "connector": {
                "connector_id": reading.connector_id,
                "state": reading.state,
                "power": reading.power,
                "energy_delivered": reading.energy_delivered,
                "soc": reading.soc,
                "voltage": reading.voltage,
                "current": reading.current,
                "temperature": reading.temperature,
            },
        },
    )
