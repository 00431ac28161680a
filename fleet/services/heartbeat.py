"""Heartbeats: liveness, the charger's own claimed status, and pending commands."""

from dataclasses import dataclass
from datetime import datetime

from asgiref.sync import sync_to_async
from django.db import transaction
from django.utils import timezone

from fleet import db
from fleet.live import messages
from fleet.live.publish import publish_device_message
from fleet.models import ConnectivityChange, Device
from fleet.services.commands import Delivery, claim_commands


@dataclass(frozen=True)
class Heartbeat:
    timestamp: datetime
    status: str
    fault_code: int


def record_heartbeat_orm(device_id: str, beat: Heartbeat, now: datetime) -> bool:
    """Reference implementation. Returns True when the device came (back) online."""
    with transaction.atomic():
        device = Device.objects.select_for_update().get(device_id=device_id)
        came_online = device.status == Device.Status.OFFLINE
        device.last_heartbeat = now
        device.reported_status = beat.status
        device.reported_fault_code = beat.fault_code
        device.status = Device.Status.ONLINE
        if came_online:
            device.online_since = now
            ConnectivityChange.objects.create(device=device, status=Device.Status.ONLINE, at=now)
        device.save()
    return came_online


_HEARTBEAT_SQL = """
WITH previous AS (
    SELECT device_id, status FROM fleet_device WHERE device_id = %(device_id)s FOR UPDATE
), updated AS (
    UPDATE fleet_device AS d SET
        last_heartbeat = %(now)s, reported_status = %(status)s,
        reported_fault_code = %(fault_code)s, status = 'online', updated_at = %(now)s,
        online_since = CASE WHEN previous.status = 'offline' THEN %(now)s ELSE d.online_since END
    FROM previous WHERE d.device_id = previous.device_id
    RETURNING previous.status AS was
)
INSERT INTO fleet_connectivitychange (device_id, status, "at")
SELECT %(device_id)s, 'online', %(now)s FROM updated WHERE updated.was = 'offline'
RETURNING id
"""


async def _record_heartbeat_pg(device_id: str, beat: Heartbeat, now: datetime) -> bool:
    params = {
        "device_id": device_id,
        "now": now,
        "status": beat.status,
        "fault_code": beat.fault_code,
    }
    async with (await db.pg_pool()).connection() as conn:
        rows = await (await conn.execute(_HEARTBEAT_SQL, params)).fetchall()
    return bool(rows)


async def record_heartbeat(device_id: str, beat: Heartbeat) -> list[Delivery]:
    """Mark the device alive (server time is what liveness is judged by) and hand over
    every command waiting for it."""
    now = timezone.now()
    if db.uses_postgres():
        came_online = await _record_heartbeat_pg(device_id, beat, now)
    else:
        came_online = await sync_to_async(record_heartbeat_orm)(device_id, beat, now)
    if came_online:
        await publish_device_message(device_id, messages.device_status(device_id, "online"))
    return await claim_commands(device_id, via="heartbeat")
