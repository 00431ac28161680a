"""Heartbeats: liveness, the charger's own claimed status, and pending commands."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from asgiref.sync import sync_to_async
from django.conf import settings
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


def _gap_start(now: datetime) -> datetime:
    """Heartbeats before this mean the device was away: this one is a reconnect
    (decision: reconnects), even if the offline grace has not yet run out."""
    return now - timedelta(seconds=settings.TELLUS_RECONNECT_GAP_SECONDS)


def record_heartbeat_orm(device_id: str, beat: Heartbeat, now: datetime) -> bool:
    """Reference implementation. Returns True when the device came (back) online."""
    with transaction.atomic():
        device = Device.objects.select_for_update().get(device_id=device_id)
        came_online = device.status == Device.Status.OFFLINE
        returned = device.last_heartbeat is not None and device.last_heartbeat < _gap_start(now)
        device.last_heartbeat = now
        device.reported_status = beat.status
        device.reported_fault_code = beat.fault_code
        device.status = Device.Status.ONLINE
        if came_online:
            device.online_since = now
        if came_online or returned:
            ConnectivityChange.objects.create(device=device, status=Device.Status.ONLINE, at=now)
        device.save()
    return came_online


_HEARTBEAT_SQL = """
WITH previous AS (
    SELECT device_id, status, last_heartbeat FROM fleet_device
    WHERE device_id = %(device_id)s FOR UPDATE
), updated AS (
    UPDATE fleet_device AS d SET
        last_heartbeat = %(now)s, reported_status = %(status)s,
        reported_fault_code = %(fault_code)s, status = 'online', updated_at = %(now)s,
        online_since = CASE WHEN previous.status = 'offline' THEN %(now)s ELSE d.online_since END
    FROM previous WHERE d.device_id = previous.device_id
    RETURNING previous.status AS was, previous.last_heartbeat AS last, d.site_id
), reconnected AS (
    -- Stamped with the operator owning the charger now (fleet/models/stamps.py).
    INSERT INTO fleet_connectivitychange (device_id, status, "at", operator_id)
    SELECT %(device_id)s, 'online', %(now)s, s.operator_id
    FROM updated LEFT JOIN fleet_site s ON s.site_id = updated.site_id
    WHERE updated.was = 'offline' OR updated.last < %(gap_start)s
)
SELECT was = 'offline' FROM updated
"""


async def _record_heartbeat_pg(device_id: str, beat: Heartbeat, now: datetime) -> bool:
    params = {
        "device_id": device_id,
        "now": now,
        "status": beat.status,
        "fault_code": beat.fault_code,
        "gap_start": _gap_start(now),
    }
    async with (await db.pg_pool()).connection() as conn:
        row = await (await conn.execute(_HEARTBEAT_SQL, params)).fetchone()
    return bool(row and row[0])


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
