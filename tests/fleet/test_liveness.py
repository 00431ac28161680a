"""Heartbeat loss (F-0301) and reconnect storms (F-0302), derived by the platform."""

from datetime import timedelta

import pytest
from django.utils import timezone

from fleet.models import ConnectivityChange, Device, DeviceEvent
from fleet.services import liveness

pytestmark = pytest.mark.django_db


def test_silent_devices_go_offline_with_a_platform_f0301(device, settings):
    settings.TELLUS_OFFLINE_AFTER_SECONDS = 90
    now = timezone.now()
    Device.objects.filter(pk=device.pk).update(
        status="online", last_heartbeat=now - timedelta(seconds=91)
    )
    assert liveness.mark_offline(now) == [device.device_id]
    device.refresh_from_db()
    assert (device.status, device.offline_since) == ("offline", now)
    assert ConnectivityChange.objects.filter(device=device, status="offline", at=now).exists()
    (event,) = DeviceEvent.objects.filter(device=device)
    assert (event.fault_code, event.source, event.connector_id) == ("F-0301", "platform", 0)
    assert liveness.mark_offline(now + timedelta(minutes=5)) == []  # once


def test_fresh_devices_stay_online(device):
    now = timezone.now()
    Device.objects.filter(pk=device.pk).update(
        status="online", last_heartbeat=now - timedelta(seconds=30)
    )
    assert liveness.mark_offline(now) == []


def test_reconnect_storm_is_recorded_once_per_window(device, settings):
    settings.TELLUS_RECONNECT_STORM_THRESHOLD = 5
    settings.TELLUS_RECONNECT_STORM_WINDOW_SECONDS = 600
    now = timezone.now()
    for minutes in range(5):
        ConnectivityChange.objects.create(
            device=device, status="online", at=now - timedelta(minutes=minutes)
        )
    assert liveness.detect_reconnect_storms(now) == []  # five is not more than five
    ConnectivityChange.objects.create(device=device, status="online", at=now)
    assert liveness.detect_reconnect_storms(now) == [device.device_id]
    assert liveness.detect_reconnect_storms(now + timedelta(seconds=30)) == []
    event = DeviceEvent.objects.get(fault_code="F-0302")
    assert event.source == "platform"
    assert event.data["details"]["reconnects"] == 6


def test_old_reconnects_do_not_count(device, settings):
    settings.TELLUS_RECONNECT_STORM_THRESHOLD = 5
    now = timezone.now()
    for minutes in range(10):
        ConnectivityChange.objects.create(
            device=device, status="online", at=now - timedelta(minutes=20 + minutes)
        )
    assert liveness.detect_reconnect_storms(now) == []
