"""Device liveness judged by the platform: heartbeat loss (F-0301) and reconnect storms (F-0302),
recorded as platform-derived fault events (decisions: platform-faults, reconnects)."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Q

from fleet.live import messages
from fleet.live.publish import publish_device_message_sync
from fleet.models import ConnectivityChange, Device, DeviceEvent

HEARTBEAT_LOST = "F-0301"
RECONNECT_STORM = "F-0302"


def _platform_fault(
    device_id: str, code: str, message: str, at: datetime, details: dict
) -> DeviceEvent:
    """Store the fault and, once committed, tell the device's watchers as for a reported
    event."""
    event = DeviceEvent.objects.create(
        device_id=device_id,
        connector_id=0,
        event_type="fault",
        timestamp=at,
        fault_code=code,
        source=DeviceEvent.Source.PLATFORM,
        data={"fault_code": code, "fault_message": message, "details": details},
    )
    transaction.on_commit(
        lambda: publish_device_message_sync(device_id, messages.device_event(event))
    )
    return event


def mark_offline(now: datetime) -> list[str]:
    """Online devices silent for TELLUS_OFFLINE_AFTER_SECONDS go offline, with the
    transition timestamped and an F-0301 event."""
    limit = now - timedelta(seconds=settings.TELLUS_OFFLINE_AFTER_SECONDS)
    with transaction.atomic():
        stale = list(
            Device.objects.select_for_update(skip_locked=True)
            .filter(status=Device.Status.ONLINE, last_heartbeat__lt=limit)
            .values_list("device_id", "last_heartbeat")[:1000]
        )
        for device_id, last_heartbeat in stale:
            Device.objects.filter(device_id=device_id).update(
                status=Device.Status.OFFLINE, offline_since=now
            )
            ConnectivityChange.objects.create(
                device_id=device_id, status=Device.Status.OFFLINE, at=now
            )
            _platform_fault(
                device_id,
                HEARTBEAT_LOST,
                "Heartbeat lost",
                now,
                {
                    "last_heartbeat": last_heartbeat.isoformat(),
                    "offline_after_seconds": settings.TELLUS_OFFLINE_AFTER_SECONDS,
                },
            )
    for device_id, _ in stale:
        publish_device_message_sync(device_id, messages.device_status(device_id, "offline"))
    return [device_id for device_id, _ in stale]


def detect_reconnect_storms(now: datetime) -> list[str]:
    """More than TELLUS_RECONNECT_STORM_THRESHOLD offline→online transitions within the
    window → one F-0302 per device per window."""
    window_start = now - timedelta(seconds=settings.TELLUS_RECONNECT_STORM_WINDOW_SECONDS)
    threshold = settings.TELLUS_RECONNECT_STORM_THRESHOLD
    # Only reconnects under the device's current operator (or, off site, nobody's): a
    # charger handed over does not bring its old operator's flapping into the new one's.
    current = Q(operator_id=F("device__site__operator_id")) | Q(
        operator_id__isnull=True, device__site__isnull=True
    )
    stormy = (
        ConnectivityChange.objects.filter(
            current, status=Device.Status.ONLINE, at__gte=window_start
        )
        .values("device_id")
        .annotate(reconnects=Count("id"))
        .filter(reconnects__gt=threshold)
    )
    recorded = []
    for row in stormy:
        already = DeviceEvent.objects.filter(
            device_id=row["device_id"],
            fault_code=RECONNECT_STORM,
            source=DeviceEvent.Source.PLATFORM,
            timestamp__gte=window_start,
        ).exists()
        if not already:
            _platform_fault(
                row["device_id"],
                RECONNECT_STORM,
                "Reconnect storm",
                now,
                {
                    "reconnects": row["reconnects"],
                    "window_seconds": settings.TELLUS_RECONNECT_STORM_WINDOW_SECONDS,
                },
            )
            recorded.append(row["device_id"])
    return recorded
